//! Chaos: a loopback tungstenite server (`resock_tests::interop::TungServer`, path `/count`,
//! which logs every numbered text message it receives) is stopped and restarted on the same
//! port 50 times, at random moments, each time either abruptly (every connection dropped
//! without a close frame) or gracefully (closed with 1001), while a client sends a numbered
//! stream as fast as its queue allows. Run for each runtime (tokio's multi-thread and
//! current-thread runtimes both), with the queue's reject policy (sends wait for room) and with
//! drop-oldest (small queue, so outages evict messages).
//!
//! The contract checked for every accepted message (`account`): it ends in exactly one `Sent`
//! or `HandedBack` event; the server receives it at most once and in order (the log is strictly
//! increasing); and it is received, or handed back, or was written (`Sent`) to a connection
//! that then died abruptly, where the kernel may legitimately lose it. Messages written to a
//! connection the server closed gracefully (it reads until the client's close reply), and to the
//! last connection, which the client closes cleanly, must all arrive. The counts are printed.
//!
//! The timing is random; the seed is printed and `RESOCK_CHAOS_SEED=<seed>` replays the same
//! choices (the interleaving with the OS still varies). Every wait is bounded.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use resock::{ClientBuilder, CloseCode, Message};
use resock_core::session::{ClosedReason, HeartbeatConfig, OverflowPolicy, QueueConfig, ReconnectPolicy, SessionState};
use resock_tests::interop::{LIMIT, Runtime, TestClient, TungServer, account, report_line};

/// Server restarts per run.
const RESTARTS: usize = 50;
/// The bound of a whole run.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// SplitMix64: small, seedable, good enough to pick moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    match std::env::var("RESOCK_CHAOS_SEED") {
        Ok(seed) => seed.parse().expect("RESOCK_CHAOS_SEED is a u64"),
        Err(_) => {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
            Rng(nanos ^ u64::from(std::process::id()).rotate_left(32)).next()
        }
    }
}

fn chaos(runtime: Runtime, overflow: OverflowPolicy) {
    let policy = match overflow {
        OverflowPolicy::Reject => "reject",
        OverflowPolicy::DropOldest => "drop-oldest",
    };
    let seed = seed();
    report_line(&format!(
        "chaos {runtime} {policy}: seed {seed} (RESOCK_CHAOS_SEED={seed} replays the choices)"
    ));
    let mut rng = Rng(seed);
    let mut chaos_rng = Rng(rng.next());

    let server = TungServer::start();
    let url = server.url("/count");
    let mut queue = QueueConfig::default();
    queue.max_messages = 64;
    queue.overflow = overflow;
    let builder = ClientBuilder::new(&url)
        .unwrap()
        .heartbeat(HeartbeatConfig::disabled())
        .reconnect(ReconnectPolicy::exponential(
            Duration::from_millis(10),
            Duration::from_millis(100),
        ))
        .open_timeout(Duration::from_secs(5))
        .close_timeout(Duration::from_secs(5))
        .queue(queue)
        // Room for every Sent event between two looks, so none is discarded (checked below).
        .event_capacity(1 << 16);

    let start = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let chaos = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let mut server = server;
            let (mut kills, mut stops, mut missed) = (0, 0, 0);
            for run in 0..RESTARTS {
                // Let the client reach this run of the server, then strike at a random moment.
                if !server.wait_for_handshakes(run + 1, LIMIT) {
                    missed += 1;
                }
                thread::sleep(Duration::from_millis(chaos_rng.below(40)));
                if chaos_rng.below(2) == 0 {
                    server.kill();
                    kills += 1;
                } else {
                    server.stop();
                    stops += 1;
                }
                thread::sleep(Duration::from_millis(chaos_rng.below(30)));
                server.restart();
            }
            done.store(true, Ordering::SeqCst);
            (server, kills, stops, missed)
        })
    };

    let mut client = TestClient::open(runtime, builder);
    let mut ids = HashMap::new();
    let mut n: u64 = 0;
    while !done.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < RUN_LIMIT,
            "the run took over {RUN_LIMIT:?}; state {}",
            client.state()
        );
        for _ in 0..1 + rng.below(16) {
            n += 1;
            match client.send(Message::text(n.to_string())) {
                Ok(id) => {
                    ids.insert(id, n);
                }
                Err(why) => panic!("send of {n} refused: {why}; state {}", client.state()),
            }
        }
        // Drives the blocking client's IO and timers; takes the async clients' events.
        client.process_events_for(Duration::from_millis(1));
    }
    let (mut server, kills, stops, missed) = chaos.join().expect("the chaos thread panicked");
    let chaos_took = start.elapsed();

    assert!(
        client.wait_open(LIMIT),
        "no connection to the last run of the server; state {}",
        client.state()
    );
    let state = client.close(CloseCode::NORMAL, "done");
    assert_eq!(state, SessionState::Closed(ClosedReason::User));
    assert!(client.finish(LIMIT), "the session did not end after its close");
    server.stop();
    let handshakes = server.handshakes();
    let logged: Vec<u64> = server
        .log_lines()
        .iter()
        .filter_map(|l| l.strip_prefix("msg "))
        .map(|n| n.parse().expect("a number"))
        .collect();
    drop(server);

    if let Some(w) = logged.windows(2).find(|w| w[0] >= w[1]) {
        panic!(
            "the server received {} after {}: duplicated or reordered (seed {seed})",
            w[1], w[0]
        );
    }
    assert_eq!(
        client.dropped_events(),
        0,
        "the client discarded events, so the Sent accounting is incomplete"
    );
    let record = client.record();
    let acc = account(&ids, record, &logged);
    let reconnects = record.opened.saturating_sub(1);
    report_line(&format!(
        "chaos {runtime} {policy}: {RESTARTS} restarts ({kills} abrupt, {stops} graceful, {missed} without a client) \
         in {:.1} s; accepted {}, received {}, handed back {} ({} evicted by drop-oldest, {} at the close), \
         sent but lost with the connection {} ({} of them on a connection the server closed \
         gracefully); \
         reconnects {reconnects}, disconnects {}, server handshakes {handshakes}; seed {seed}",
        chaos_took.as_secs_f64(),
        acc.accepted,
        acc.received,
        acc.handed_back,
        acc.dropped,
        acc.handed_back - acc.dropped,
        acc.lost_with_connection,
        acc.lost_on_server_close,
        record.disconnects,
    ));
    assert_eq!(acc.received + acc.handed_back + acc.lost_with_connection, acc.accepted);
    match overflow {
        // Sends wait for room, so only what died with a connection can be missing.
        OverflowPolicy::Reject => {
            assert_eq!(acc.dropped, 0, "the reject policy never evicts");
            assert!(acc.received > acc.accepted / 2, "most messages should arrive: {acc:?}");
        }
        // The sender outpaces the socket, so evictions happen while connected too.
        OverflowPolicy::DropOldest => assert!(acc.received > 0, "nothing arrived: {acc:?}"),
    }
    // A graceful stop reads until the client's close reply, so nothing written before it is lost.
    assert_eq!(
        acc.lost_on_server_close, 0,
        "messages written to a connection the server closed gracefully never arrived: {acc:?}"
    );
    // Every run of the server that the client reached is one reconnect (the first is the open).
    assert!(
        reconnects as usize >= RESTARTS - missed,
        "{reconnects} reconnects for {RESTARTS} restarts ({missed} runs without a client)"
    );
}

#[test]
fn chaos_blocking_reject() {
    chaos(Runtime::Blocking, OverflowPolicy::Reject);
}

#[test]
fn chaos_blocking_drop_oldest() {
    chaos(Runtime::Blocking, OverflowPolicy::DropOldest);
}

#[test]
fn chaos_smol_reject() {
    chaos(Runtime::Smol, OverflowPolicy::Reject);
}

#[test]
fn chaos_smol_drop_oldest() {
    chaos(Runtime::Smol, OverflowPolicy::DropOldest);
}

#[test]
fn chaos_async_std_reject() {
    chaos(Runtime::AsyncStd, OverflowPolicy::Reject);
}

#[test]
fn chaos_async_std_drop_oldest() {
    chaos(Runtime::AsyncStd, OverflowPolicy::DropOldest);
}

#[test]
fn chaos_tokio_multi_thread_reject() {
    chaos(Runtime::Tokio, OverflowPolicy::Reject);
}

#[test]
fn chaos_tokio_multi_thread_drop_oldest() {
    chaos(Runtime::Tokio, OverflowPolicy::DropOldest);
}

#[test]
fn chaos_tokio_current_thread_reject() {
    chaos(Runtime::TokioCurrentThread, OverflowPolicy::Reject);
}

#[test]
fn chaos_tokio_current_thread_drop_oldest() {
    chaos(Runtime::TokioCurrentThread, OverflowPolicy::DropOldest);
}
