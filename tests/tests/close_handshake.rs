//! Closing for good. While open: the close frame reaches the server, the handshake completes
//! cleanly (`Closed { 1000, initiator: Local }`) and the state is `Closed(User)`. A server that
//! never answers the close is dropped after `close_timeout` (10 s), with the same final state.
//! While connecting or waiting to retry: closed at once, every queued message handed back.

use std::time::{Duration, Instant};

use resock_core::connection::Initiator;
use resock_core::session::{ClosedReason, HandBackReason, SessionEvent};
use resock_core::{CloseCode, DisconnectReason, Message, MessageId, SessionSendError, SessionState};
use resock_tests::pair::Pair;
use resock_tests::server::Answer;

const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

fn closed_user(rig: &Pair) -> bool {
    *rig.session.state() == SessionState::Closed(ClosedReason::User)
}

fn closed_at(rig: &Pair) -> Instant {
    rig.find_event(|e| matches!(e, SessionEvent::StateChanged(SessionState::Closed(_))))
        .expect("closed")
        .0
}

fn handed_back_closed(rig: &Pair) -> Vec<(MessageId, Message)> {
    rig.events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::HandedBack {
                id,
                message,
                reason: HandBackReason::Closed,
            } => Some((*id, message.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_user_close_while_open_completes_the_handshake() {
    let mut rig = Pair::new(Pair::config());
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let transport = rig.session.transport().unwrap();
    let asked = rig.now();
    rig.session.close(asked, CloseCode::NORMAL, "bye");
    assert_eq!(*rig.session.state(), SessionState::Closing { for_good: true });
    rig.run_for(Duration::from_secs(1));

    // Our close frame: 1000 "bye", written at once.
    let closes = rig.close_frames();
    assert_eq!(closes.len(), 1);
    assert_eq!((closes[0].0, closes[0].1), (asked, transport));
    assert_eq!(closes[0].2.close_code(), Some(1000));
    assert_eq!(closes[0].2.close_reason(), Some("bye"));

    // The server's reply came back one round trip later: a clean close started by us.
    let (at, event) = rig.find_event(|e| matches!(e, SessionEvent::Closed { .. })).unwrap();
    match event {
        SessionEvent::Closed {
            code,
            reason,
            initiator,
        } => {
            assert_eq!(*code, CloseCode::NORMAL);
            assert_eq!(reason, "", "the server echoes the code without a reason");
            assert_eq!(*initiator, Initiator::Local);
        }
        _ => unreachable!(),
    }
    assert_eq!(at - asked, 2 * rig.link.latency);
    assert!(closed_user(&rig));
    assert_eq!(closed_at(&rig), at);
    assert_eq!(rig.disconnect_ids, [(at, transport)]);
    assert!(rig.server.connections() == 0, "the server closed its side too");
    assert_eq!(
        rig.states(),
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
    let disconnected: Vec<_> = rig
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::Disconnected { reason, retry_at, .. } => Some((reason.clone(), *retry_at)),
            _ => None,
        })
        .collect();
    assert_eq!(disconnected, [(DisconnectReason::UserClosed, None)]);
    assert!(
        !rig.events.iter().any(|(_, e)| matches!(e, SessionEvent::Error(_))),
        "a user close is no error"
    );

    // Closed for good: no reconnect, sends are refused with the message handed back.
    rig.run_for(Duration::from_secs(3600));
    assert_eq!(rig.connect_ids.len(), 1);
    let refused = rig.session.send(Message::text("late")).unwrap_err();
    assert_eq!(refused, SessionSendError::Closed(Message::text("late")));
    assert_eq!(rig.session.poll_timeout(), None);
}

#[test]
fn a_server_that_never_answers_the_close_is_dropped_after_the_close_timeout() {
    let mut rig = Pair::new(Pair::config());
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let transport = rig.session.transport().unwrap();
    rig.server.stall_all();
    let asked = rig.now();
    rig.session.close(asked, CloseCode::NORMAL, "bye");
    rig.run_for(CLOSE_TIMEOUT - Duration::from_millis(1));
    assert_eq!(
        *rig.session.state(),
        SessionState::Closing { for_good: true },
        "still waiting for the reply"
    );
    assert!(rig.disconnect_ids.is_empty());
    rig.run_for(Duration::from_secs(1));
    assert!(closed_user(&rig));
    assert_eq!(closed_at(&rig) - asked, CLOSE_TIMEOUT);
    assert_eq!(rig.disconnect_ids, [(asked + CLOSE_TIMEOUT, transport)]);
    assert_eq!(rig.close_frames().len(), 1, "the close frame is not repeated");
    assert!(
        !rig.events.iter().any(|(_, e)| matches!(e, SessionEvent::Closed { .. })),
        "no clean close"
    );
    assert_eq!(
        rig.connect_ids.len(),
        1,
        "a user close never reconnects, even after a timeout"
    );
}

#[test]
fn a_close_shortly_before_a_heartbeat_ping_still_times_out_on_schedule() {
    // The ping would be due 5 s into the close handshake: the heartbeat must not keep the
    // session busy (or fire) while closing.
    let mut rig = Pair::new(Pair::config());
    assert!(rig.run_until_open(Duration::from_secs(1)));
    rig.run_for(Duration::from_secs(15));
    rig.server.stall_all();
    let asked = rig.now();
    rig.session.close(asked, CloseCode::NORMAL, "");
    rig.run_for(Duration::from_secs(30));
    assert!(closed_user(&rig));
    assert_eq!(closed_at(&rig) - asked, CLOSE_TIMEOUT);
    assert!(rig.pings().is_empty(), "no ping after our close frame");
}

#[test]
fn a_close_while_a_ping_is_outstanding_waits_for_the_close_reply_not_the_pong() {
    let mut rig = Pair::new(Pair::config());
    rig.server.answer_pings = false;
    assert!(rig.run_until_open(Duration::from_secs(1)));
    rig.run_for(Duration::from_secs(30));
    assert_eq!(rig.pings().len(), 1);
    let asked = rig.now();
    rig.session.close(asked, CloseCode::NORMAL, "");
    rig.run_for(Duration::from_secs(30));
    assert!(closed_user(&rig));
    assert_eq!(closed_at(&rig) - asked, 2 * rig.link.latency);
    assert!(
        !rig.events.iter().any(|(_, e)| matches!(
            e,
            SessionEvent::Disconnected {
                reason: DisconnectReason::PongTimeout,
                ..
            }
        )),
        "the pong deadline does not apply to a closing connection"
    );
}

#[test]
fn a_close_while_connecting_closes_at_once_and_hands_back_the_queue() {
    let mut rig = Pair::new(Pair::config());
    rig.server.answer = Answer::Silent;
    rig.run_for(Duration::from_millis(100));
    assert!(matches!(rig.session.state(), SessionState::Connecting { .. }));
    assert!(rig.has_transport(), "the TCP connection is up, the handshake hangs");
    let ids: Vec<MessageId> = (0..5).map(|i| rig.send(Message::text(format!("m{i}")))).collect();
    let asked = rig.now();
    rig.session.close(asked, CloseCode::NORMAL, "never mind");
    assert!(closed_user(&rig), "closed at once");
    rig.run_for(Duration::from_millis(1));
    let back = handed_back_closed(&rig);
    let expected: Vec<(MessageId, Message)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, Message::text(format!("m{i}"))))
        .collect();
    assert_eq!(back, expected, "every queued message, in order");
    assert_eq!(rig.disconnect_ids.len(), 1, "the transport is released");
    assert_eq!(rig.disconnect_ids[0].0, asked);
    assert!(
        rig.close_frames().is_empty(),
        "no close frame before the handshake completed"
    );
    assert!(rig.sent.is_empty());
    rig.run_for(Duration::from_secs(60));
    assert_eq!(rig.connect_ids.len(), 1);
    assert_eq!(rig.session.queued_messages(), 0);
}

#[test]
fn a_close_while_waiting_to_retry_closes_at_once_and_hands_back_the_queue() {
    let mut rig = Pair::new(Pair::config());
    rig.server.up = false;
    rig.run_for(Duration::from_millis(100));
    assert!(matches!(rig.session.state(), SessionState::WaitingToRetry { .. }));
    for i in 0..3 {
        rig.send(Message::binary(vec![i; 10]));
    }
    let asked = rig.now();
    rig.session.close(asked, CloseCode::NORMAL, "");
    assert!(closed_user(&rig));
    rig.run_for(Duration::from_secs(120));
    assert_eq!(rig.handed_back, [MessageId(0), MessageId(1), MessageId(2)]);
    assert_eq!(closed_at(&rig), asked);
    assert_eq!(rig.connect_ids.len(), 1, "the pending retry is cancelled");
    assert_eq!(rig.session.poll_timeout(), None);
}

#[test]
fn a_close_before_connect_and_a_second_close_are_harmless() {
    let mut rig = Pair::new(Pair::config());
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let asked = rig.now();
    rig.session.close(asked, CloseCode::NORMAL, "first");
    rig.session.close(asked, CloseCode::GOING_AWAY, "second");
    rig.run_for(Duration::from_secs(1));
    let closes = rig.close_frames();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].2.close_reason(), Some("first"));
    assert!(closed_user(&rig));
}

#[test]
fn a_reserved_code_becomes_1000_and_a_long_reason_is_cut_between_words() {
    let mut rig = Pair::new(Pair::config());
    assert!(rig.run_until_open(Duration::from_secs(1)));
    // 10 bytes a phrase, multibyte characters inside the words: 200 bytes in all.
    let reason = "déjà vu ".repeat(20);
    let now = rig.now();
    rig.session.close(now, CloseCode(1006), &reason);
    rig.run_for(Duration::from_secs(1));
    let frame = &rig.close_frames()[0].2;
    assert_eq!(frame.close_code(), Some(1000), "1006 may not be sent");
    let sent = frame.close_reason().unwrap();
    assert_eq!(
        sent,
        "déjà vu ".repeat(12).trim_end(),
        "123 bytes at most, whole words only"
    );
    assert!(closed_user(&rig));
}

#[test]
fn a_reason_that_is_one_word_too_long_is_left_out_rather_than_cut() {
    let mut rig = Pair::new(Pair::config());
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let now = rig.now();
    rig.session.close(now, CloseCode::NORMAL, &"é".repeat(100));
    rig.run_for(Duration::from_secs(1));
    let frame = &rig.close_frames()[0].2;
    assert_eq!(frame.close_code(), Some(1000));
    assert_eq!(frame.close_reason(), Some(""));
}

#[test]
fn messages_sent_while_the_server_is_closing_are_not_lost() {
    // The server starts a close (a restart) and, at the same time, the application closes:
    // queued messages that can no longer be written are handed back, never dropped silently.
    let mut rig = Pair::new(Pair::config());
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let now = rig.now();
    rig.server.close_all(CloseCode::GOING_AWAY, now);
    rig.run_for(rig.link.latency + Duration::from_micros(1));
    assert_eq!(*rig.session.state(), SessionState::Closing { for_good: false });
    let ids: Vec<MessageId> = (0..3).map(|i| rig.send(Message::text(format!("late {i}")))).collect();
    let asked = rig.now();
    rig.session.close(asked, CloseCode::NORMAL, "");
    rig.run_for(Duration::from_secs(30));
    assert!(closed_user(&rig));
    assert_eq!(rig.handed_back, ids);
    assert!(rig.sent.is_empty());
    assert!(rig.server.received.is_empty());
}
