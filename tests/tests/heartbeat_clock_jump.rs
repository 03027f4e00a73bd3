//! A clock jump (a laptop waking from sleep, a process resumed in a debugger) triggers one
//! liveness check, not a burst of the pings that would have gone out meanwhile, and never an
//! instant death sentence: a live server answers the one ping and the connection stays up; a
//! dead one is detected one timeout after the jump.

use std::time::{Duration, Instant};

use resock_core::session::SessionEvent;
use resock_core::{DisconnectReason, SessionState};
use resock_tests::pair::Pair;

const INTERVAL: Duration = Duration::from_secs(20);
const TIMEOUT: Duration = Duration::from_secs(20);
const HOUR: Duration = Duration::from_secs(3600);

fn pong_timeouts(rig: &Pair) -> Vec<Instant> {
    rig.events
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                SessionEvent::Disconnected {
                    reason: DisconnectReason::PongTimeout,
                    ..
                }
            )
        })
        .map(|(t, _)| *t)
        .collect()
}

fn pong_events(rig: &Pair) -> usize {
    rig.events
        .iter()
        .filter(|(_, e)| matches!(e, SessionEvent::Pong { .. }))
        .count()
}

fn open_rig() -> Pair {
    let mut rig = Pair::new(Pair::config());
    assert!(rig.run_until_open(Duration::from_secs(1)));
    rig.run_for(Duration::from_secs(5));
    assert!(rig.pings().is_empty());
    rig
}

#[test]
fn a_jump_of_an_hour_sends_exactly_one_ping_and_a_live_server_stays_connected() {
    let mut rig = open_rig();
    rig.jump(HOUR);
    let woke = rig.now();
    assert_eq!(rig.pings(), [woke], "one ping at wake-up instead of 180 overdue ones");
    rig.run_for(Duration::from_millis(500));
    assert_eq!(rig.pings().len(), 1, "no burst after the first one either");
    assert_eq!(pong_events(&rig), 1, "the server answered the liveness check");
    let rtt = rig.session.rtt().unwrap();
    assert_eq!(rtt.latest, 2 * rig.link.latency);

    // Back to the normal rhythm, with no pong timeout and no reconnect.
    rig.run_for(Duration::from_secs(60));
    assert!(pong_timeouts(&rig).is_empty());
    assert_eq!(*rig.session.state(), SessionState::Open);
    assert_eq!(rig.connect_ids.len(), 1);
    let pings = rig.pings();
    assert_eq!(
        pings.len(),
        4,
        "{:?}",
        pings.iter().map(|p| *p - woke).collect::<Vec<_>>()
    );
    for pair in pings.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= INTERVAL && gap <= INTERVAL + 2 * rig.link.latency, "{gap:?}");
    }
}

#[test]
fn a_jump_with_a_dead_server_is_detected_one_timeout_after_waking() {
    let mut rig = open_rig();
    rig.server.stall_all();
    rig.jump(HOUR);
    let woke = rig.now();
    assert!(
        pong_timeouts(&rig).is_empty(),
        "not declared dead on wake-up without a check"
    );
    assert_eq!(*rig.session.state(), SessionState::Open);
    rig.run_for(TIMEOUT + Duration::from_millis(100));
    assert_eq!(rig.pings(), [woke], "a single check");
    assert_eq!(pong_timeouts(&rig), [woke + TIMEOUT]);
    let closes = rig.close_frames();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].0, woke + TIMEOUT);
    assert_eq!(closes[0].2.close_code(), Some(1011));
}

#[test]
fn a_jump_while_a_ping_is_outstanding_gives_a_fresh_check_not_a_timeout() {
    let mut rig = open_rig();
    rig.server.stall_all();
    // The regular ping goes out 20 s after the open; suspend right after it.
    rig.run_until_cond(INTERVAL, |r| !r.pings().is_empty());
    let first = rig.pings()[0];
    rig.run_for(Duration::from_secs(1));
    rig.jump(HOUR);
    let woke = rig.now();
    assert!(woke - first > TIMEOUT, "the pong deadline passed while asleep");
    assert!(
        pong_timeouts(&rig).is_empty(),
        "the overshoot means we were not running: check again"
    );
    assert_eq!(rig.pings(), [first, woke]);
    rig.run_for(TIMEOUT * 2);
    assert_eq!(
        pong_timeouts(&rig),
        [woke + TIMEOUT],
        "the fresh check fails one timeout later"
    );
    assert_eq!(rig.pings(), [first, woke], "no further pings on the dead connection");
}

#[test]
fn a_jump_while_the_pong_is_on_its_way_keeps_a_live_connection() {
    let mut rig = open_rig();
    rig.link.latency = Duration::from_millis(300);
    // Suspend 100 ms after the ping was written: its pong is still on the link.
    rig.run_until_cond(INTERVAL, |r| !r.pings().is_empty());
    rig.run_for(Duration::from_millis(100));
    rig.jump(HOUR);
    let woke = rig.now();
    rig.run_for(Duration::from_secs(5));
    assert_eq!(rig.pings().len(), 2, "one fresh check on wake-up");
    assert_eq!(rig.pings()[1], woke);
    assert!(pong_timeouts(&rig).is_empty());
    assert_eq!(*rig.session.state(), SessionState::Open);
    assert_eq!(
        pong_events(&rig),
        1,
        "only the pong answering the fresh ping gives an RTT"
    );
    assert_eq!(rig.session.rtt().unwrap().latest, Duration::from_millis(600));
}

#[test]
fn repeated_jumps_send_one_ping_each() {
    let mut rig = open_rig();
    for _ in 0..24 {
        rig.jump(HOUR);
        rig.run_for(Duration::from_secs(1));
    }
    assert_eq!(rig.pings().len(), 24);
    assert_eq!(pong_events(&rig), 24);
    assert!(pong_timeouts(&rig).is_empty());
    assert_eq!(rig.connect_ids.len(), 1);
}
