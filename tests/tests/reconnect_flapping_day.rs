//! 24 simulated hours of a flapping server run in well under a second: virtual time.
//!
//! Every 10 minutes the server drops its connections without a close frame and refuses new
//! ones for 60 s. The session (default policy and heartbeat) reconnects each time, starting
//! from a random first delay within `[0, base]` since every connection was healthy, and is
//! back within one cap of the restore. A message is sent every minute, in the middle of
//! the minute, so none is in flight at a cut; all 1440 arrive in order, exactly once. The
//! clock jumps from deadline to deadline, so the day takes milliseconds of wall time.

use std::time::{Duration, Instant};

use resock_core::session::{ReconnectPolicy, SessionEvent};
use resock_core::{DisconnectReason, Message, SessionState};
use resock_tests::pair::Pair;

const CYCLE: Duration = Duration::from_secs(600);
const DOWN: Duration = Duration::from_secs(60);
const CYCLES: u32 = 24 * 6;

#[test]
fn a_day_of_a_flapping_server_in_virtual_time() {
    let wall = std::time::Instant::now();
    let policy = ReconnectPolicy::default();
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    let start = pair.start();
    let mut restores: Vec<Instant> = Vec::new();
    let mut cuts: Vec<Instant> = Vec::new();
    let mut sent = 0u32;
    for cycle in 0..CYCLES {
        let cycle_start = start + CYCLE * cycle;
        for minute in 0..10u32 {
            if minute == 9 {
                // The server goes down for the last minute of the cycle, then comes back.
                pair.run_until(cycle_start + CYCLE - DOWN);
                assert_eq!(*pair.session.state(), SessionState::Open, "cycle {cycle}");
                cuts.push(pair.now());
                pair.server.up = false;
                pair.cut();
            }
            // The message of the last minute waits in the queue for the reconnect.
            let mid = cycle_start + Duration::from_secs(u64::from(minute) * 60 + 30);
            pair.run_until(mid);
            pair.send(Message::text(format!("m{sent}")));
            sent += 1;
        }
        pair.run_until(cycle_start + CYCLE);
        pair.server.up = true;
        restores.push(pair.now());
    }
    pair.run_for(policy.max_delay + Duration::from_secs(1));
    let elapsed = wall.elapsed();

    assert_eq!(*pair.session.state(), SessionState::Open);
    assert!(pair.elapsed() > Duration::from_secs(24 * 3600));
    // One open per cycle, plus the first.
    let opens: Vec<Instant> = pair
        .events
        .iter()
        .filter(|(_, e)| matches!(e, SessionEvent::Opened { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(opens.len() as u32, CYCLES + 1);
    for (restore, open) in restores.iter().zip(&opens[1..]) {
        let back = *open - *restore;
        assert!(
            back <= policy.max_delay + pair.link.latency * 4,
            "back {back:?} after the restore"
        );
    }
    // Every cut drops a healthy connection: the first retry is within [0, base].
    let disconnects = pair.disconnects();
    for cut in &cuts {
        let (at, reason, retry_at) = disconnects.iter().find(|(at, ..)| at >= cut).unwrap().clone();
        assert_eq!((at, reason), (*cut, DisconnectReason::Reset));
        assert!(retry_at.unwrap() - at <= policy.initial_delay);
    }
    // While down for 60 s: about 1 + 2 + 4 + 8 + 16 s of bounds, so a handful of attempts.
    let per_cycle = pair.connects.len() as f64 / f64::from(CYCLES);
    assert!((3.0..12.0).contains(&per_cycle), "{per_cycle} attempts per outage");
    // Messages: all delivered in order, exactly once; none handed back.
    let texts = pair.server_texts();
    let expected: Vec<String> = (0..sent).map(|i| format!("m{i}")).collect();
    let first_difference = texts.iter().zip(&expected).position(|(a, b)| a != b);
    assert_eq!((texts.len(), first_difference), (expected.len(), None), "delivery");
    assert_eq!(pair.sent.len() as u32, sent);
    assert!(pair.handed_back.is_empty());
    let pongs = pair
        .events
        .iter()
        .filter(|(_, e)| matches!(e, SessionEvent::Pong { .. }))
        .count();
    // Each minute's echo counts as liveness and postpones the next ping: two pings per minute
    // of uptime (20 s and 40 s after the echo), nine minutes a cycle.
    assert!((2400..=2600).contains(&pongs), "{pongs} heartbeat round trips");

    println!(
        "24 h virtual: {} connects, {} opens, {pongs} pongs, {} messages, {} events in {elapsed:?} of wall time",
        pair.connects.len(),
        opens.len(),
        sent,
        pair.events.len()
    );
    assert!(elapsed < Duration::from_secs(5), "a simulated day took {elapsed:?}");
}
