//! How a failed or lost connection is reported, on every session runtime: a closed
//! port is `Refused`, a TCP reset of an open connection is `Reset` (both retried by default),
//! a 401 is a rejection with its status, and each reads as one sentence.
#![cfg(feature = "blocking")]

#[macro_use]
mod support;

use std::io::{Read, Write};
use std::net::TcpListener;

use resock::ClientBuilder;
use resock::core::session::{Decision, DisconnectReason, ReconnectPolicy, TransportError, TransportErrorKind};

use support::PATIENCE;
use support::runtimes::{Runtime, run};
use support::ws_server::{Server, accept};

/// A port on 127.0.0.1 with nothing listening: bound, noted, closed.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Accepts the WebSocket, waits until the client's first frame has arrived, and closes the
/// socket without reading it: a close with unread data is answered with a TCP reset (RFC 2525
/// §2.17, what Linux and the BSDs do), the same as SO_LINGER 0, without unsafe code.
fn resetting_server() -> Server {
    Server::local(|stream| {
        let Some(ws) = accept(stream) else { return };
        let mut first = [0u8; 1];
        let arrived = ws.get_ref().peek(&mut first);
        assert_eq!(arrived.ok(), Some(1), "the client's frame reached the server");
        drop(ws);
    })
}

/// Answers every opening request with `401 Unauthorized`.
fn rejecting_server() -> Server {
    Server::local(|mut stream| {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
            head.push(byte[0]);
        }
        stream
            .write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .ok();
    })
}

fn builder(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
        .unwrap()
        .reconnect(ReconnectPolicy::disabled())
        .open_timeout(PATIENCE)
}

/// How the session reported its end: the disconnect reason and the `Error` event's text.
#[derive(Debug)]
struct Ending {
    reason: DisconnectReason,
    error: String,
    opened: usize,
}

/// Runs `builder` on `runtime`, with `send` queued to go out once open, until the session is
/// closed for good (reconnect is off), within [`PATIENCE`].
fn ending(runtime: Runtime, builder: ClientBuilder, send: Option<&str>) -> Ending {
    let transcript = run(runtime, builder, send, |_| false);
    Ending {
        reason: transcript.disconnects.last().expect("a Disconnected event").0.clone(),
        error: transcript.errors.last().expect("an Error event").clone(),
        opened: transcript.opened,
    }
}

/// Asserts a transport failure of `kind` that reads `text`, in the reason and in the error,
/// and that the default policy retries it.
fn assert_transport(ending: &Ending, kind: TransportErrorKind, text: &str) {
    let DisconnectReason::Transport(TransportError { kind: seen, .. }) = &ending.reason else {
        panic!("not a transport failure: {ending:?}");
    };
    assert_eq!(*seen, kind, "{ending:?}");
    assert_eq!(ending.reason.to_string(), text);
    assert_eq!(ending.error, text);
    let decision = ending.reason.default_decision(&ReconnectPolicy::default());
    assert_eq!(decision, Decision::Retry, "{ending:?}");
}

const RESET: &str = "reading from the server: connection reset by the peer";
const REJECTED: &str = "the server rejected the WebSocket upgrade with HTTP 401 Unauthorized";

fn refused_text(port: u16) -> String {
    format!("connecting to 127.0.0.1:{port}: connection refused")
}

fn a_closed_port_is_refused(runtime: Runtime) {
    let port = closed_port();
    let ending = ending(runtime, builder(&format!("ws://127.0.0.1:{port}/")), None);
    assert_transport(&ending, TransportErrorKind::Refused, &refused_text(port));
    assert_eq!(ending.opened, 0);
}

fn a_reset_of_an_open_connection_is_a_reset(runtime: Runtime) {
    let server = resetting_server();
    let ending = ending(runtime, builder(&server.url("/")), Some("this frame is never read"));
    assert_transport(&ending, TransportErrorKind::Reset, RESET);
    assert_eq!(ending.opened, 1);
    server.stop();
}

fn a_401_reads_as_a_rejection_with_its_status(runtime: Runtime) {
    let server = rejecting_server();
    let ending = ending(runtime, builder(&server.url("/")), None);
    assert!(matches!(ending.reason, DisconnectReason::Handshake(_)), "{ending:?}");
    assert_eq!(ending.reason.to_string(), REJECTED);
    assert_eq!(ending.error, REJECTED);
    server.stop();
}

on_every_session_runtime!(
    a_closed_port_is_refused,
    a_reset_of_an_open_connection_is_a_reset,
    a_401_reads_as_a_rejection_with_its_status,
);

#[test]
fn the_one_connection_driver_says_the_same() {
    let port = closed_port();
    let error = resock::blocking::WebSocket::connect(&format!("ws://127.0.0.1:{port}/")).unwrap_err();
    assert!(
        matches!(&error, resock::blocking::Error::Transport(e) if e.kind == TransportErrorKind::Refused),
        "{error:?}"
    );
    assert_eq!(error.to_string(), refused_text(port));
    let server = rejecting_server();
    let error = resock::blocking::WebSocket::connect(&server.url("/")).unwrap_err();
    assert_eq!(error.to_string(), REJECTED);
    server.stop();
}
