//! The session connects, exchanges messages, reports its states and closes on request.

use std::time::Duration;

use resock_core::session::{ClosedReason, SessionEvent};
use resock_core::{CloseCode, Message, SessionState};
use resock_tests::pair::{Pair, texts};

#[test]
fn connects_echoes_and_closes_cleanly() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    assert_eq!(
        pair.elapsed(),
        Duration::from_millis(20),
        "TCP 2x5 ms, then the handshake 2x5 ms"
    );
    let a = pair.send(Message::text("one"));
    let b = pair.send(Message::binary(vec![1, 2, 3]));
    pair.run_for(Duration::from_millis(50));
    assert_eq!(pair.sent, [a, b]);
    assert_eq!(pair.received, [Message::text("one"), Message::binary(vec![1, 2, 3])]);
    let now = pair.now();
    pair.session.close(now, CloseCode::NORMAL, "bye");
    pair.run_for(Duration::from_secs(1));
    assert_eq!(*pair.session.state(), SessionState::Closed(ClosedReason::User));
    assert_eq!(
        pair.states(),
        [
            SessionState::Connecting {
                attempt: 1,
                reconnect: false
            },
            SessionState::Open,
            SessionState::Closing { for_good: true },
            SessionState::Closed(ClosedReason::User)
        ]
    );
    assert!(
        pair.events
            .iter()
            .any(|(_, e)| matches!(e, SessionEvent::Closed { code, .. } if *code == CloseCode::NORMAL))
    );
    assert!(!pair.has_transport());
}

#[test]
fn messages_sent_before_the_handshake_wait_and_go_in_order() {
    let mut pair = Pair::new(Pair::config());
    for i in 0..10 {
        pair.send(Message::text(format!("early {i}")));
    }
    assert!(pair.sent.is_empty());
    pair.run_for(Duration::from_millis(100));
    let expected: Vec<String> = (0..10).map(|i| format!("early {i}")).collect();
    assert_eq!(pair.server_texts(), expected);
    assert_eq!(texts(&pair.received), expected);
    assert_eq!(pair.sent.len(), 10);
}

#[test]
fn close_drains_the_queue_before_the_close_frame() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    pair.server.echo = false;
    for i in 0..100 {
        pair.session.send(Message::text(format!("m{i}"))).unwrap();
    }
    let now = pair.now();
    pair.session.close(now, CloseCode::NORMAL, "done");
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.server.received.len(), 100);
    assert_eq!(pair.sent.len(), 100);
    assert!(pair.handed_back.is_empty());
    assert!(pair.session.send(Message::text("late")).is_err());
}

/// The states a UI shows without keeping history: the first connection, a server's close, the
/// wait and the reconnect (told apart from the first connection), and a close for good.
#[test]
fn the_states_tell_a_first_connection_from_a_reconnect_and_a_close_for_good() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    let now = pair.now();
    pair.server.close_all(CloseCode::GOING_AWAY, now);
    assert!(pair.run_until_cond(Duration::from_secs(60), |p| p.session.metrics().connections == 2));
    let now = pair.now();
    pair.session.close(now, CloseCode::NORMAL, "bye");
    pair.run_for(Duration::from_secs(1));
    let states = pair.states();
    let shown: Vec<String> = states.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "connecting (attempt 1)",
            "open",
            "closing",
            // Open for less than `healthy_after`: the count goes on.
            "waiting to retry (attempt 2 next)",
            "reconnecting (attempt 2)",
            "open",
            "closing for good",
            "closed: closed by the application",
        ],
        "{states:?}"
    );
    assert!(matches!(states[3], SessionState::WaitingToRetry { retry_in, .. } if retry_in <= Duration::from_secs(1)));
}
