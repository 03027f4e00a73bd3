//! Close codes in both directions with the blocking client.
#![cfg(feature = "blocking")]

mod support;

use std::sync::mpsc;

use resock::ClientBuilder;
use resock::core::Initiator;
use resock::core::session::{ClosedReason, DisconnectReason, ReconnectPolicy, SessionEvent, SessionState};
use resock::{CloseCode, Message};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode as TungsteniteCode;

use support::ws_server::{Server, accept, echo};
use support::{PATIENCE, expect_event, expect_open};

#[test]
fn the_server_sees_the_code_and_reason_the_client_closes_with() {
    let (tx, closes) = mpsc::channel();
    let server = Server::local(move |stream| {
        if let Some(mut ws) = accept(stream) {
            tx.send(echo(&mut ws)).ok();
        }
    });
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .connect_blocking()
        .unwrap();
    expect_open(&mut client);
    client.send_text("before close").unwrap();
    assert!(client.close(CloseCode(4000), "client says bye"));
    assert_eq!(client.state(), &SessionState::Closed(ClosedReason::User));
    let frame = closes.recv_timeout(PATIENCE).unwrap().expect("a close frame");
    assert_eq!(u16::from(frame.code), 4000);
    assert_eq!(frame.reason.as_str(), "client says bye");

    // The echo of the message sent before the close, then the close itself, then nothing.
    let mut echoed = None;
    let mut closed = None;
    while let Some(event) = client.next_event() {
        match event {
            SessionEvent::Message(message) => echoed = Some(message),
            SessionEvent::Closed { code, initiator, .. } => closed = Some((code, initiator)),
            _ => {}
        }
    }
    assert_eq!(echoed, Some(Message::text("before close")));
    assert_eq!(closed, Some((CloseCode(4000), Initiator::Local)));
    assert!(client.send_text("after close").is_err());
    server.stop();
}

#[test]
fn the_client_reports_the_code_and_reason_the_server_closes_with() {
    let server = Server::local(|stream| {
        if let Some(mut ws) = accept(stream) {
            // Wait for one message, then close with our own code.
            ws.read().ok();
            let frame = CloseFrame {
                code: TungsteniteCode::from(4001),
                reason: "server says bye".into(),
            };
            ws.close(Some(frame)).ok();
            while ws.read().is_ok() {}
        }
    });
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .reconnect(ReconnectPolicy::disabled())
        .connect_blocking()
        .unwrap();
    expect_open(&mut client);
    client.send_text("close please").unwrap();
    let event = expect_event(&mut client, "Closed", |e| matches!(e, SessionEvent::Closed { .. }));
    let SessionEvent::Closed {
        code,
        reason,
        initiator,
    } = event
    else {
        unreachable!()
    };
    assert_eq!(
        (code, reason.as_str(), initiator),
        (CloseCode(4001), "server says bye", Initiator::Remote)
    );
    expect_event(&mut client, "closed state", |e| {
        matches!(e, SessionEvent::StateChanged(SessionState::Closed(_)))
    });
    match client.state() {
        SessionState::Closed(ClosedReason::Fatal(DisconnectReason::ServerClosed { code, reason })) => {
            assert_eq!((*code, reason.as_str()), (CloseCode(4001), "server says bye"));
        }
        other => panic!("unexpected state {other:?}"),
    }
    assert!(client.next_event().is_none());
    server.stop();
}

#[test]
fn dropping_the_client_closes_with_1000() {
    let (tx, closes) = mpsc::channel();
    let server = Server::local(move |stream| {
        if let Some(mut ws) = accept(stream) {
            tx.send(echo(&mut ws)).ok();
        }
    });
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .connect_blocking()
        .unwrap();
    expect_open(&mut client);
    drop(client);
    let frame = closes.recv_timeout(PATIENCE).unwrap().expect("a close frame");
    assert_eq!(u16::from(frame.code), 1000);
    server.stop();
}

/// The plain `blocking::WebSocket` dropped while open closes cleanly with 1000, in both roles:
/// the peer reads a close frame, not a dropped connection.
#[test]
fn dropping_an_open_blocking_websocket_closes_it_with_1000() {
    use std::net::TcpListener;
    // Client role, against tungstenite.
    let (tx, closes) = mpsc::channel();
    let server = Server::local(move |stream| {
        if let Some(mut ws) = accept(stream) {
            tx.send(echo(&mut ws)).ok();
        }
    });
    let mut ws = resock::blocking::WebSocket::connect(&server.url("/")).unwrap();
    ws.send_text("hello").unwrap();
    assert_eq!(ws.recv().unwrap(), Some(Message::text("hello")));
    drop(ws);
    let frame = closes.recv_timeout(PATIENCE).unwrap().expect("a close frame");
    assert_eq!(u16::from(frame.code), 1000);
    server.stop();

    // Server role, against tungstenite's client.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let peer = std::thread::spawn(move || {
        let (mut ws, _) = tungstenite::connect(url).unwrap();
        loop {
            match ws.read() {
                Ok(tungstenite::Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => {}
                Err(e) => panic!("the connection ended without a close frame: {e}"),
            }
        }
    });
    let (stream, _) = listener.accept().unwrap();
    let accepted = resock::blocking::WebSocket::accept(stream, resock::Config::default()).unwrap();
    drop(accepted);
    assert_eq!(peer.join().unwrap(), Some(1000));
}

/// A drop against a peer that never answers the close waits no longer than the close timeout.
#[test]
fn dropping_waits_at_most_the_close_timeout_for_a_silent_peer() {
    use std::time::{Duration, Instant};
    let (tx, held) = mpsc::channel();
    let server = Server::local(move |stream| {
        // Accepts, then neither reads nor answers: the close frame is never answered.
        if let Some(ws) = accept(stream) {
            tx.send(ws).ok();
        }
    });
    let config = resock::Config::default().close_timeout(Duration::from_millis(300));
    let ws =
        resock::blocking::WebSocket::connect_with(&server.url("/"), &resock::ClientOptions::default(), config).unwrap();
    let _silent = held.recv_timeout(PATIENCE).unwrap();
    let start = Instant::now();
    drop(ws);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "the drop did not wait for the answer: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "the drop waited {took:?}");
}
