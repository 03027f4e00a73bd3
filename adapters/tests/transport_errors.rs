//! How a failed or lost connection is reported, on the blocking client and on smol: a closed
//! port is `Refused`, a TCP reset of an open connection is `Reset` (both retried by default),
//! a 401 is a rejection with its status, and each reads as one sentence.
#![cfg(feature = "blocking")]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Instant;

use resock::ClientBuilder;
use resock::blocking_client::Client;
use resock::core::session::{
    Decision, DisconnectReason, ReconnectPolicy, SessionEvent, TransportError, TransportErrorKind,
};

use support::ws_server::{Server, accept};
use support::{PATIENCE, expect_open};

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
}

/// Drives `client` until it is closed for good (reconnect is off), within [`PATIENCE`].
fn ending(client: &mut Client) -> Ending {
    let deadline = Instant::now() + PATIENCE;
    let (mut reason, mut error) = (None, None);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the client did not close within {PATIENCE:?}");
        match client.next_event_timeout(left) {
            Some(SessionEvent::Disconnected { reason: r, .. }) => reason = Some(r),
            Some(SessionEvent::Error(e)) => error = Some(e.to_string()),
            Some(_) => {}
            None if client.is_closed() => break,
            None => {}
        }
    }
    Ending {
        reason: reason.expect("a Disconnected event"),
        error: error.expect("an Error event"),
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

#[test]
fn blocking_a_closed_port_is_refused() {
    let port = closed_port();
    let mut client = builder(&format!("ws://127.0.0.1:{port}/")).connect_blocking().unwrap();
    assert_transport(&ending(&mut client), TransportErrorKind::Refused, &refused_text(port));
}

#[test]
fn blocking_a_reset_of_an_open_connection_is_a_reset() {
    let server = resetting_server();
    let mut client = builder(&server.url("/")).connect_blocking().unwrap();
    expect_open(&mut client);
    client.send_text("this frame is never read").unwrap();
    assert_transport(&ending(&mut client), TransportErrorKind::Reset, RESET);
    server.stop();
}

#[test]
fn blocking_a_401_reads_as_a_rejection_with_its_status() {
    let server = rejecting_server();
    let mut client = builder(&server.url("/")).connect_blocking().unwrap();
    let ending = ending(&mut client);
    assert!(matches!(ending.reason, DisconnectReason::Handshake(_)), "{ending:?}");
    assert_eq!(ending.reason.to_string(), REJECTED);
    assert_eq!(ending.error, REJECTED);
    server.stop();
}

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

#[cfg(feature = "smol")]
mod on_smol {
    use super::*;
    use futures_lite::future;

    /// Starts `builder` on smol, subscribed before its driver runs, and reads every event until
    /// they end (the session closed for good), within [`PATIENCE`].
    fn ending(builder: resock::ClientBuilder, after_open: Option<&str>) -> Ending {
        let (client, driver) = builder.build_async().unwrap();
        let mut events = client.subscribe();
        smol::spawn(driver).detach();
        smol::block_on(async move {
            let run = async {
                let (mut reason, mut error) = (None, None);
                while let Some(event) = events.next().await {
                    match event.expect("a listener that keeps up") {
                        SessionEvent::Opened { .. } => {
                            if let Some(text) = after_open {
                                client.send_text(text).await.unwrap();
                            }
                        }
                        SessionEvent::Disconnected { reason: r, .. } => reason = Some(r),
                        SessionEvent::Error(e) => error = Some(e.to_string()),
                        _ => {}
                    }
                }
                Ending {
                    reason: reason.expect("a Disconnected event"),
                    error: error.expect("an Error event"),
                }
            };
            let limit = async {
                async_io::Timer::after(PATIENCE).await;
                panic!("the client did not close within {PATIENCE:?}");
            };
            future::or(run, limit).await
        })
    }

    #[test]
    fn smol_a_closed_port_is_refused() {
        let port = closed_port();
        let settings = builder(&format!("ws://127.0.0.1:{port}/"));
        assert_transport(
            &ending(settings, None),
            TransportErrorKind::Refused,
            &refused_text(port),
        );
    }

    #[test]
    fn smol_a_reset_of_an_open_connection_is_a_reset() {
        let server = resetting_server();
        let settings = builder(&server.url("/"));
        let ending = ending(settings, Some("this frame is never read"));
        assert_transport(&ending, TransportErrorKind::Reset, RESET);
        server.stop();
    }

    #[test]
    fn smol_a_401_reads_as_a_rejection_with_its_status() {
        let server = rejecting_server();
        let settings = builder(&server.url("/"));
        let ending = ending(settings, None);
        assert_eq!(ending.reason.to_string(), REJECTED);
        assert_eq!(ending.error, REJECTED);
        server.stop();
    }
}
