//! `wss://` with the blocking client against a local TLS echo server whose PKI is made at test
//! time: trust, SNI and ALPN on the wire. Certificate failures are in `tls_certificate_errors.rs`,
//! self-signed certificates in `tls_self_signed.rs`.
#![cfg(all(feature = "blocking", feature = "rustls"))]

mod support;

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use resock::ClientBuilder;
use resock::core::session::ReconnectPolicy;
use resock::tls::TlsOptions;
use resock::{CloseCode, Message};

use support::tls_server::{Hello, TestCa, spawn_tls};
use support::ws_server::{Server, accept, echo};
use support::{PATIENCE, expect_open};

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
    assert_eq!(client.recv(), Ok(Message::text("over TLS")));
    let payload = vec![7u8; 300_000];
    client.send_binary(payload.clone()).unwrap();
    assert_eq!(client.recv(), Ok(Message::binary(payload)));
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
