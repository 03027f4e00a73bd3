//! The certificate every developer makes first: a self-signed certificate, marked as a CA
//! (`basicConstraints CA:TRUE`, as `openssl req -x509` makes it), passed as the trusted root.
//! It must work on every runtime (the blocking session client, `blocking::WebSocket`, smol,
//! async-std, tokio), made by rcgen and by the real `openssl req`, while the host name is still
//! checked.
#![cfg(all(feature = "blocking", feature = "rustls"))]

#[macro_use]
mod support;

use std::io::{self, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use resock::ClientBuilder;
use resock::blocking::WebSocket;
use resock::core::session::{CertificateErrorKind, DisconnectReason, HeartbeatConfig, ReconnectPolicy};
use resock::core::{ClientOptions, Config, WsUrl};
use resock::tls::TlsOptions;
use resock::{CloseCode, Message};

use support::PATIENCE;
use support::runtimes::{Runtime, echo_once, run};
use support::tls_client::TlsClient;
use support::tls_server::{Hello, Leaf, spawn_tls};
use support::ws_server::{Server, accept, echo};

/// A TLS echo server on 127.0.0.1 presenting `leaf`.
fn tls_echo(leaf: Leaf) -> (Server, mpsc::Receiver<Hello>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    spawn_tls(listener, leaf, |tls| {
        if let Some(mut ws) = accept(tls) {
            echo(&mut ws);
        }
    })
}

/// A builder for `wss://host:port/` trusting `tls`, with retries every 10 ms (a retried
/// failure shows up at once) and no heartbeat.
fn builder(host: &str, server: &Server, tls: TlsOptions) -> ClientBuilder {
    ClientBuilder::new(&format!("wss://{host}:{}/", server.addr().port()))
        .unwrap()
        .tls(tls)
        .heartbeat(HeartbeatConfig::disabled())
        .reconnect(ReconnectPolicy::fixed(Duration::from_millis(10)))
}

/// Echo on the session client of `runtime`, by name and by IP literal, with the certificate
/// added to the default roots (what `resock --cacert` does).
fn self_signed_ca_echoes(runtime: Runtime) {
    let leaf = Leaf::self_signed_ca(&["localhost", "127.0.0.1"]);
    let tls = TlsOptions::default().add_root_pem(leaf.pem.as_bytes()).unwrap();
    let (server, hellos) = tls_echo(leaf);
    for host in ["localhost", "127.0.0.1"] {
        let transcript = echo_once(runtime, builder(host, &server, tls.clone()), "self-signed");
        assert_eq!(transcript.opened, 1, "{host}: {transcript:#?}");
    }
    server.stop();
    let hellos: Vec<Hello> = hellos.try_iter().collect();
    assert!(hellos.iter().all(|h| h.handshake.is_ok()), "{hellos:?}");
    assert_eq!(hellos.len(), 2, "{hellos:?}");
}

/// The same certificate for another name: refused on `runtime`, fatally, naming the names the
/// certificate carries.
fn a_pinned_certificate_for_another_name_is_refused(runtime: Runtime) {
    let leaf = Leaf::self_signed_ca(&["other.example"]);
    let tls = TlsOptions::no_default_roots()
        .add_root_pem(leaf.pem.as_bytes())
        .unwrap();
    let (server, hellos) = tls_echo(leaf);
    let transcript = run(runtime, builder("localhost", &server, tls), None, |_| false);
    let DisconnectReason::Transport(error) = transcript.fatal_reason() else {
        panic!("{transcript:#?}");
    };
    let certificate = error.certificate().expect("a certificate error");
    assert_eq!(certificate.host, "localhost");
    assert_eq!(
        certificate.kind,
        CertificateErrorKind::NameMismatch {
            presented: vec!["other.example".to_owned()]
        }
    );
    assert_eq!(
        error.message,
        "the server's certificate is for other.example, not localhost; connect with one of those \
         names or give the server a certificate for localhost"
    );
    assert_eq!(transcript.opened, 0);
    server.stop();
    assert_eq!(hellos.try_iter().count(), 1, "one attempt, not retried");
}

on_every_session_runtime!(self_signed_ca_echoes, a_pinned_certificate_for_another_name_is_refused);

/// Echo with `blocking::WebSocket` over a TLS stream configured by `tls`.
fn blocking_websocket_echo(host: &str, port: u16, tls: &TlsOptions) {
    let stream = TlsClient::connect(host, port, tls).expect("the TLS handshake");
    let url = WsUrl::parse(&format!("wss://{host}:{port}/")).unwrap();
    let mut ws = WebSocket::client_on(stream, &url, &ClientOptions::default(), Config::default()).unwrap();
    ws.send_text("self-signed").unwrap();
    assert_eq!(ws.recv().unwrap(), Some(Message::text("self-signed")));
    ws.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn self_signed_ca_echoes_with_blocking_websocket() {
    let leaf = Leaf::self_signed_ca(&["localhost", "127.0.0.1"]);
    let tls = TlsOptions::no_default_roots()
        .add_root_pem(leaf.pem.as_bytes())
        .unwrap();
    let (server, _hellos) = tls_echo(leaf);
    let port = server.addr().port();
    blocking_websocket_echo("localhost", port, &tls);
    blocking_websocket_echo("127.0.0.1", port, &tls);
    server.stop();
}

#[test]
fn a_pinned_certificate_for_another_name_is_refused_with_blocking_websocket() {
    let leaf = Leaf::self_signed_ca(&["other.example"]);
    let tls = TlsOptions::no_default_roots()
        .add_root_pem(leaf.pem.as_bytes())
        .unwrap();
    let (server, _hellos) = tls_echo(leaf);
    let refused = TlsClient::connect("localhost", server.addr().port(), &tls).err();
    assert!(
        matches!(
            refused,
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{refused:?}"
    );
    server.stop();
}

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("resock-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// Runs the README's `openssl req` line in `dir`, bounded in time (killed by PID past it).
/// `None` when `openssl` is not installed, unless `RESOCK_REQUIRE_PEERS=1` makes that a failure.
fn openssl_req(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (key, cert) = (dir.join("k.pem"), dir.join("c.pem"));
    let spawned = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args([
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            assert!(
                std::env::var("RESOCK_REQUIRE_PEERS").as_deref() != Ok("1"),
                "openssl is not installed and RESOCK_REQUIRE_PEERS=1"
            );
            eprintln!("skipped: openssl is not installed");
            return None;
        }
        Err(e) => panic!("starting openssl: {e}"),
    };
    // Its stderr ends when it exits; waiting for that is bounded, and past the bound the
    // process is killed by its PID.
    let mut pipe = child.stderr.take().unwrap();
    let (done, ended) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stderr = String::new();
        pipe.read_to_string(&mut stderr).ok();
        done.send(stderr).ok();
    });
    let Ok(stderr) = ended.recv_timeout(PATIENCE) else {
        child.kill().ok();
        child.wait().ok();
        panic!("openssl req took longer than {PATIENCE:?}");
    };
    let status = child.wait().unwrap();
    assert!(status.success(), "openssl req failed: {stderr}");
    Some((cert, key))
}

/// `openssl req -x509 ... -subj /CN=localhost -addext subjectAltName=DNS:localhost`, passed
/// with `add_root_pem_file`, on every runtime. The premise is checked too: webpki alone
/// refuses this certificate as `CaUsedAsEndEntity`.
#[test]
fn an_openssl_req_certificate_works_on_every_runtime() {
    let dir = TempDir::new("openssl-req");
    let Some((cert, key)) = openssl_req(&dir.0) else {
        return;
    };
    let leaf = Leaf::from_pem_files(&cert, &key);
    assert_eq!(
        webpki_alone(&leaf.chain[0]),
        "CaUsedAsEndEntity",
        "openssl's default config marks the certificate CA:TRUE"
    );
    let tls = TlsOptions::no_default_roots().add_root_pem_file(&cert).unwrap();
    let (server, _hellos) = tls_echo(leaf);
    for runtime in Runtime::all() {
        echo_once(runtime, builder("localhost", &server, tls.clone()), "from openssl");
    }
    blocking_websocket_echo("localhost", server.addr().port(), &tls);
    server.stop();
}

/// What rustls' own webpki verifier says of `cert` as the server's certificate for
/// `localhost` when it is also the only root.
fn webpki_alone(cert: &rustls::pki_types::CertificateDer<'static>) -> String {
    use rustls::client::danger::ServerCertVerifier;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    match verifier.verify_server_cert(cert, &[], &name, &[], rustls::pki_types::UnixTime::now()) {
        Ok(_) => "accepted".to_owned(),
        Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))) => other.to_string(),
        Err(other) => format!("{other:?}"),
    }
}
