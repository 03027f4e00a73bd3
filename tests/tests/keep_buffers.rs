//! `Session::keep_buffers`: a busy session keeps the allocations of its drained buffers (the
//! list of messages in flight, the queue of outputs, the receive buffer) for the next batch,
//! and frees them all when told it has gone quiet; by default it frees each one as soon as it
//! is drained. Counted with a counting allocator on the simulator (session, link and echo
//! server on this thread).

use std::time::{Duration, Instant};

use resock_core::sim::Sim;
use resock_core::{Message, SessionConfig, SessionState};
use resock_tests::alloc::{Counting, thread_allocations, thread_live_bytes};

#[global_allocator]
static ALLOC: Counting = Counting;

const BATCH: usize = 200;

fn open_sim() -> Sim {
    let config = SessionConfig::new("ws://server.test/".parse().unwrap());
    let mut sim = Sim::new(config, [3; 32], Instant::now());
    sim.session.connect(sim.now());
    assert!(sim.run_until_open(Duration::from_secs(1)));
    sim
}

/// Sends a batch of 100 B messages in one go and runs until every echo is back; then empties
/// the simulator's records without freeing them, so that only the session's buffers change
/// what the thread holds. Returns the allocations the batch made.
fn echo_batch(sim: &mut Sim) -> u64 {
    let before = thread_allocations();
    for n in 0..BATCH {
        sim.session.send(Message::binary(vec![n as u8; 100])).unwrap();
    }
    assert!(sim.run_until(Duration::from_secs(1), |sim| sim.received.len() >= BATCH));
    let made = thread_allocations() - before;
    assert_eq!(sim.received.len(), BATCH);
    sim.received.clear();
    sim.events.clear();
    sim.sent.clear();
    sim.network.server.received.clear();
    sim.network.server.received_on.clear();
    sim.network.written.clear();
    sim.client_reads.clear();
    made
}

#[test]
fn a_busy_session_reuses_its_buffers_and_frees_them_when_told_it_is_quiet() {
    let mut sim = open_sim();
    // Warm-up: the simulator's own records reach their size.
    echo_batch(&mut sim);
    echo_batch(&mut sim);
    let released = thread_live_bytes();
    let unkept = echo_batch(&mut sim);
    assert!(
        thread_live_bytes() <= released + 1024,
        "by default the drained buffers are freed: {} bytes more",
        thread_live_bytes() - released
    );

    sim.session.keep_buffers(true);
    echo_batch(&mut sim);
    let held = thread_live_bytes() - released;
    // The in-flight list and the outputs' queue of a 200-message batch, at least.
    assert!(held >= 200 * 16, "kept buffers hold {held} bytes");
    let kept = echo_batch(&mut sim);
    assert!(
        kept + 3 <= unkept,
        "a kept batch allocates no buffers: {kept} allocations against {unkept}"
    );
    assert!(
        thread_live_bytes() - released <= held + 1024,
        "kept buffers are reused, not grown"
    );

    sim.session.keep_buffers(false);
    assert!(
        thread_live_bytes() <= released + 1024,
        "quiet: every drained buffer is freed at once ({} bytes more)",
        thread_live_bytes() - released
    );
    // And kept again across a reconnect.
    sim.session.keep_buffers(true);
    sim.cut();
    assert!(sim.run_until(Duration::from_secs(60), |sim| {
        sim.connects.len() == 2 && *sim.session.state() == SessionState::Open
    }));
    echo_batch(&mut sim);
    let kept_after_reconnect = echo_batch(&mut sim);
    assert!(
        kept_after_reconnect <= kept,
        "the setting holds across reconnects: {kept_after_reconnect} allocations against {kept}"
    );
}
