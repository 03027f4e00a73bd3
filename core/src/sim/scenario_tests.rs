//! The outage one-liners of `scenarios.rs`, each checked for what a client sees.

#![allow(clippy::disallowed_methods)] // one real Instant to start from

use std::time::{Duration, Instant};

use super::{Restart, Sim, Simulation};
use crate::session::{HeartbeatConfig, SessionState};
use crate::{CloseCode, DisconnectReason, HandshakeError, Message, SessionConfig, TransportErrorKind};

const SECOND: Duration = Duration::from_secs(1);

fn open_sim(config: SessionConfig) -> Sim {
    open_sim_at(config, Instant::now())
}

fn open_sim_at(config: SessionConfig, start: Instant) -> Sim {
    let mut sim = Sim::new(config, [9; 32], start);
    sim.session.connect(sim.now());
    assert!(sim.run_until_open(SECOND));
    sim
}

fn config() -> SessionConfig {
    SessionConfig::new("ws://server.test/".parse().unwrap())
}

fn heartbeat(interval: u64, timeout: u64) -> SessionConfig {
    let mut config = config();
    config.heartbeat = HeartbeatConfig::every(Duration::from_secs(interval), Duration::from_secs(timeout));
    config
}

#[test]
fn graceful_restarts_every_ten_minutes_for_a_day_close_with_1001_and_lose_nothing() {
    let mut sim = open_sim(config());
    sim.send(Message::text("before")).unwrap();
    sim.restart_every(600 * SECOND, 2 * SECOND, Restart::Graceful, 24 * 3600 * SECOND);
    assert!(sim.run_until_open(60 * SECOND));
    sim.send(Message::text("after")).unwrap();
    sim.run_for(SECOND);
    let going_away = DisconnectReason::ServerClosed {
        code: CloseCode::GOING_AWAY,
        reason: "server going away".into(),
    };
    let disconnects = sim.disconnects();
    let closes = disconnects.iter().filter(|d| d.1 == going_away).count();
    assert_eq!(closes, 143, "one close per restart within the day");
    for (_, reason, retry_at) in &disconnects {
        let refused = matches!(reason, DisconnectReason::Transport(e) if e.kind == TransportErrorKind::Refused);
        assert!(
            *reason == going_away || refused,
            "only closes and refused attempts: {reason:?}"
        );
        assert!(retry_at.is_some(), "every one is retried");
    }
    assert_eq!(sim.server.accepted, 144);
    let texts: Vec<_> = sim.received.iter().filter_map(|m| m.as_text()).collect();
    assert_eq!(texts, ["before", "after"]);
    assert!(sim.elapsed() >= 24 * 3600 * SECOND);
}

#[test]
fn abrupt_restarts_are_resets_and_each_downtime_is_refused() {
    let mut sim = open_sim(config());
    let start = sim.now();
    sim.restart_every(60 * SECOND, 5 * SECOND, Restart::Abrupt, 600 * SECOND);
    assert!(sim.run_until_open(60 * SECOND));
    let disconnects = sim.disconnects();
    let resets: Vec<Duration> = disconnects
        .iter()
        .filter(|d| d.1 == DisconnectReason::Reset)
        .map(|d| d.0 - start)
        .collect();
    let every_minute: Vec<Duration> = (1..10).map(|k| k * 60 * SECOND).collect();
    assert_eq!(resets, every_minute, "the period holds whatever the downtime");
    assert!(disconnects.iter().all(|d| d.2.is_some()), "every disconnect is retried");
    assert_eq!(*sim.session.state(), SessionState::Open);
}

#[test]
fn a_network_outage_is_found_by_the_heartbeat_and_healed_after() {
    let mut sim = open_sim(heartbeat(5, 10));
    let start = sim.now();
    sim.network_outage(60 * SECOND);
    let (at, reason, _) = sim.disconnects()[0].clone();
    assert_eq!(reason, DisconnectReason::PongTimeout);
    assert!(at - start <= 15 * SECOND, "within interval + timeout: {:?}", at - start);
    assert!(sim.run_until_open(120 * SECOND));
    sim.send(Message::text("back")).unwrap();
    assert!(sim.run_until(SECOND, |s| !s.received.is_empty()));
}

#[test]
fn a_503_window_is_waited_out_by_retry_after_then_opens() {
    let mut sim = open_sim(config());
    sim.unavailable_for(10 * SECOND, 20);
    assert!(
        sim.disconnects().is_empty(),
        "an open connection stays through the window"
    );
    sim.cut();
    let cut_at = sim.now();
    sim.unavailable_for(60 * SECOND, 20);
    let rejected: Vec<_> = sim
        .disconnects()
        .into_iter()
        .filter(|d| matches!(&d.1, DisconnectReason::Handshake(HandshakeError::Rejected(r)) if r.status == 503))
        .collect();
    assert!(rejected.len() >= 3, "{rejected:?}");
    for (at, _, retry_at) in &rejected {
        assert_eq!(*retry_at, Some(*at + 20 * SECOND), "Retry-After decides the delay");
    }
    assert!(sim.run_until_open(60 * SECOND));
    assert!(sim.now() - cut_at >= 60 * SECOND, "no open inside the window");
}

#[test]
fn a_server_that_stops_answering_pings_is_failed_at_interval_plus_timeout() {
    let mut sim = open_sim(heartbeat(5, 3));
    let start = sim.now();
    sim.stop_answering_pings();
    sim.run_for(30 * SECOND);
    let (at, reason, _) = sim.disconnects()[0].clone();
    assert_eq!(reason, DisconnectReason::PongTimeout);
    assert_eq!(at - start, 8 * SECOND, "interval + timeout");
}

#[test]
fn a_deploy_closes_with_1012_rejects_while_down_and_comes_back() {
    let mut sim = open_sim(config());
    sim.deploy(10 * SECOND);
    let disconnects = sim.disconnects();
    assert_eq!(
        disconnects[0].1,
        DisconnectReason::ServerClosed {
            code: CloseCode::SERVICE_RESTART,
            reason: "deploying".into()
        }
    );
    assert!(
        disconnects[1..]
            .iter()
            .all(|d| matches!(&d.1, DisconnectReason::Handshake(HandshakeError::Rejected(r)) if r.status == 503)),
        "{disconnects:?}"
    );
    assert!(sim.run_until_open(60 * SECOND));
}

#[test]
fn the_same_seed_runs_the_same_outages_byte_for_byte() {
    let start = Instant::now();
    let run = || {
        let mut sim = open_sim_at(heartbeat(5, 10), start);
        sim.link.jitter = Duration::from_millis(20);
        sim.restart_every(30 * SECOND, SECOND, Restart::Abrupt, 300 * SECOND);
        sim.network_outage(40 * SECOND);
        sim.deploy(5 * SECOND);
        sim.run_for(60 * SECOND);
        let written: Vec<_> = sim
            .written
            .iter()
            .map(|(t, id, b)| (*t - start, *id, b.clone()))
            .collect();
        let events: Vec<_> = sim.events.iter().map(|(t, e)| (*t - start, format!("{e:?}"))).collect();
        (written, events)
    };
    assert_eq!(run(), run());
}

/// A duration from 1 ms to hours, or `Duration::MAX`.
fn any_duration() -> impl proptest::strategy::Strategy<Value = Duration> {
    use proptest::prelude::*;
    prop_oneof![
        (1u64..=10_000).prop_map(Duration::from_millis),
        (1u64..=4 * 3600).prop_map(Duration::from_secs),
        Just(Duration::MAX),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any period and downtime (a downtime longer than the period included; `Duration::MAX`
    /// for either) over any total: the script ends exactly at its end, the server is up, and
    /// the client was never given up on.
    #[test]
    fn restart_every_holds_for_any_period_downtime_and_total(
        every in any_duration(),
        downtime in any_duration(),
        total_secs in 0u64..=6 * 3600,
        abrupt in proptest::prelude::any::<bool>(),
    ) {
        // Bounded work: at most a few hundred restarts per case.
        proptest::prop_assume!(every == Duration::MAX || total_secs * 1000 / (every.as_millis() as u64).max(1) <= 400);
        let how = if abrupt { Restart::Abrupt } else { Restart::Graceful };
        let mut sim = open_sim(config());
        let start = sim.now();
        let total = Duration::from_secs(total_secs);
        sim.restart_every(every, downtime, how, total);
        proptest::prop_assert_eq!(sim.now(), start + total);
        proptest::prop_assert!(sim.server.up);
        proptest::prop_assert!(!matches!(sim.session.state(), SessionState::Closed(_)));
        if every >= total {
            proptest::prop_assert!(sim.disconnects().is_empty(), "no restart within the total");
        } else {
            proptest::prop_assert!(!sim.disconnects().is_empty());
        }
    }
}
