//! The whole session over the heartbeat's settings space, on virtual time: for every interval
//! and timeout (1 ms to hours, a timeout longer or shorter than the interval), any link latency
//! (round trip below or above the interval), a server that answers pings for a while and then
//! stops answering (or freezes), the session fails the connection with 1011 and drops the
//! transport at once, no later than interval + timeout after the last frame it received, and
//! never while the server still answers within the timeout.

use std::time::Duration;

use proptest::prelude::*;
use resock_core::SessionState;
use resock_core::session::{HeartbeatConfig, ReconnectPolicy, SessionEvent};
use resock_tests::pair::Pair;

/// A duration from 1 ms to about `2 << max_exp` ms, spread over its orders of magnitude.
fn span(max_exp: u32) -> impl Strategy<Value = Duration> {
    (0u32..=max_exp, 0u64..1000).prop_map(|(exp, frac)| {
        let base = 1u64 << exp;
        Duration::from_millis(base + base * frac / 1000)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn a_silent_server_is_failed_with_1011_within_interval_plus_timeout(
        interval in span(22),
        timeout in span(22),
        // Up to 2 s one way (the in-memory server's own handshake timeout is 10 s).
        latency in prop_oneof![Just(Duration::ZERO), span(10)],
        answered_for in 0u32..6,
        any_frame in any::<bool>(),
        freeze in any::<bool>(),
    ) {
        // Keep each case to a bounded amount of simulated work.
        let horizon = interval * (answered_for + 2) + timeout + latency * 4 + Duration::from_secs(1);
        prop_assume!(horizon.as_nanos() / interval.as_nanos() < 20_000);
        let mut config = Pair::config();
        config.heartbeat = HeartbeatConfig::default();
        config.heartbeat.interval = Some(interval);
        config.heartbeat.timeout = timeout;
        config.heartbeat.any_frame_is_liveness = any_frame;
        config.reconnect = ReconnectPolicy::disabled();
        config.open_timeout = Duration::MAX;
        let mut rig = Pair::new(config);
        rig.link.latency = latency;
        prop_assert!(rig.run_until_open(latency * 4 + Duration::from_secs(1)));
        let first = rig.session.transport().unwrap();

        // The server answers pings for a while, then stops answering (or freezes entirely).
        rig.run_for(interval * answered_for);
        let silent_at = rig.now();
        if freeze { rig.server.stall_all() } else { rig.server.answer_pings = false }
        rig.run_for(horizon);

        let dead = rig.pong_timeout_at();
        let last_read = rig.client_reads.iter().rev().find(|t| **t <= dead.unwrap_or(rig.now())).copied();
        let last_alive = last_read.expect("at least the 101 was read");
        let dead = dead.unwrap_or_else(|| panic!("never failed: last frame at {:?}, now {:?}", last_alive - rig.start(), rig.elapsed()));
        prop_assert!(dead <= last_alive + interval + timeout, "failed at {:?}, last frame {:?}", dead - rig.start(), last_alive - rig.start());
        // Never while pongs still come back within the timeout.
        if latency * 2 < timeout {
            prop_assert!(dead >= silent_at + timeout.saturating_sub(latency), "failed a live server at {:?}", dead - rig.start());
        }
        // 1011 written to the dead transport, which is dropped at the same instant.
        let closes = rig.close_frames();
        prop_assert_eq!(closes.len(), 1);
        prop_assert_eq!((closes[0].0, closes[0].1), (dead, first));
        prop_assert_eq!(closes[0].2.close_code(), Some(1011));
        prop_assert_eq!(rig.disconnect_ids.first(), Some(&(dead, first)));
        prop_assert!(matches!(rig.session.state(), SessionState::Closed(_)));
        // Every RTT sample is the link's round trip, even above the interval.
        for (_, event) in &rig.events {
            if let SessionEvent::Pong { rtt, .. } = event {
                prop_assert_eq!(*rtt, latency * 2);
            }
        }
    }
}

#[test]
fn the_issue_settings_ping_200_ms_timeout_300_ms_detect_a_pong_swallowing_server() {
    let mut config = Pair::config();
    config.heartbeat.interval = Some(Duration::from_millis(200));
    config.heartbeat.timeout = Duration::from_millis(300);
    let mut rig = Pair::new(config);
    rig.server.answer_pings = false;
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let open = rig.now();
    rig.run_for(Duration::from_secs(1));
    let dead = rig.pong_timeout_at().expect("detected");
    // First ping at 200 ms; no pong by 500 ms. (Before, each ping pushed the deadline on.)
    assert_eq!(dead - open, Duration::from_millis(500));
}

#[test]
fn round_trips_longer_than_the_interval_are_measured() {
    let mut config = Pair::config();
    config.heartbeat.interval = Some(Duration::from_millis(100));
    config.heartbeat.timeout = Duration::from_secs(1);
    // Only pongs count, so pings keep going out every 100 ms while each takes 300 ms to return.
    config.heartbeat.any_frame_is_liveness = false;
    let mut rig = Pair::new(config);
    rig.link.latency = Duration::from_millis(150);
    assert!(rig.run_until_open(Duration::from_secs(2)));
    rig.run_for(Duration::from_secs(10));
    let rtt = rig.session.rtt().expect("pongs matched their pings");
    assert_eq!(rtt.latest, Duration::from_millis(300));
    assert_eq!(rtt.smoothed, Duration::from_millis(300));
    assert!(rig.pong_timeout_at().is_none());
    assert_eq!(*rig.session.state(), SessionState::Open);
}
