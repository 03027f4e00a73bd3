//! Both overflow policies of the outbound queue while disconnected. `Reject` (the default)
//! refuses a send at 1024 messages or 4 MiB and hands the message straight back; a single
//! message over the byte bound is `TooLarge` under either policy. `DropOldest` accepts the
//! new message and hands the oldest back in a `HandedBack { reason: Dropped }` event. After the
//! reconnect, whatever was kept is delivered in order.

use std::time::Duration;

use resock_core::session::{HandBackReason, OverflowPolicy, QueueConfig, SessionEvent};
use resock_core::{Message, MessageId, SessionSendError, SessionState};
use resock_tests::pair::Pair;

const MIB: usize = 1 << 20;

/// A pair whose server refuses connections, so every send waits in the queue.
fn offline(tune: impl FnOnce(&mut QueueConfig)) -> Pair {
    let mut config = Pair::config();
    tune(&mut config.queue);
    let mut pair = Pair::new(config);
    pair.server.up = false;
    pair.run_for(Duration::from_millis(100));
    assert!(matches!(pair.session.state(), SessionState::WaitingToRetry { .. }));
    pair
}

/// Lets the server accept again and runs until everything queued went out.
fn come_back(pair: &mut Pair) {
    pair.server.up = true;
    assert!(pair.run_until_open(Duration::from_secs(60)));
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.session.queued_messages(), 0);
}

fn numbered(i: usize) -> Message {
    Message::text(format!("m{i}"))
}

fn dropped(pair: &Pair) -> Vec<(MessageId, Message)> {
    pair.events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::HandedBack {
                id,
                message,
                reason: HandBackReason::Dropped,
            } => Some((*id, message.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn reject_refuses_the_1025th_message_and_hands_it_back() {
    let mut pair = offline(|_| {});
    assert_eq!(
        pair.session.config().queue.overflow,
        OverflowPolicy::Reject,
        "the default"
    );
    let ids: Vec<MessageId> = (0..1024).map(|i| pair.session.send(numbered(i)).unwrap()).collect();
    assert_eq!(pair.session.queued_messages(), 1024);
    for attempt in 0..3 {
        match pair.session.send(Message::text("one too many")) {
            Err(SessionSendError::QueueFull(m)) => assert_eq!(m, Message::text("one too many"), "attempt {attempt}"),
            other => panic!("expected QueueFull, got {other:?}"),
        }
    }
    assert_eq!(pair.session.queued_messages(), 1024, "a refused send changes nothing");
    come_back(&mut pair);
    assert_eq!(pair.sent, ids);
    let expected: Vec<String> = (0..1024).map(|i| format!("m{i}")).collect();
    assert_eq!(pair.server_texts(), expected);
    assert!(pair.handed_back.is_empty());
}

#[test]
fn reject_refuses_at_4_mib_even_with_few_messages() {
    let mut pair = offline(|_| {});
    for _ in 0..4 {
        pair.session.send(Message::binary(vec![7u8; MIB])).unwrap();
    }
    assert_eq!(pair.session.buffered_amount(), 4 * MIB);
    let back = pair.session.send(Message::text("x")).unwrap_err();
    assert!(matches!(&back, SessionSendError::QueueFull(_)));
    assert_eq!(back.into_message(), Message::text("x"));
    // An empty message takes no bytes but still a slot: it fits.
    pair.session.send(Message::text("")).unwrap();
    come_back(&mut pair);
    assert_eq!(pair.server.received.len(), 5);
    assert_eq!(pair.server.received[4], Message::text(""));
}

#[test]
fn one_message_over_the_byte_bound_is_too_large_under_either_policy() {
    for overflow in [OverflowPolicy::Reject, OverflowPolicy::DropOldest] {
        let mut pair = offline(|q| q.overflow = overflow);
        pair.session.send(Message::text("before")).unwrap();
        let huge = Message::binary(vec![0u8; 4 * MIB + 1]);
        match pair.session.send(huge.clone()) {
            Err(SessionSendError::TooLarge(m)) => assert_eq!(m, huge),
            other => panic!("{overflow:?}: expected TooLarge, got {other:?}"),
        }
        // Exactly the bound fits once the queue is empty of anything else; under DropOldest
        // it evicts "before" to make room.
        let exact = pair.session.send(Message::binary(vec![0u8; 4 * MIB]));
        match overflow {
            OverflowPolicy::Reject => assert!(matches!(exact, Err(SessionSendError::QueueFull(_)))),
            OverflowPolicy::DropOldest => {
                exact.unwrap();
                pair.run_for(Duration::from_millis(1));
                assert_eq!(dropped(&pair), [(MessageId(0), Message::text("before"))]);
            }
        }
        assert!(dropped(&pair).len() <= 1, "{overflow:?}: TooLarge evicted nothing");
    }
}

#[test]
fn drop_oldest_hands_back_the_oldest_and_keeps_the_newest() {
    let mut pair = offline(|q| q.overflow = OverflowPolicy::DropOldest);
    let ids: Vec<MessageId> = (0..1034).map(|i| pair.session.send(numbered(i)).unwrap()).collect();
    assert_eq!(pair.session.queued_messages(), 1024);
    pair.run_for(Duration::from_millis(1));
    let gone = dropped(&pair);
    let expected: Vec<(MessageId, Message)> = (0..10).map(|i| (ids[i], numbered(i))).collect();
    assert_eq!(gone, expected, "the ten oldest, oldest first, each with its message");

    come_back(&mut pair);
    assert_eq!(pair.sent, ids[10..], "the kept ones, in order");
    let texts: Vec<String> = (10..1034).map(|i| format!("m{i}")).collect();
    assert_eq!(pair.server_texts(), texts);
    // Every accepted id ended exactly once: written or handed back.
    let mut all: Vec<MessageId> = pair.sent.iter().chain(&pair.handed_back).copied().collect();
    all.sort();
    assert_eq!(all, ids);
}

#[test]
fn drop_oldest_evicts_as_many_as_the_byte_bound_needs() {
    let mut pair = offline(|q| {
        q.overflow = OverflowPolicy::DropOldest;
        q.max_bytes = 1000;
    });
    for i in 0..10 {
        pair.session.send(Message::binary(vec![i as u8; 100])).unwrap();
    }
    assert_eq!(pair.session.buffered_amount(), 1000);
    let big = pair.session.send(Message::binary(vec![0xff; 450])).unwrap();
    pair.run_for(Duration::from_millis(1));
    let gone = dropped(&pair);
    assert_eq!(gone.iter().map(|(id, _)| id.0).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert_eq!(pair.session.buffered_amount(), 950);
    come_back(&mut pair);
    assert_eq!(pair.server.received.len(), 6);
    assert_eq!(pair.server.received[0], Message::binary(vec![5u8; 100]));
    assert_eq!(*pair.sent.last().unwrap(), big);
}

#[test]
fn small_custom_bounds_apply_while_connecting_too() {
    let mut config = Pair::config();
    config.queue.max_messages = 3;
    let mut pair = Pair::new(config);
    // Still connecting: the handshake has not completed.
    assert!(matches!(pair.session.state(), SessionState::Connecting { .. }));
    for i in 0..3 {
        pair.session.send(numbered(i)).unwrap();
    }
    assert!(matches!(
        pair.session.send(numbered(3)),
        Err(SessionSendError::QueueFull(_))
    ));
    assert!(pair.run_until_open(Duration::from_secs(1)));
    pair.run_for(Duration::from_millis(50));
    assert_eq!(pair.server_texts(), ["m0", "m1", "m2"]);
    // Open: the queue drains at every poll, so the bound is no limit on throughput.
    for i in 3..100 {
        pair.send(numbered(i));
    }
    pair.run_for(Duration::from_millis(50));
    assert_eq!(pair.server.received.len(), 100);
}
