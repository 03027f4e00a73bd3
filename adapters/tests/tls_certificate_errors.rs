//! Every way a server's certificate is refused, on every session runtime: the session stops
//! for good after one attempt, with a [`CertificateErrorKind`] a program can match and a
//! sentence that names the host and says what to do.
#![cfg(all(feature = "blocking", feature = "rustls"))]

#[macro_use]
mod support;

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use rcgen::date_time_ymd;
use resock::ClientBuilder;
use resock::core::session::{
    CertificateError, CertificateErrorKind, DisconnectReason, HeartbeatConfig, ReconnectPolicy, TransportErrorKind,
};
use resock::tls::TlsOptions;

use support::runtimes::{Runtime, run};
use support::tls_server::{Hello, Leaf, TestCa, spawn_tls};
use support::ws_server::{Server, accept, echo};

/// Connects on `runtime` to a TLS echo server presenting `leaf`, as `host`, trusting only
/// `trusted` (PEM), with retries every 10 ms; the session must end fatally after exactly one
/// attempt with a certificate error, which is returned.
fn refused(runtime: Runtime, leaf: Leaf, host: &str, trusted: &str) -> CertificateError {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (server, hellos): (Server, mpsc::Receiver<Hello>) = spawn_tls(listener, leaf, |tls| {
        if let Some(mut ws) = accept(tls) {
            echo(&mut ws);
        }
    });
    let tls = TlsOptions::no_default_roots().add_root_pem(trusted.as_bytes()).unwrap();
    let builder = ClientBuilder::new(&format!("wss://{host}:{}/", server.addr().port()))
        .unwrap()
        .tls(tls)
        .heartbeat(HeartbeatConfig::disabled())
        .reconnect(ReconnectPolicy::fixed(Duration::from_millis(10)));
    let transcript = run(runtime, builder, None, |_| false);
    server.stop();
    let attempts: Vec<Hello> = hellos.try_iter().collect();
    assert_eq!(attempts.len(), 1, "one attempt, not retried: {attempts:?}");
    assert!(attempts[0].handshake.is_err(), "{attempts:?}");
    assert_eq!(transcript.opened, 0);
    let DisconnectReason::Transport(error) = transcript.fatal_reason() else {
        panic!("{transcript:#?}");
    };
    assert_eq!(error.kind, TransportErrorKind::TlsCertificate, "{error:?}");
    let certificate = error.certificate().expect("the certificate error").clone();
    assert_eq!(error.message, certificate.to_string());
    assert_eq!(certificate.host, host);
    assert!(
        !error.message.contains("Other") && !error.message.contains("Error"),
        "{error:?}"
    );
    certificate
}

fn unknown_issuer(runtime: Runtime) {
    let server_ca = TestCa::new("the server's CA");
    let other_ca = TestCa::new("some other CA");
    let error = refused(runtime, server_ca.leaf(&["localhost"]), "localhost", &other_ca.pem());
    assert_eq!(error.kind, CertificateErrorKind::UnknownIssuer);
    assert_eq!(
        error.to_string(),
        "the server's certificate for localhost is signed by an unknown authority; pass its CA \
         with --cacert or TlsOptions::add_root_pem"
    );
}

fn name_mismatch(runtime: Runtime) {
    let ca = TestCa::new("resock test CA");
    let error = refused(runtime, ca.leaf(&["other.example", "10.9.8.7"]), "localhost", &ca.pem());
    assert_eq!(
        error.kind,
        CertificateErrorKind::NameMismatch {
            presented: vec!["other.example".to_owned(), "10.9.8.7".to_owned()]
        }
    );
    assert!(
        error
            .to_string()
            .starts_with("the server's certificate is for other.example, 10.9.8.7, not localhost"),
        "{error}"
    );
}

fn an_ip_literal_is_not_matched_against_dns_names(runtime: Runtime) {
    let ca = TestCa::new("resock test CA");
    let error = refused(runtime, ca.leaf(&["localhost"]), "127.0.0.1", &ca.pem());
    assert_eq!(
        error.kind,
        CertificateErrorKind::NameMismatch {
            presented: vec!["localhost".to_owned()]
        }
    );
}

fn expired(runtime: Runtime) {
    let ca = TestCa::new("resock test CA");
    let leaf = ca.leaf_with(&["localhost"], |p| {
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2021, 1, 1);
    });
    let error = refused(runtime, leaf, "localhost", &ca.pem());
    let CertificateErrorKind::Expired { not_after, checked_at } = error.kind else {
        panic!("{error:?}");
    };
    assert_eq!(
        not_after,
        Some(std::time::UNIX_EPOCH + Duration::from_secs(1_609_459_200))
    );
    assert!(checked_at > not_after, "{error:?}");
    let sentence = error.to_string();
    assert!(
        sentence.starts_with("the server's certificate for localhost expired "),
        "{sentence}"
    );
    assert!(
        sentence.ends_with(" days ago; renew it, or check this computer's clock"),
        "{sentence}"
    );
}

fn not_yet_valid(runtime: Runtime) {
    let ca = TestCa::new("resock test CA");
    let leaf = ca.leaf_with(&["localhost"], |p| {
        p.not_before = date_time_ymd(2090, 1, 1);
        p.not_after = date_time_ymd(2091, 1, 1);
    });
    let error = refused(runtime, leaf, "localhost", &ca.pem());
    assert!(
        matches!(error.kind, CertificateErrorKind::NotYetValid { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("becomes valid only in"), "{error}");
}

/// A self-signed `CA:TRUE` certificate the client was not given: webpki's `CaUsedAsEndEntity`,
/// with a sentence that says how to trust it.
fn an_untrusted_self_signed_ca(runtime: Runtime) {
    let other_ca = TestCa::new("some other CA");
    let error = refused(
        runtime,
        Leaf::self_signed_ca(&["localhost"]),
        "localhost",
        &other_ca.pem(),
    );
    assert_eq!(error.kind, CertificateErrorKind::CaUsedAsEndEntity);
    assert!(
        error.to_string().contains("pass that exact file with --cacert"),
        "{error}"
    );
}

/// A pinned self-signed certificate is still checked for its dates.
fn an_expired_pinned_certificate(runtime: Runtime) {
    let leaf = Leaf::self_signed_ca_with(&["localhost"], |p| {
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2021, 1, 1);
    });
    let pem = leaf.pem.clone();
    let error = refused(runtime, leaf, "localhost", &pem);
    assert!(matches!(error.kind, CertificateErrorKind::Expired { .. }), "{error:?}");
}

on_every_session_runtime!(
    unknown_issuer,
    name_mismatch,
    an_ip_literal_is_not_matched_against_dns_names,
    expired,
    not_yet_valid,
    an_untrusted_self_signed_ca,
    an_expired_pinned_certificate,
);
