//! The bounded queue as the blocking client shows it: `try_send` hands a message back when
//! the queue is full, `send` gives up after its timeout, and a close hands queued messages back.
#![cfg(feature = "blocking")]

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use resock::SendError;
use resock::blocking_client::Client;
use resock::core::session::{ClosedReason, HandedBack};
use resock::core::session::{HandBackReason, QueueConfig, SessionEvent, SessionState};
use resock::{ClientBuilder, CloseCode, Message};

use support::ws_server::{Server, accept, echo};
use support::{PATIENCE, expect_open};

fn small_queue(url: &str, messages: usize) -> Client {
    let mut queue = QueueConfig::default();
    queue.max_messages = messages;
    ClientBuilder::new(url)
        .unwrap()
        .queue(queue)
        .connect_blocking()
        .unwrap()
}

#[test]
fn try_send_hands_the_message_back_when_the_queue_is_full() {
    let server = Server::local(|stream| {
        if let Some(mut ws) = accept(stream) {
            echo(&mut ws);
        }
    });
    let mut client = small_queue(&server.url("/"), 3);
    // Nothing is open before the client reads the handshake response, so these wait.
    let ids: Vec<_> = (0..3)
        .map(|n| client.try_send(Message::text(format!("m{n}"))).unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    match client.try_send(Message::text("one too many")) {
        Err(SendError::Full(message)) => assert_eq!(message, Message::text("one too many")),
        other => panic!("expected QueueFull, got {other:?}"),
    }
    expect_open(&mut client);
    for n in 0..3 {
        assert_eq!(client.recv(), Ok(Message::text(format!("m{n}"))));
    }
    // With the queue drained there is room again.
    client.try_send(Message::text("room again")).unwrap();
    assert_eq!(client.recv(), Ok(Message::text("room again")));
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}

/// A listener that never accepts: connecting succeeds (the backlog takes it), the handshake
/// never completes, so the session stays `Connecting` and nothing leaves the queue.
fn silent_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

#[test]
fn send_waits_for_room_only_as_long_as_its_timeout() {
    let listener = silent_listener();
    let mut client = small_queue(&format!("ws://{}/", listener.local_addr().unwrap()), 1);
    client.set_send_timeout(Duration::from_millis(150));
    client.send_text("fills the queue").unwrap();
    let started = Instant::now();
    match client.send_text("waits") {
        Err(SendError::TimedOut(message)) => assert_eq!(message, Message::text("waits")),
        other => panic!("expected TimedOut, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(150) && waited < PATIENCE, "{waited:?}");
    assert!(
        matches!(client.state(), SessionState::Connecting { .. }),
        "{}",
        client.state()
    );
}

#[test]
fn closing_hands_every_queued_message_back() {
    let listener = silent_listener();
    let mut client = small_queue(&format!("ws://{}/", listener.local_addr().unwrap()), 8);
    let first = client.send_text("first").unwrap();
    let second = client.send_binary(vec![2u8; 10]).unwrap();
    assert!(client.close(CloseCode::NORMAL, "giving up"));
    let mut back = Vec::new();
    while let Some(event) = client.next_event() {
        if let SessionEvent::HandedBack { id, message, reason } = event {
            back.push(HandedBack { id, message, reason });
        }
    }
    assert_eq!(
        back,
        [
            HandedBack {
                id: first,
                message: Message::text("first"),
                reason: HandBackReason::Closed
            },
            HandedBack {
                id: second,
                message: Message::binary(vec![2u8; 10]),
                reason: HandBackReason::Closed
            },
        ]
    );
    assert!(matches!(client.send_text("late"), Err(SendError::Closed(_))));
}

#[test]
fn recv_ends_with_the_reason_and_leaves_hand_backs_to_the_events() {
    let listener = silent_listener();
    let mut client = small_queue(&format!("ws://{}/", listener.local_addr().unwrap()), 8);
    let id = client.send_text("never sent").unwrap();
    assert!(client.close(CloseCode::NORMAL, ""));
    assert_eq!(client.recv(), Err(ClosedReason::User));
    assert_eq!(client.recv(), Err(ClosedReason::User), "and again");
    let back: Vec<_> = std::iter::from_fn(|| client.next_event())
        .filter_map(|event| match event {
            SessionEvent::HandedBack { id, message, .. } => Some((id, message)),
            _ => None,
        })
        .collect();
    assert_eq!(back, [(id, Message::text("never sent"))]);
}

#[test]
fn a_full_event_buffer_skips_the_oldest_events_but_recv_loses_nothing() {
    let server = Server::local(|stream| {
        if let Some(mut ws) = accept(stream) {
            echo(&mut ws);
        }
    });
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .event_capacity(2)
        .connect_blocking()
        .unwrap();
    expect_open(&mut client);
    // Sending and receiving without reading events: 20 `Sent` and 20 messages pass through a
    // buffer of 2 events, and reading never pauses for it.
    for n in 0..20 {
        client.send_text(format!("n{n}")).unwrap();
    }
    for n in 0..20 {
        assert_eq!(client.recv(), Ok(Message::text(format!("n{n}"))));
    }
    let last: Vec<_> = std::iter::from_fn(|| client.next_event_timeout(Duration::ZERO)).collect();
    assert!(
        matches!(&last[..], [SessionEvent::Message(a), SessionEvent::Message(b)]
            if *a == Message::text("n18") && *b == Message::text("n19")),
        "{last:?}"
    );
    let metrics = client.metrics();
    assert_eq!(metrics.events_skipped, 38, "{metrics:?}");
    assert_eq!(metrics.messages_dropped, 0, "{metrics:?}");
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}
