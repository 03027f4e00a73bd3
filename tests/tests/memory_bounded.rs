//! Bounded memory, shown with a counting global allocator: 100 000 reconnect cycles (graceful
//! server closes with 1001 and abrupt cuts, alternating) and 1 000 000 echoed messages through
//! an open connection leave the live heap of the test thread flat. Live bytes are compared at
//! 10 % and at 100 % of each run, after the harness's own logs were cleared, so only the
//! session, its connection and the server could grow.

use std::time::{Duration, Instant};

use resock_core::session::ReconnectPolicy;
use resock_core::{CloseCode, Message, SessionState};
use resock_tests::alloc::{self, Counting};
use resock_tests::pair::Pair;

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allowed growth between 10 % and 100 % of a run.
const SLACK: i64 = 64 * 1024;

/// Drops what the pair logs for assertions; keeps the vectors' capacity, which is reached
/// early and then stays.
fn forget_logs(pair: &mut Pair) {
    pair.events.clear();
    pair.connects.clear();
    pair.sent.clear();
    pair.handed_back.clear();
    pair.received.clear();
    pair.frames.clear();
    pair.connect_ids.clear();
    pair.connect_urls.clear();
    pair.disconnect_ids.clear();
    pair.client_reads.clear();
    pair.server.received.clear();
    pair.server.received_on.clear();
    pair.server.requests.clear();
}

fn check_flat(what: &str, at_10: i64, at_100: i64, started: Instant) {
    let growth = at_100 - at_10;
    eprintln!(
        "{what}: live bytes {at_10} at 10 %, {at_100} at 100 % (growth {growth}), {:.2?} wall",
        started.elapsed()
    );
    assert!(growth < SLACK, "{what}: the live heap grew by {growth} bytes");
}

#[test]
fn a_hundred_thousand_reconnect_cycles_keep_the_heap_flat() {
    const CYCLES: u32 = 100_000;
    let started = Instant::now();
    let mut config = Pair::config();
    config.reconnect = ReconnectPolicy::fixed(Duration::from_millis(1));
    let mut pair = Pair::new(config);
    pair.link.latency = Duration::from_millis(1);
    let mut at_10 = 0;
    let mut last_transport = None;
    for cycle in 1..=CYCLES {
        assert!(pair.run_until_open(Duration::from_secs(1)), "cycle {cycle}");
        let transport = pair.session.transport();
        assert_ne!(transport, last_transport, "cycle {cycle}: a new transport each time");
        last_transport = transport;
        // Something queued across every reconnect and something written on every connection.
        pair.send(Message::text("hello"));
        if cycle % 2 == 0 {
            let now = pair.now();
            pair.server.close_all(CloseCode::GOING_AWAY, now);
        } else {
            pair.cut();
        }
        pair.session.send(Message::binary(vec![cycle as u8; 32])).unwrap();
        while *pair.session.state() == SessionState::Open {
            pair.run_for(Duration::from_millis(1));
        }
        if cycle % 1000 == 0 {
            forget_logs(&mut pair);
            if cycle == CYCLES / 10 {
                at_10 = alloc::thread_live_bytes();
            }
        }
    }
    let at_100 = alloc::thread_live_bytes();
    assert_eq!(pair.server.accepted, CYCLES);
    check_flat("100 000 reconnects", at_10, at_100, started);
}

#[test]
fn a_million_messages_keep_the_heap_flat() {
    const BATCH: usize = 100;
    const BATCHES: usize = 10_000;
    let started = Instant::now();
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    let transport = pair.session.transport();
    let mut at_10 = 0;
    let mut echoed = 0;
    for batch in 1..=BATCHES {
        for i in 0..BATCH {
            let message = if i % 2 == 0 {
                Message::text("a text message of some length")
            } else {
                Message::binary(vec![i as u8; 64])
            };
            pair.session.send(message).unwrap();
        }
        pair.run_for(Duration::from_millis(20));
        if batch % 100 == 0 {
            echoed += pair.received.len();
            assert_eq!(pair.sent.len(), 100 * BATCH);
            forget_logs(&mut pair);
            if batch == BATCHES / 10 {
                at_10 = alloc::thread_live_bytes();
            }
        }
    }
    let at_100 = alloc::thread_live_bytes();
    assert_eq!(echoed, BATCH * BATCHES, "every message went to the server and back");
    // One connection all along: the logs were cleared, these two counts were not.
    assert_eq!(pair.server.accepted, 1, "the server accepted one connection");
    assert_eq!(
        pair.session.transport(),
        transport,
        "the session kept its first transport"
    );
    assert_eq!(*pair.session.state(), SessionState::Open);
    check_flat("1 000 000 messages", at_10, at_100, started);
}
