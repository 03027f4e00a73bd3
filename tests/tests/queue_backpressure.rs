//! Backpressure on bytes not yet taken by `poll_transmit`: `is_writable()` turns false above
//! the high-water mark and a single `Writable` event follows once `poll_transmit` has drained
//! below the low-water mark (hysteresis in between). Every accepted message gets one `Sent`
//! event, in order, when its bytes are taken, not before.

use std::time::Duration;

use resock_core::session::{Output, SessionEvent};
use resock_core::{Message, MessageId, SessionState};
use resock_tests::pair::Pair;

const KIB: usize = 1024;

fn config(high: usize, low: usize) -> resock_core::SessionConfig {
    let mut config = Pair::config();
    config.queue.high_water = high * KIB;
    config.queue.low_water = low * KIB;
    config
}

fn kib_message(i: usize) -> Message {
    let mut text = format!("{i:04}:");
    text.push_str(&"x".repeat(KIB - text.len()));
    Message::text(text)
}

/// What the application would see, drained by hand: Sent ids and Writable markers.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Sent(MessageId),
    Writable,
}

fn drain(pair: &mut Pair, seen: &mut Vec<Seen>) {
    while let Some(output) = pair.session.poll_output() {
        match output {
            Output::Event(SessionEvent::Sent(id)) => seen.push(Seen::Sent(id)),
            Output::Event(SessionEvent::Writable) => seen.push(Seen::Writable),
            other => panic!("unexpected output while open: {other:?}"),
        }
    }
}

#[test]
fn writable_turns_false_above_high_water_and_returns_below_low_water() {
    let mut pair = Pair::new(config(32, 8));
    assert!(pair.run_until_open(Duration::from_secs(1)));
    pair.server.echo = false;
    let id = pair.session.transport().unwrap();
    let mut seen = Vec::new();

    // The application sends faster than the driver writes: nothing is polled yet.
    let mut ids = Vec::new();
    for i in 0..90 {
        ids.push(pair.session.send(kib_message(i)).unwrap());
        let buffered = pair.session.buffered_amount();
        assert_eq!(buffered, (i + 1) * KIB);
        assert_eq!(pair.session.is_writable(), buffered <= 32 * KIB, "after message {i}");
    }
    drain(&mut pair, &mut seen);
    assert!(seen.is_empty(), "no Sent before poll_transmit took the bytes: {seen:?}");

    // The driver writes one batch (64 KiB of messages): 26 KiB remain, between the marks.
    let mut wire = Vec::new();
    let n = pair.session.poll_transmit(&mut wire).unwrap();
    assert_eq!(n, wire.len());
    drain(&mut pair, &mut seen);
    assert_eq!(seen, ids[..64].iter().map(|id| Seen::Sent(*id)).collect::<Vec<_>>());
    assert_eq!(pair.session.buffered_amount(), 26 * KIB);
    assert!(
        !pair.session.is_writable(),
        "below high water is not enough: hysteresis until low water"
    );

    // More sends in between the marks keep it unwritable.
    ids.push(pair.session.send(kib_message(90)).unwrap());
    assert!(!pair.session.is_writable());

    // The next batch empties the queue: one Writable, after that batch's Sent events.
    seen.clear();
    pair.session.poll_transmit(&mut wire).unwrap();
    assert!(pair.session.poll_transmit(&mut wire).is_none());
    drain(&mut pair, &mut seen);
    let mut expected: Vec<Seen> = ids[64..].iter().map(|id| Seen::Sent(*id)).collect();
    expected.push(Seen::Writable);
    assert_eq!(seen, expected);
    assert!(pair.session.is_writable());
    assert_eq!(pair.session.buffered_amount(), 0);

    // The bytes reach the server in order.
    let now = pair.now();
    pair.server.data(id, now, &wire);
    pair.run_for(Duration::from_millis(100));
    let texts: Vec<String> = (0..91).map(|i| kib_message(i).as_text().unwrap().to_owned()).collect();
    assert_eq!(pair.server_texts(), texts);
    assert_eq!(*pair.session.state(), SessionState::Open);
}

#[test]
fn a_writable_event_comes_once_per_period_above_high_water() {
    let mut pair = Pair::new(config(32, 8));
    assert!(pair.run_until_open(Duration::from_secs(1)));
    for round in 0..5 {
        // One message above high water; the pair's driver writes it at once.
        pair.session.send(Message::binary(vec![round as u8; 40 * KIB])).unwrap();
        assert!(!pair.session.is_writable());
        pair.run_for(Duration::from_millis(20));
        assert!(pair.session.is_writable());
        // Small messages never cross the mark.
        for _ in 0..10 {
            pair.send(Message::text("small"));
            assert!(pair.session.is_writable());
        }
    }
    let writable = pair
        .events
        .iter()
        .filter(|(_, e)| matches!(e, SessionEvent::Writable))
        .count();
    assert_eq!(writable, 5);
    assert_eq!(pair.sent.len(), 55);
}

#[test]
fn backpressure_covers_the_queue_while_disconnected() {
    let mut pair = Pair::new(config(32, 8));
    pair.server.up = false;
    pair.run_for(Duration::from_millis(100));
    let ids: Vec<MessageId> = (0..40).map(|i| pair.session.send(kib_message(i)).unwrap()).collect();
    assert!(
        !pair.session.is_writable(),
        "40 KiB queued while offline is above high water"
    );
    pair.run_for(Duration::from_secs(10));
    assert!(!pair.session.is_writable());
    assert!(!pair.events.iter().any(|(_, e)| matches!(e, SessionEvent::Writable)));

    pair.server.up = true;
    assert!(pair.run_until_open(Duration::from_secs(60)));
    pair.run_for(Duration::from_millis(50));
    assert!(pair.session.is_writable());
    assert_eq!(pair.sent, ids);
    let sent_at = pair
        .events
        .iter()
        .position(|(_, e)| matches!(e, SessionEvent::Sent(id) if *id == ids[39]));
    let writable_at = pair
        .events
        .iter()
        .position(|(_, e)| matches!(e, SessionEvent::Writable));
    assert!(
        writable_at > sent_at,
        "Writable follows the Sent events that drained the queue"
    );
    assert_eq!(pair.server.received.len(), 40);
}

#[test]
fn sent_events_come_once_per_message_in_order_over_a_long_run() {
    let mut pair = Pair::new(config(4, 1));
    assert!(pair.run_until_open(Duration::from_secs(1)));
    let mut ids = Vec::new();
    for i in 0..2000 {
        if i % 7 == 0 {
            // A burst the driver has not written yet.
            for j in 0..5 {
                ids.push(pair.session.send(Message::text(format!("burst {i}.{j}"))).unwrap());
            }
        }
        ids.push(pair.send(kib_message(i)));
        if i % 100 == 0 {
            pair.run_for(Duration::from_millis(10));
        }
    }
    pair.run_for(Duration::from_millis(100));
    assert_eq!(pair.sent, ids, "one Sent per message, in send order");
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(pair.server.received.len(), ids.len());
    assert!(pair.handed_back.is_empty());
    assert!(pair.session.is_writable());
}
