//! How a connection ended decides what happens next, on every runtime: a server that closes
//! with 1008 and then resets TCP (or, over TLS, drops TCP without `close_notify`) ends the
//! session with a fatal `ServerClosed(1008)` and no second attempt; a TLS peer that drops TCP
//! without `close_notify` and without a close frame is a reset (retried), not a TLS error, as
//! is a plain TCP end without a close frame; and the client's own clean close over TLS ends
//! with `close_notify`.
#![cfg(all(feature = "blocking", feature = "rustls"))]

#[macro_use]
mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use resock::ClientBuilder;
use resock::blocking::{self, WebSocket};
use resock::core::session::{DisconnectReason, HeartbeatConfig, ReconnectPolicy};
use resock::core::{ClientOptions, CloseCode, Config, ConnectionError, WsUrl};
use resock::tls::TlsOptions;
use socket2::SockRef;

use support::runtimes::{Runtime, Transcript, echo_once, run};
use support::tls_client::TlsClient;
use support::tls_server::{TestCa, TlsStream, spawn_tls};
use support::ws_server::{Server, accept, echo};

/// The server's close frame: 1008 "policy", unmasked.
const CLOSE_1008: [u8; 10] = [0x88, 8, 0x03, 0xF0, b'p', b'o', b'l', b'i', b'c', b'y'];

/// Writes [`CLOSE_1008`] on an accepted WebSocket's stream and, when `wait` is set, reads until
/// the client's close frame has arrived (so the client has decoded ours before what follows).
fn send_close_1008<S: Read + Write>(stream: &mut S, wait: bool) {
    stream.write_all(&CLOSE_1008).unwrap();
    stream.flush().unwrap();
    if !wait {
        return;
    }
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    // A masked close frame with a short body: 2 header bytes, 4 mask bytes, the body.
    while reply.len() < 2 || reply.len() < 6 + usize::from(reply[1] & 0x7F) {
        let n = stream.read(&mut buf).expect("the client's close frame");
        assert!(n > 0, "the client closed before replying: {reply:?}");
        reply.extend_from_slice(&buf[..n]);
    }
    assert_eq!(reply[0], 0x88, "the client's reply is a close frame: {reply:?}");
}

/// Resets `tcp`: SO_LINGER 0, so dropping it sends RST instead of FIN.
fn reset(tcp: &TcpStream) {
    SockRef::from(tcp).set_linger(Some(Duration::ZERO)).unwrap();
}

/// A plain server that counts connections: each one completes the handshake, sends close 1008,
/// optionally waits for the client's reply, then resets TCP.
fn close_then_reset_server(wait: bool) -> (Server, mpsc::Receiver<()>) {
    let (seen, connections) = mpsc::channel();
    let server = Server::local(move |tcp| {
        seen.send(()).ok();
        if let Some(mut ws) = accept(tcp) {
            send_close_1008(ws.get_mut(), wait);
            reset(ws.get_ref());
        }
    });
    (server, connections)
}

/// A TLS server that counts connections and does `then` with each accepted WebSocket stream.
fn tls_server(then: fn(&mut TlsStream)) -> (Server, mpsc::Receiver<()>, String) {
    let ca = TestCa::new("resock test CA");
    let (seen, connections) = mpsc::channel();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (server, _hellos) = spawn_tls(listener, ca.leaf(&["localhost"]), move |tls| {
        seen.send(()).ok();
        if let Some(mut ws) = accept(tls) {
            then(ws.get_mut());
        }
    });
    (server, connections, ca.pem())
}

/// A TLS echo server that reports, for each connection, whether the client ended TLS with
/// `close_notify` after the close handshake (rustls then reads a clean end; a TCP end without
/// it reads as `UnexpectedEof`).
fn tls_echo_reporting_close_notify() -> (Server, mpsc::Receiver<io::Result<usize>>, String) {
    let ca = TestCa::new("resock test CA");
    let (report, ends) = mpsc::channel();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (server, _hellos) = spawn_tls(listener, ca.leaf(&["localhost"]), move |tls| {
        if let Some(mut ws) = accept(tls) {
            echo(&mut ws);
            // tungstenite ends after answering the close. The server ends first, as RFC 6455
            // asks, but only its writing half (its own close_notify, then FIN), so it can
            // still read how the client ends.
            let tls = ws.get_mut();
            tls.conn.send_close_notify();
            tls.flush().ok();
            tls.sock.shutdown(Shutdown::Write).ok();
            let mut after = [0u8; 64];
            report.send(tls.read(&mut after)).ok();
        }
    });
    (server, ends, ca.pem())
}

/// Close 1008, wait for the reply, then end TCP without `close_notify` (the stream is dropped
/// right after; rustls sends nothing on drop).
fn close_then_eof_without_close_notify(tls: &mut TlsStream) {
    send_close_1008(tls, true);
    tls.sock.shutdown(Shutdown::Both).ok();
}

/// End TCP without `close_notify` and without a close frame.
fn eof_without_close_notify(tls: &mut TlsStream) {
    tls.sock.shutdown(Shutdown::Both).ok();
}

fn builder(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
        .unwrap()
        .heartbeat(HeartbeatConfig::disabled())
        .reconnect(ReconnectPolicy::fixed(Duration::from_millis(10)))
}

fn tls_builder(server: &Server, ca_pem: &str) -> ClientBuilder {
    let tls = TlsOptions::no_default_roots().add_root_pem(ca_pem.as_bytes()).unwrap();
    builder(&format!("wss://localhost:{}/", server.addr().port())).tls(tls)
}

/// The session ended for good with the server's 1008, after one connection.
fn assert_fatal_1008(transcript: &Transcript, server: Server, connections: &mpsc::Receiver<()>) {
    let expected = DisconnectReason::ServerClosed {
        code: CloseCode(1008),
        reason: "policy".into(),
    };
    assert_eq!(transcript.fatal_reason(), &expected, "{transcript:#?}");
    assert_eq!(transcript.disconnects, [(expected, false)], "{transcript:#?}");
    assert_eq!(transcript.opened, 1);
    server.stop();
    assert_eq!(connections.try_iter().count(), 1, "no second attempt");
}

fn close_1008_then_reset(runtime: Runtime) {
    let (server, connections) = close_then_reset_server(true);
    let transcript = run(runtime, builder(&server.url("/")), None, |_| false);
    assert_fatal_1008(&transcript, server, &connections);
}

fn close_1008_then_immediate_reset(runtime: Runtime) {
    let (server, connections) = close_then_reset_server(false);
    let transcript = run(runtime, builder(&server.url("/")), None, |_| false);
    assert_fatal_1008(&transcript, server, &connections);
}

fn close_1008_then_tls_eof_without_close_notify(runtime: Runtime) {
    let (server, connections, ca) = tls_server(close_then_eof_without_close_notify);
    let transcript = run(runtime, tls_builder(&server, &ca), None, |_| false);
    assert_fatal_1008(&transcript, server, &connections);
}

fn tls_eof_without_close_notify_is_a_reset(runtime: Runtime) {
    let (server, connections, ca) = tls_server(eof_without_close_notify);
    let transcript = run(runtime, tls_builder(&server, &ca), None, |t| t.opened >= 2);
    assert_eq!(
        transcript.disconnects.first(),
        Some(&(DisconnectReason::Reset, true)),
        "{transcript:#?}"
    );
    server.stop();
    assert!(connections.try_iter().count() >= 2, "retried");
}

/// A close by the application over TLS ends with `close_notify`, then TCP's end.
fn a_clean_close_over_tls_sends_close_notify(runtime: Runtime) {
    let (server, ends, ca) = tls_echo_reporting_close_notify();
    echo_once(runtime, tls_builder(&server, &ca), "then close_notify");
    server.stop();
    let ends: Vec<String> = ends.try_iter().map(|end| format!("{end:?}")).collect();
    assert_eq!(ends, ["Ok(0)"], "one connection, ended by close_notify");
}

/// A plain server that ends TCP (FIN) right after the handshake, without a close frame.
fn eof_without_a_close_frame_server() -> (Server, mpsc::Receiver<()>) {
    let (seen, connections) = mpsc::channel();
    let server = Server::local(move |tcp| {
        seen.send(()).ok();
        if let Some(ws) = accept(tcp) {
            ws.get_ref().shutdown(Shutdown::Both).ok();
        }
    });
    (server, connections)
}

/// A TCP end without a close frame is the same reset as over TLS (retried), not a transport
/// error.
fn eof_without_a_close_frame_is_a_reset(runtime: Runtime) {
    let (server, connections) = eof_without_a_close_frame_server();
    let transcript = run(runtime, builder(&server.url("/")), None, |t| t.opened >= 2);
    assert_eq!(
        transcript.disconnects.first(),
        Some(&(DisconnectReason::Reset, true)),
        "{transcript:#?}"
    );
    server.stop();
    assert!(connections.try_iter().count() >= 2, "retried");
}

on_every_session_runtime!(
    a_clean_close_over_tls_sends_close_notify,
    eof_without_a_close_frame_is_a_reset,
    close_1008_then_reset,
    close_1008_then_immediate_reset,
    close_1008_then_tls_eof_without_close_notify,
    tls_eof_without_close_notify_is_a_reset,
);

/// `blocking::WebSocket` over TLS, to a server doing `then`.
fn blocking_websocket(then: fn(&mut TlsStream)) -> (WebSocket<TlsClient>, Server) {
    let (server, _connections, ca) = tls_server(then);
    let tls = TlsOptions::no_default_roots().add_root_pem(ca.as_bytes()).unwrap();
    let port = server.addr().port();
    let stream = TlsClient::connect("localhost", port, &tls).unwrap();
    let url = WsUrl::parse(&format!("wss://localhost:{port}/")).unwrap();
    let ws = WebSocket::client_on(stream, &url, &ClientOptions::default(), Config::default()).unwrap();
    (ws, server)
}

#[test]
fn blocking_websocket_close_1008_then_tls_eof_is_a_clean_close() {
    let (mut ws, server) = blocking_websocket(close_then_eof_without_close_notify);
    assert_eq!(ws.recv().unwrap(), None, "a clean close");
    let info = ws.close_info().expect("closed");
    assert_eq!((info.code, info.reason.as_str()), (CloseCode(1008), "policy"));
    assert_eq!(info.error, None);
    server.stop();
}

#[test]
fn blocking_websocket_tls_eof_without_a_close_frame_is_a_reset() {
    let (mut ws, server) = blocking_websocket(eof_without_close_notify);
    match ws.recv() {
        Err(blocking::Error::Connection(ConnectionError::ResetWithoutClose)) => {}
        other => panic!("expected a reset without close, got {other:?}"),
    }
    server.stop();
}
