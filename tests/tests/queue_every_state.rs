//! `send` works in every state but closed-for-good: idle, connecting, open, closing (a server
//! restart under way) and waiting to retry. Messages that cannot be written yet wait in the
//! queue and go out in order right after the next handshake; when the session closes for good
//! for any reason (a fatal close code, exhausted retries), every unsent one is handed back.

use std::time::{Duration, Instant};

use resock_core::session::{ClosedReason, HandBackReason, ReconnectPolicy, SessionEvent};
use resock_core::{CloseCode, Message, MessageId, Session, SessionSendError, SessionState};
use resock_tests::pair::Pair;

#[test]
fn an_idle_session_accepts_messages() {
    let now = Instant::now();
    let mut session = Session::new(Pair::config(), [1; 32], now);
    assert_eq!(*session.state(), SessionState::Idle);
    let a = session.send(Message::text("before connect")).unwrap();
    let b = session.send(Message::text("still before")).unwrap();
    assert!(a < b);
    assert_eq!(session.queued_messages(), 2);
    assert_eq!(session.buffered_amount(), "before connect".len() + "still before".len());
}

#[test]
fn messages_sent_in_every_state_arrive_in_order_after_the_next_handshake() {
    let mut config = Pair::config();
    config.reconnect = ReconnectPolicy::fixed(Duration::from_secs(2));
    let mut pair = Pair::new(config);
    pair.server.echo = false;
    let mut expected = Vec::new();
    let mut send = |pair: &mut Pair, label: &str| {
        for i in 0..3 {
            let text = format!("{label} {i}");
            pair.session.send(Message::text(text.clone())).unwrap();
            expected.push(text);
        }
    };

    assert!(matches!(pair.session.state(), SessionState::Connecting { .. }));
    send(&mut pair, "connecting");
    assert!(pair.run_until_open(Duration::from_secs(1)));
    send(&mut pair, "open");
    pair.run_for(Duration::from_millis(50));

    // A graceful server restart: the close frame arrived, the handshake is finishing.
    pair.server.up = false;
    let now = pair.now();
    pair.server.close_all(CloseCode::GOING_AWAY, now);
    pair.run_for(pair.link.latency + Duration::from_micros(1));
    assert_eq!(*pair.session.state(), SessionState::Closing { for_good: false });
    send(&mut pair, "closing");

    pair.run_for(Duration::from_millis(100));
    assert!(matches!(pair.session.state(), SessionState::WaitingToRetry { .. }));
    send(&mut pair, "waiting");
    pair.run_for(Duration::from_secs(2) + Duration::from_millis(1));
    assert!(matches!(
        pair.session.state(),
        SessionState::Connecting { .. } | SessionState::WaitingToRetry { .. }
    ));
    send(&mut pair, "refused");

    pair.server.up = true;
    assert!(pair.run_until_open(Duration::from_secs(10)));
    let reopened = pair.now();
    pair.run_for(Duration::from_millis(50));
    assert_eq!(pair.server_texts(), expected);
    assert_eq!(pair.sent.len(), expected.len());
    assert!(pair.sent.windows(2).all(|w| w[0] < w[1]));
    // The backlog goes out at the open, before anything else.
    let backlog_sent_at: Vec<Instant> = pair
        .events
        .iter()
        .filter(|(_, e)| matches!(e, SessionEvent::Sent(_)))
        .skip(6)
        .map(|(t, _)| *t)
        .collect();
    assert!(
        backlog_sent_at.iter().all(|t| *t == reopened),
        "written right after the handshake"
    );
}

fn handed_back(pair: &Pair) -> Vec<(MessageId, HandBackReason)> {
    pair.events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::HandedBack { id, reason, .. } => Some((*id, *reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_fatal_close_from_the_server_hands_back_the_queue() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    // The server says policy violation (1008), not retried by default; meanwhile the
    // application queued messages behind a closing connection.
    let now = pair.now();
    pair.server.close_all(CloseCode(1008), now);
    pair.run_for(pair.link.latency + Duration::from_micros(1));
    let ids: Vec<MessageId> = (0..4)
        .map(|i| pair.session.send(Message::text(format!("q{i}"))).unwrap())
        .collect();
    pair.run_for(Duration::from_secs(1));
    assert!(matches!(
        pair.session.state(),
        SessionState::Closed(ClosedReason::Fatal(_))
    ));
    let expected: Vec<_> = ids.iter().map(|id| (*id, HandBackReason::Closed)).collect();
    assert_eq!(handed_back(&pair), expected);
    let refused = pair.session.send(Message::text("after")).unwrap_err();
    assert!(matches!(refused, SessionSendError::Closed(m) if m == Message::text("after")));
}

#[test]
fn exhausted_retries_hand_back_the_queue() {
    let mut config = Pair::config();
    config.reconnect = ReconnectPolicy::fixed(Duration::from_millis(100)).max_attempts(3);
    let mut pair = Pair::new(config);
    pair.server.up = false;
    let ids: Vec<MessageId> = (0..5)
        .map(|i| pair.session.send(Message::text(format!("q{i}"))).unwrap())
        .collect();
    pair.run_for(Duration::from_secs(5));
    assert!(matches!(
        pair.session.state(),
        SessionState::Closed(ClosedReason::RetriesExhausted(_))
    ));
    assert_eq!(pair.handed_back, ids);
    assert!(pair.sent.is_empty());
    assert_eq!(pair.session.queued_messages(), 0);
    assert_eq!(pair.session.buffered_amount(), 0);
}

#[test]
fn connect_after_closed_for_good_accepts_again() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    let now = pair.now();
    pair.session.close(now, CloseCode::NORMAL, "");
    pair.run_for(Duration::from_secs(1));
    assert!(pair.session.send(Message::text("refused")).is_err());
    let now = pair.now();
    pair.session.connect(now);
    let id = pair.session.send(Message::text("accepted again")).unwrap();
    assert!(pair.run_until_open(Duration::from_secs(1)));
    pair.run_for(Duration::from_millis(50));
    assert_eq!(pair.sent.last(), Some(&id));
    assert_eq!(pair.server_texts(), ["accepted again"]);
}
