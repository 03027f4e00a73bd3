//! `wss://` with the blocking client against a local TLS echo server whose PKI is made at test
//! time: trust, certificate failures that must not be retried, SNI and ALPN on the wire.
#![cfg(all(feature = "blocking", feature = "rustls"))]

mod support;

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use resock::ClientBuilder;
use resock::core::session::{ClosedReason, DisconnectReason, ReconnectPolicy, SessionState, TransportErrorKind};
use resock::tls::TlsOptions;
use resock::{CloseCode, Message};

use support::tls_server::{Hello, TestCa, spawn_tls};
use support::ws_server::{Server, accept, echo};
use support::{PATIENCE, expect_event, expect_open};

/// A TLS echo server on 127.0.0.1 with a certificate for `names` signed by `ca`.
fn tls_echo(ca: &TestCa, names: &[&str]) -> (Server, mpsc::Receiver<Hello>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    spawn_tls(listener, ca.leaf(names), |tls| {
        if let Some(mut ws) = accept(tls) {
            echo(&mut ws);
        }
    })
}

/// Retries would come every 10 ms, so a retried certificate failure would show up at once.
fn builder(url: &str, trusted: &TestCa) -> ClientBuilder {
    let tls = TlsOptions::no_default_roots()
        .add_root_pem(trusted.pem().as_bytes())
        .unwrap();
    ClientBuilder::new(url)
        .unwrap()
        .tls(tls)
        .reconnect(ReconnectPolicy::fixed(Duration::from_millis(10)))
}

fn echo_once(client: &mut resock::blocking_client::Client) {
    client.send_text("over TLS").unwrap();
    assert_eq!(client.recv(), Some(Message::text("over TLS")));
    let payload = vec![7u8; 300_000];
    client.send_binary(payload.clone()).unwrap();
    assert_eq!(client.recv(), Some(Message::binary(payload)));
    assert!(client.close(CloseCode::NORMAL, "done"));
}

#[test]
fn a_trusted_root_gives_a_working_echo_with_sni_and_alpn_http11() {
    let ca = TestCa::new("resock test CA");
    let (server, hellos) = tls_echo(&ca, &["localhost", "127.0.0.1"]);
    let url = format!("wss://localhost:{}/", server.addr().port());
    let mut client = builder(&url, &ca).connect_blocking().unwrap();
    assert_eq!(expect_open(&mut client), None);
    echo_once(&mut client);
    let hello = hellos.recv_timeout(PATIENCE).unwrap();
    assert_eq!(hello.handshake, Ok(()));
    assert_eq!(hello.sni.as_deref(), Some("localhost"));
    assert_eq!(hello.alpn, vec![b"http/1.1".to_vec()]);
    server.stop();
}

#[test]
fn an_ip_literal_sends_no_sni_and_is_checked_against_ip_names() {
    let ca = TestCa::new("resock test CA");
    let (server, hellos) = tls_echo(&ca, &["localhost", "127.0.0.1"]);
    let url = format!("wss://127.0.0.1:{}/", server.addr().port());
    let mut client = builder(&url, &ca).connect_blocking().unwrap();
    expect_open(&mut client);
    echo_once(&mut client);
    let hello = hellos.recv_timeout(PATIENCE).unwrap();
    assert_eq!(hello.handshake, Ok(()));
    assert_eq!(hello.sni, None);
    assert_eq!(hello.alpn, vec![b"http/1.1".to_vec()]);
    server.stop();
}

/// Drives the client to its end and checks it closed for good on a certificate error after
/// exactly one attempt.
fn expect_fatal_certificate_error(
    client: &mut resock::blocking_client::Client,
    server: Server,
    hellos: &mpsc::Receiver<Hello>,
) -> String {
    let state = expect_event(client, "Closed state", |e| {
        matches!(
            e,
            resock::core::session::SessionEvent::StateChanged(SessionState::Closed(_))
        )
    });
    let message = match state {
        resock::core::session::SessionEvent::StateChanged(SessionState::Closed(ClosedReason::Fatal(
            DisconnectReason::Transport(error),
        ))) => {
            assert_eq!(error.kind, TransportErrorKind::TlsCertificate, "{error}");
            error.message
        }
        other => panic!("expected a fatal certificate error, got {other:?}"),
    };
    assert!(client.is_closed());
    assert!(client.send_text("late").is_err());
    // Drain the rest; the session must not start another attempt.
    while client.next_event_timeout(Duration::from_millis(50)).is_some() {}
    server.stop();
    let attempts: Vec<Hello> = hellos.try_iter().collect();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert!(attempts[0].handshake.is_err(), "{attempts:?}");
    message
}

#[test]
fn an_unknown_root_is_a_fatal_certificate_error() {
    let server_ca = TestCa::new("the server's CA");
    let other_ca = TestCa::new("some other CA");
    let (server, hellos) = tls_echo(&server_ca, &["localhost", "127.0.0.1"]);
    let url = format!("wss://localhost:{}/", server.addr().port());
    let mut client = builder(&url, &other_ca).connect_blocking().unwrap();
    let message = expect_fatal_certificate_error(&mut client, server, &hellos);
    assert!(
        message.to_lowercase().contains("unknown issuer") || message.contains("UnknownIssuer"),
        "{message}"
    );
}

#[test]
fn a_certificate_for_another_name_is_a_fatal_certificate_error() {
    let ca = TestCa::new("resock test CA");
    let (server, hellos) = tls_echo(&ca, &["other.example"]);
    let url = format!("wss://localhost:{}/", server.addr().port());
    let mut client = builder(&url, &ca).connect_blocking().unwrap();
    let message = expect_fatal_certificate_error(&mut client, server, &hellos);
    assert!(message.contains("not valid for name"), "{message}");
}
