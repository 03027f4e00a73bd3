//! `wss://` from outside, on every runtime: the resock client against the resock server with
//! a fresh self-signed certificate, and a TLS handshake that never comes bounded by the
//! handshake timeout.
#![cfg(all(feature = "rustls", any(feature = "tokio", feature = "smol", feature = "async-std")))]

#[macro_use]
mod server_support;

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use resock::{ClientBuilder, Config, ServerBuilder, ServerConfig, ServerTls, TlsOptions};
use server_support::{LIMIT, Rt, eventually, serve_echo, tcp};

on_server_runtimes!(
    wss_echo_with_the_resock_client,
    a_tls_handshake_that_never_comes_is_dropped_in_time,
    a_full_wss_server_answers_503_over_tls,
    a_plaintext_client_on_a_tls_port_is_counted_as_a_tls_failure,
);

fn certificate() -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

fn wss_echo_with_the_resock_client<R: Rt>() {
    let rt = Arc::new(R::new());
    let (cert, key) = certificate();
    let tls = ServerTls::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let server = Arc::new(rt.bind(ServerBuilder::new().tls(tls)));
    let port = server.local_addr().port();
    serve_echo(&rt, Arc::clone(&server));
    let client_tls = TlsOptions::no_default_roots().add_root_pem(cert.as_bytes()).unwrap();
    let builder = ClientBuilder::new(&format!("wss://localhost:{port}/secure"))
        .unwrap()
        .tls(client_tls);
    let client = rt.client(builder);
    let echoed = rt.block_on(async {
        client.send_text("over tls").await.unwrap();
        client.recv().await.unwrap()
    });
    assert_eq!(echoed.as_text(), Some("over tls"));
    rt.block_on(client.close(resock::CloseCode::NORMAL, "bye"));
    assert_eq!(server.stats().tls_failures, 0);
}

fn a_tls_handshake_that_never_comes_is_dropped_in_time<R: Rt>() {
    let rt = Arc::new(R::new());
    let (cert, key) = certificate();
    let tls = ServerTls::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let config = ServerConfig::default().connection(Config::default().handshake_timeout(Duration::from_millis(300)));
    let server = Arc::new(rt.bind(ServerBuilder::new().tls(tls).config(config)));
    let mut silent = tcp(server.local_addr());
    eventually("the connection to be counted", || server.connections() == 1);
    let start = Instant::now();
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
    assert!(start.elapsed() < LIMIT, "never dropped");
    assert!(rest.is_empty(), "no answer without TLS: {rest:?}");
    eventually("the connection to be forgotten", || server.connections() == 0);
    eventually("the timed-out handshake to be counted", || {
        server.stats().tls_failures == 1
    });
    assert_eq!(server.stats().refused, 0, "no HTTP refusal without TLS");
}

/// A client speaking plain HTTP to a `wss://` port gets no answer (there is no TLS session to
/// answer in); the server counts the failed handshake and serves the next client.
fn a_plaintext_client_on_a_tls_port_is_counted_as_a_tls_failure<R: Rt>() {
    use std::io::Write;

    let rt = Arc::new(R::new());
    let (cert, key) = certificate();
    let tls = ServerTls::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let server = Arc::new(rt.bind(ServerBuilder::new().tls(tls)));
    let addr = server.local_addr();
    serve_echo(&rt, Arc::clone(&server));
    for _ in 0..2 {
        let mut plain = tcp(addr);
        plain
            .write_all(server_support::upgrade_request(addr).as_bytes())
            .unwrap();
        let mut rest = Vec::new();
        let _ = plain.read_to_end(&mut rest);
        assert!(!rest.starts_with(b"HTTP/"), "an HTTP answer without TLS: {rest:?}");
    }
    eventually("both failures to be counted", || server.stats().tls_failures == 2);
    assert_eq!((server.stats().accepted, server.stats().refused), (0, 0));
    // The server still serves TLS clients.
    let client_tls = TlsOptions::no_default_roots().add_root_pem(cert.as_bytes()).unwrap();
    let builder = ClientBuilder::new(&format!("wss://localhost:{}/", addr.port()))
        .unwrap()
        .tls(client_tls);
    let client = rt.client(builder);
    let echoed = rt.block_on(async {
        client.send_text("after the failures").await.unwrap();
        client.recv().await.unwrap()
    });
    assert_eq!(echoed.as_text(), Some("after the failures"));
    assert_eq!(server.stats().tls_failures, 2);
}

fn a_full_wss_server_answers_503_over_tls<R: Rt>() {
    use std::io::Write;

    use rustls::pki_types::pem::PemObject;

    let rt = Arc::new(R::new());
    let (cert, key) = certificate();
    let tls = ServerTls::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let server = Arc::new(rt.bind(ServerBuilder::new().tls(tls).max_connections(1)));
    let addr = server.local_addr();
    serve_echo(&rt, Arc::clone(&server));
    let _held = tcp(addr); // holds the one place from its accept on, TLS or not
    eventually("the first connection to be counted", || server.connections() == 1);

    let mut roots = rustls::RootCertStore::empty();
    for der in rustls::pki_types::CertificateDer::pem_slice_iter(cert.as_bytes()) {
        roots.add(der.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, tcp(addr));
    stream
        .write_all(server_support::upgrade_request(addr).as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer); // until close_notify or the TCP close
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
    assert!(answer.contains("\r\nRetry-After: 5\r\n"), "{answer:?}");
}
