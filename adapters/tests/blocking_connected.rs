//! `Client::connected` on the blocking client: it drives IO through refused attempts until a
//! server appears, and returns the reason when the session closes for good instead.
#![cfg(feature = "blocking")]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use resock::core::session::{ClosedReason, DisconnectReason, ReconnectPolicy, SessionEvent, SessionState};
use resock::{ClientBuilder, CloseCode, Message};

use support::PATIENCE;
use support::ws_server::{Server, accept, echo};

/// Attempts refused before the server starts.
const REFUSALS: usize = 2;

#[test]
fn connected_waits_through_refusals_until_a_server_appears_on_the_port() {
    // A port with nothing listening: bind, note it, close.
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut client = ClientBuilder::new(&format!("ws://{addr}/"))
        .unwrap()
        .reconnect(ReconnectPolicy::fixed(Duration::from_millis(20)))
        .open_timeout(PATIENCE)
        .connect_blocking()
        .unwrap();
    // Another thread watches the attempts fail and then starts the server on that port.
    let watcher = thread::spawn({
        let events = client.subscribe();
        move || {
            let mut refusals = Vec::new();
            for event in events {
                if let Ok(SessionEvent::Disconnected { reason, .. }) = event {
                    refusals.push(reason);
                    if refusals.len() == REFUSALS {
                        break;
                    }
                }
            }
            let server = Server::spawn(TcpListener::bind(addr).unwrap(), |stream| {
                if let Some(mut ws) = accept(stream) {
                    echo(&mut ws);
                }
            });
            (refusals, server)
        }
    });
    assert_eq!(client.connected(), Ok(()));
    let (refusals, server) = watcher.join().unwrap();
    assert_eq!(refusals.len(), REFUSALS, "{refusals:?}");
    for reason in &refusals {
        assert!(
            matches!(reason, DisconnectReason::Transport(e) if e.kind == resock::core::session::TransportErrorKind::Refused),
            "{reason:?}"
        );
    }
    assert_eq!(client.state(), &SessionState::Open);
    assert_eq!(client.connected(), Ok(()), "at once when open");
    client.send_text("made it").unwrap();
    assert_eq!(client.recv(), Ok(Message::text("made it")));
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}

#[test]
fn connected_returns_the_reason_when_a_401_closes_the_session() {
    let server = Server::local(|mut stream| {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
            head.push(byte[0]);
        }
        stream
            .write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .ok();
    });
    // Retries are on: a 401 is final all the same.
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .reconnect(ReconnectPolicy::fixed(Duration::from_millis(10)))
        .connect_blocking()
        .unwrap();
    let reason = client.connected().unwrap_err();
    assert!(
        matches!(&reason, ClosedReason::Fatal(DisconnectReason::Handshake(_))),
        "{reason:?}"
    );
    assert!(reason.to_string().contains("401"), "{reason}");
    assert_eq!(client.connected(), Err(reason.clone()), "and again");
    assert_eq!(client.recv(), Err(reason));
    server.stop();
}
