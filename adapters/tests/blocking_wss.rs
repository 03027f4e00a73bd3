//! `wss://` on the one-connection blocking driver ([`resock::blocking::WebSocket`]) with the
//! crate's default features (`blocking`, `rustls`, `json`), against a loopback TLS echo server
//! whose CA is made at test time. Run as `cargo test -p resock --test blocking_wss`.
#![cfg(all(feature = "blocking", feature = "rustls"))]

mod support;

use std::net::TcpListener;
use std::sync::mpsc;

use resock::blocking::{Error, WebSocket};
use resock::core::session::TransportErrorKind;
use resock::tls::TlsOptions;
use resock::{ClientOptions, CloseCode, Config, Message};

use support::PATIENCE;
use support::tls_server::{Hello, TestCa, spawn_tls};
use support::ws_server::{Server, accept, echo};

/// A TLS echo server on 127.0.0.1 with a certificate for localhost and 127.0.0.1 signed by `ca`.
fn tls_echo(ca: &TestCa) -> (Server, mpsc::Receiver<Hello>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    spawn_tls(listener, ca.leaf(&["localhost", "127.0.0.1"]), |tls| {
        if let Some(mut ws) = accept(tls) {
            echo(&mut ws);
        }
    })
}

#[test]
fn wss_echoes_with_a_trusted_root() {
    let ca = TestCa::new("resock blocking wss CA");
    let (server, hellos) = tls_echo(&ca);
    let tls = TlsOptions::no_default_roots()
        .add_root_pem(ca.pem().as_bytes())
        .unwrap();
    let url = format!("wss://localhost:{}/echo", server.addr().port());
    let mut ws = WebSocket::connect_with_tls(&url, &ClientOptions::default(), Config::default(), &tls)
        .unwrap_or_else(|e| panic!("{e}"));
    ws.send_text("over TLS").unwrap();
    assert_eq!(ws.recv().unwrap(), Some(Message::text("over TLS")));
    let big = vec![7u8; 300_000];
    ws.send_binary(&big).unwrap();
    assert_eq!(ws.recv().unwrap(), Some(Message::binary(big)));
    let closed = ws.close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(closed.code, CloseCode::NORMAL);
    assert_eq!(closed.error, None);
    let hello = hellos.recv_timeout(PATIENCE).unwrap();
    assert_eq!(hello.handshake, Ok(()));
    assert_eq!(hello.sni.as_deref(), Some("localhost"));
    assert_eq!(hello.alpn, vec![b"http/1.1".to_vec()]);
    server.stop();
}

/// `connect` itself speaks TLS for `wss://`: with the default (Mozilla) roots the test CA is
/// not trusted, so the handshake reaches the certificate check and fails there, as a
/// certificate error, never as "TLS is not built in".
#[test]
fn connect_speaks_tls_for_wss_with_the_default_roots() {
    let ca = TestCa::new("resock untrusted CA");
    let (server, hellos) = tls_echo(&ca);
    let url = format!("wss://127.0.0.1:{}/", server.addr().port());
    let error = WebSocket::connect(&url).unwrap_err();
    let Error::Transport(transport) = &error else {
        panic!("not a transport error: {error:?}");
    };
    // The certificate sentence itself is the certificate checks' business; here only the kind.
    assert_eq!(transport.kind, TransportErrorKind::TlsCertificate, "{error}");
    // The server saw a TLS ClientHello from `connect`, with ALPN and no SNI for an IP literal.
    let hello = hellos.recv_timeout(PATIENCE).unwrap();
    assert_eq!(hello.sni, None);
    assert_eq!(hello.alpn, vec![b"http/1.1".to_vec()]);
    server.stop();
}
