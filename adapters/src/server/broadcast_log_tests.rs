//! The broadcast log on its own: connections with a real core (opened by a real request), no
//! task, no socket; "a task runs" is a call to `take_broadcasts`, "the socket takes the bytes"
//! a call to `poll_transmit`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Instant;

use proptest::prelude::*;
use resock_core::Message;
use resock_core::server::{PreparedMessage, ServerConfig};

use super::{BroadcastLog, Published, Subscription};
use crate::async_driver::DriverWake;
use crate::server::shared::{ConnShared, ConnState, opened_core};

fn open_conn(log: &Arc<BroadcastLog>, config: &ServerConfig, id: u64) -> Arc<ConnShared> {
    let mut core = opened_core(config);
    let mut handshake = Vec::new();
    let _ = core.poll_transmit(&mut handshake);
    Arc::new(ConnShared {
        id,
        peer_addr: SocketAddr::from(([127, 0, 0, 1], 1)),
        state: Mutex::new(ConnState::new(core)),
        wake: DriverWake::default(),
        changed: Default::default(),
        handles: AtomicUsize::new(0),
        evict: AtomicBool::new(false),
        recv_capacity: 4,
        subscription: Subscription::new(log),
    })
}

fn config(max_messages: usize, max_bytes: usize) -> ServerConfig {
    ServerConfig::default()
        .ping_interval(None)
        .idle_timeout(None)
        .max_queued_messages(max_messages)
        .max_queued_bytes(max_bytes)
}

/// A message of `size` bytes (at least 8) that starts with its sequence number.
fn numbered(seq: u64, size: usize) -> PreparedMessage {
    let mut bytes = vec![0u8; size.max(8)];
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    PreparedMessage::new(&Message::binary(bytes))
}

/// The task's round: takes what was broadcast.
fn run(conn: &Arc<ConnShared>) -> bool {
    let mut state = conn.lock();
    conn.take_broadcasts(&mut state, Instant::now())
}

/// The socket takes everything queued: the sequence numbers of the data frames written, and
/// whether a close frame came after them.
fn drain(conn: &Arc<ConnShared>) -> (Vec<u64>, Option<u16>) {
    let mut bytes = Vec::new();
    while conn.lock().core.poll_transmit(&mut bytes).is_some() {}
    let (mut seqs, mut close) = (Vec::new(), None);
    let mut at = 0;
    while at + 2 <= bytes.len() {
        let opcode = bytes[at] & 0x0f;
        let (len, header) = match bytes[at + 1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]])), 4),
            n => (usize::from(n), 2),
        };
        let payload = &bytes[at + header..at + header + len];
        match opcode {
            0x2 => seqs.push(u64::from_le_bytes(payload[..8].try_into().unwrap())),
            0x8 => close = Some(u16::from_be_bytes([payload[0], payload[1]])),
            other => panic!("unexpected opcode {other}"),
        }
        at += header + len;
    }
    (seqs, close)
}

fn notified(conn: &ConnShared) -> bool {
    conn.wake
        .poll_notified(&mut Context::from_waker(Waker::noop()))
        .is_ready()
}

/// No longer open: a close started (its code shows in the frame `drain` finds; the reason
/// shows in core's `Closed` event, once the client answers).
fn closing(conn: &ConnShared) -> bool {
    !conn.lock().core.is_open()
}

#[test]
fn every_subscriber_takes_every_message_in_order_and_the_log_lets_go_of_what_all_took() {
    let config = config(8, 1 << 20);
    let log = Arc::new(BroadcastLog::new(8, 1 << 20));
    let (a, b) = (open_conn(&log, &config, 1), open_conn(&log, &config, 2));
    assert_eq!(
        log.publish(&numbered(99, 16)),
        Published::To(0),
        "nobody subscribed yet"
    );
    assert!(!run(&a) && !run(&b), "subscribing queues nothing");
    for seq in 0..3 {
        assert_eq!(log.publish(&numbered(seq, 16)), Published::To(2));
    }
    assert!(notified(&a) && notified(&b), "both had caught up: both woken");
    assert!(run(&a));
    assert_eq!(log.lock().entries.len(), 3, "b has not taken them");
    assert_eq!(log.publish(&numbered(3, 16)), Published::To(2));
    assert!(notified(&a), "a caught up and asked again");
    assert!(!notified(&b), "b was woken once and has not run since: not twice");
    assert!(run(&b) && run(&a));
    assert!(log.lock().entries.is_empty(), "taken by all: released");
    assert_eq!(drain(&a), (vec![0, 1, 2, 3], None));
    assert_eq!(drain(&b), (vec![0, 1, 2, 3], None));
    assert_eq!(log.take_slow_closes(), 0);
    assert_eq!(
        log.publish(&numbered(4, 1 << 21)),
        Published::TooLarge,
        "larger than a queue"
    );
}

#[test]
fn a_subscriber_whose_queue_fills_is_closed_1008_after_its_messages_and_the_other_is_not() {
    let config = config(4, 1 << 20);
    let log = Arc::new(BroadcastLog::new(4, 1 << 20));
    let (fast, stalled) = (open_conn(&log, &config, 1), open_conn(&log, &config, 2));
    run(&fast);
    run(&stalled);
    let mut seen = Vec::new();
    for seq in 0..10 {
        log.publish(&numbered(seq, 16));
        run(&fast);
        run(&stalled);
        seen.extend(drain(&fast).0);
        if seq == 1 {
            // Two frames reach the stalled one's socket, then it stops reading.
            assert_eq!(drain(&stalled), (vec![0, 1], None));
        }
    }
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    assert_eq!(log.take_slow_closes(), 1);
    assert_eq!(log.take_slow_closes(), 0, "reported once");
    assert!(closing(&stalled));
    assert_eq!(
        drain(&stalled),
        (vec![], Some(1008)),
        "queued messages discarded, then the close"
    );
    assert_eq!(log.lock().subscribers, 1, "the closed one left");
    assert!(log.lock().entries.is_empty());
}

#[test]
fn a_subscriber_pushed_out_of_the_log_before_it_ran_is_closed_1008() {
    let config = config(1024, 1 << 20);
    let log = Arc::new(BroadcastLog::new(3, 1 << 20));
    let (fast, asleep) = (open_conn(&log, &config, 1), open_conn(&log, &config, 2));
    run(&fast);
    run(&asleep);
    for seq in 0..3 {
        log.publish(&numbered(seq, 16));
        run(&fast);
    }
    // Woken by the first publish; it did not run.
    assert!(notified(&asleep));
    log.wake_pushed_out(|| vec![Arc::clone(&fast), Arc::clone(&asleep)]);
    assert!(!notified(&asleep), "nothing was pushed out yet");
    log.publish(&numbered(3, 16));
    run(&fast);
    assert_eq!(drain(&fast).0, vec![0, 1, 2, 3]);
    assert_eq!(log.lock().entries.len(), 3, "bounded: the oldest went");
    assert!(!notified(&asleep), "a publish wakes only the caught-up");
    let _ = notified(&fast); // woken by the publish
    log.wake_pushed_out(|| vec![Arc::clone(&fast), Arc::clone(&asleep)]);
    assert!(notified(&asleep), "woken: its next message is gone");
    assert!(!notified(&fast), "caught up: not woken");
    log.wake_pushed_out(|| vec![Arc::clone(&fast), Arc::clone(&asleep)]);
    assert!(!notified(&asleep), "once per push-out");
    assert!(run(&asleep), "its next message is gone: it is closed");
    assert!(closing(&asleep));
    assert_eq!(drain(&asleep), (vec![], Some(1008)));
    assert_eq!(log.take_slow_closes(), 1);
    assert!(log.lock().entries.is_empty(), "nobody else waits for them");
    log.publish(&numbered(4, 16));
    run(&fast);
    assert_eq!(drain(&fast).0, vec![4]);
}

#[test]
fn a_connection_that_ends_leaves_the_log_and_its_wake_list() {
    let config = config(8, 1 << 20);
    let log = Arc::new(BroadcastLog::new(8, 1 << 20));
    let (a, b) = (open_conn(&log, &config, 1), open_conn(&log, &config, 2));
    run(&a);
    run(&b);
    log.publish(&numbered(0, 16));
    run(&a);
    a.leave_broadcasts();
    b.leave_broadcasts();
    let state = log.lock();
    assert_eq!((state.subscribers, state.entries.len(), state.waiting.len()), (0, 0, 0));
    drop(state);
    assert_eq!(log.publish(&numbered(1, 16)), Published::To(0));
    run(&a);
    assert_eq!(log.lock().subscribers, 0, "one that left never subscribes again");
}

/// A limit from the whole range: tiny, ordinary, huge.
fn limit(ordinary: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = usize> {
    prop_oneof![1..=3usize, ordinary, Just(usize::MAX - 1), Just(usize::MAX)]
}

proptest! {
    /// Over every combination of limits (log and queue alike, as the server sets them) and
    /// sizes: the log never holds more than its limits (the newest message apart, which always
    /// fits), a subscriber that runs and reads after each publish gets every message in order,
    /// one that runs but never reads gets a gap-free prefix and then 1008, and one that never
    /// runs is closed 1008 once anything it needed left the log; no panic.
    #[test]
    fn the_log_stays_bounded_and_each_subscriber_gets_all_or_a_prefix_then_1008(
        max_messages in limit(4..=64),
        max_bytes in limit(8..=4096),
        sizes in proptest::collection::vec(8usize..=300, 1..80),
    ) {
        let config = config(max_messages, max_bytes);
        let log = Arc::new(BroadcastLog::new(max_messages, max_bytes));
        let conns: Vec<_> = (0..3).map(|id| open_conn(&log, &config, id)).collect();
        let (reader, unread, asleep) = (&conns[0], &conns[1], &conns[2]);
        for conn in &conns {
            run(conn);
        }
        let mut read = Vec::new();
        let mut published = 0u64;
        for (seq, &size) in sizes.iter().enumerate() {
            let seq = seq as u64;
            match log.publish(&numbered(seq, size)) {
                Published::TooLarge => prop_assert!(size.max(8) > max_bytes),
                Published::To(_) => published += 1,
            }
            {
                let state = log.lock();
                prop_assert!(state.entries.len() <= max_messages.max(1));
                prop_assert!(state.entries.len() <= 1 || state.bytes <= max_bytes);
            }
            run(reader);
            run(unread);
            read.extend(drain(reader).0);
        }
        let fitting: Vec<u64> = sizes
            .iter()
            .enumerate()
            .filter(|(_, size)| (**size).max(8) <= max_bytes)
            .map(|(seq, _)| seq as u64)
            .collect();
        prop_assert_eq!(&read, &fitting, "the reader got everything that fits, in order");
        prop_assert_eq!(published, fitting.len() as u64);

        let (got, close) = drain(unread);
        prop_assert_eq!(&got[..], &fitting[..got.len()], "a prefix, no gap");
        let unread_closed = close.is_some();
        if unread_closed {
            prop_assert_eq!(close, Some(1008));
            prop_assert!(got.len() < fitting.len());
        } else {
            prop_assert_eq!(got.len(), fitting.len());
        }

        let fell_out = log.lock().first_seq > 0;
        run(asleep);
        let (got, close) = drain(asleep);
        if fell_out {
            prop_assert_eq!((got.len(), close), (0, Some(1008)));
        } else {
            prop_assert_eq!(close, None);
        }
        prop_assert_eq!(
            log.take_slow_closes(),
            usize::from(unread_closed) + usize::from(fell_out)
        );
    }
}
