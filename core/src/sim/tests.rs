//! The simulator's own tests: rejections, silence, restarts, resets, determinism and speed.

#![allow(clippy::disallowed_methods)] // one real Instant to start from, and a wall-clock bound

use std::time::{Duration, Instant};

use super::{Answer, Sim};
use crate::session::{HeartbeatConfig, SessionEvent, SessionState};
use crate::{CloseCode, DisconnectReason, HandshakeError, Message, SessionConfig, TransportErrorKind};

fn config() -> SessionConfig {
    SessionConfig::new("ws://server.test/".parse().unwrap())
}

fn started(config: SessionConfig, seed: [u8; 32]) -> Sim {
    let mut sim = Sim::new(config, seed, Instant::now());
    sim.session.connect(sim.now());
    sim
}

fn rejected_status(reason: &DisconnectReason) -> Option<u16> {
    match reason {
        DisconnectReason::Handshake(HandshakeError::Rejected(r)) => Some(r.status),
        _ => None,
    }
}

#[test]
fn a_401_is_fatal() {
    let mut sim = started(config(), [1; 32]);
    sim.server.answer = Answer::reject(401);
    sim.run_for(Duration::from_secs(600));
    let disconnects = sim.disconnects();
    assert_eq!(disconnects.len(), 1, "{disconnects:?}");
    assert_eq!(rejected_status(&disconnects[0].1), Some(401));
    assert_eq!(disconnects[0].2, None, "no retry after 401");
    assert_eq!(sim.connects.len(), 1);
    assert!(matches!(sim.session.state(), SessionState::Closed(_)));
}

#[test]
fn a_429_waits_for_retry_after() {
    let mut sim = started(config(), [1; 32]);
    sim.server.answer = Answer::too_many_requests(120);
    assert!(sim.run_until(Duration::from_secs(600), |s| s.connects.len() >= 3));
    for (at, reason, retry_at) in sim.disconnects() {
        assert_eq!(rejected_status(&reason), Some(429));
        assert_eq!(retry_at, Some(at + Duration::from_secs(120)));
    }
    let (_, request) = &sim.server.requests[0];
    assert!(request.path.starts_with('/'), "{request:?}");
}

#[test]
fn a_503_is_retried_with_backoff_and_recovers() {
    let mut sim = started(config(), [1; 32]);
    sim.server.answer = Answer::reject(503);
    assert!(sim.run_until(Duration::from_secs(600), |s| s.connects.len() >= 3));
    let disconnects = sim.disconnects();
    assert!(
        disconnects
            .iter()
            .all(|(_, r, at)| rejected_status(r) == Some(503) && at.is_some())
    );
    sim.server.answer = Answer::Accept(Some("chat".to_owned()));
    assert!(sim.run_until_open(Duration::from_secs(600)));
    assert_eq!(sim.server.accepted, 1);
}

#[test]
fn accepts_with_a_subprotocol() {
    let mut config = config();
    config.client.subprotocols = vec!["chat".to_owned()];
    let mut sim = started(config, [1; 32]);
    sim.server.answer = Answer::Accept(Some("chat".to_owned()));
    assert!(sim.run_until_open(Duration::from_secs(1)));
    let opened = sim.find_event(|e| matches!(e, SessionEvent::Opened { .. }));
    assert!(
        matches!(opened, Some((_, SessionEvent::Opened { subprotocol: Some(p), .. })) if p == "chat"),
        "{opened:?}"
    );
    assert_eq!(sim.session.subprotocol(), Some("chat"));
    #[cfg(feature = "deflate")]
    {
        let deflate = sim
            .session
            .deflate()
            .expect("the default offer, agreed by the simulated server");
        assert_eq!(deflate.to_string(), "permessage-deflate");
    }
    #[cfg(not(feature = "deflate"))]
    assert!(sim.session.deflate().is_none(), "a build without deflate offers none");
    // Gone with the connection, and the next connection's own answer after a reconnect.
    sim.server.answer = Answer::Accept(None);
    sim.cut();
    assert!(sim.run_until(Duration::from_secs(60), |s| *s.session.state() != SessionState::Open));
    assert_eq!(sim.session.subprotocol(), None, "no connection, no subprotocol");
    assert!(sim.session.deflate().is_none(), "no connection, no compression");
    assert!(sim.run_until_open(Duration::from_secs(60)));
    assert_eq!(sim.session.subprotocol(), None, "the server agreed none this time");
}

#[test]
fn a_silent_server_fails_the_heartbeat_at_interval_plus_timeout() {
    let mut config = config();
    config.heartbeat = HeartbeatConfig::default();
    let interval = config.heartbeat.interval.unwrap();
    let timeout = config.heartbeat.timeout;
    let mut sim = started(config, [1; 32]);
    assert!(sim.run_until_open(Duration::from_secs(1)));
    let open = sim.now();
    sim.server.stall_all();
    sim.run_for(interval + timeout + Duration::from_secs(1));
    assert_eq!(sim.pong_timeout_at(), Some(open + interval + timeout));
}

#[test]
fn messages_pings_and_close_codes_from_the_server() {
    let mut sim = started(config(), [1; 32]);
    assert!(sim.run_until_open(Duration::from_secs(1)));
    let now = sim.now();
    sim.server.broadcast(&Message::text("news"), now);
    sim.server.ping_all(b"are you there", now);
    let written_before = sim.written.len();
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.received[0].as_text(), Some("news"));
    assert!(sim.written.len() > written_before, "the client answered the ping");
    let now = sim.now();
    sim.server.close_all_with_reason(CloseCode(4001), "maintenance", now);
    sim.run_for(Duration::from_secs(1));
    let (_, reason, _) = sim.disconnects()[0].clone();
    assert_eq!(
        reason,
        DisconnectReason::ServerClosed {
            code: CloseCode(4001),
            reason: "maintenance".to_owned()
        }
    );
}

#[test]
fn stop_refuses_and_the_server_comes_back() {
    let mut sim = started(config(), [1; 32]);
    assert!(sim.run_until_open(Duration::from_secs(1)));
    sim.stop_server();
    sim.run_for(Duration::from_secs(10));
    let disconnects = sim.disconnects();
    assert_eq!(disconnects[0].1, DisconnectReason::Reset);
    assert!(
        disconnects[1..]
            .iter()
            .all(|(_, r, _)| matches!(r, DisconnectReason::Transport(e) if e.kind == TransportErrorKind::Refused)),
        "{disconnects:?}"
    );
    assert!(disconnects.len() >= 2);
    sim.start_server();
    assert!(sim.run_until_open(Duration::from_secs(60)));
    assert_eq!(sim.server.accepted, 2);
}

#[test]
fn a_reset_is_seen_as_reset_and_reconnects() {
    let mut sim = started(config(), [1; 32]);
    assert!(sim.run_until_open(Duration::from_secs(1)));
    sim.cut();
    sim.settle();
    assert!(sim.run_until(Duration::from_secs(60), |s| s.server.accepted == 2));
    assert!(sim.run_until_open(Duration::from_secs(1)));
    assert_eq!(sim.disconnects()[0].1, DisconnectReason::Reset);
}

#[test]
fn a_tcp_reset_is_a_transport_failure_and_reconnects() {
    let mut sim = started(config(), [1; 32]);
    assert!(sim.run_until_open(Duration::from_secs(1)));
    sim.reset();
    assert!(sim.run_until(Duration::from_secs(60), |s| s.server.accepted == 2));
    assert!(sim.run_until_open(Duration::from_secs(1)));
    let (_, reason, retry_at) = sim.disconnects()[0].clone();
    assert!(
        matches!(reason, DisconnectReason::Transport(ref e) if e.kind == TransportErrorKind::Reset),
        "{reason:?}"
    );
    assert!(retry_at.is_some());
}

#[test]
fn loss_cuts_connections() {
    let mut sim = started(config(), [1; 32]);
    sim.link.loss = 0.3;
    for i in 0..200 {
        sim.run_for(Duration::from_secs(1));
        if sim.session.is_writable() {
            sim.send(Message::text(format!("m{i}"))).unwrap();
        }
    }
    let resets = sim
        .disconnects()
        .iter()
        .filter(|(_, r, _)| *r == DisconnectReason::Reset)
        .count();
    assert!(resets >= 5, "{resets}");
    assert!(!sim.server.received.is_empty());
}

#[test]
fn a_stall_delays_without_losing() {
    let mut sim = started(config(), [1; 32]);
    assert!(sim.run_until_open(Duration::from_secs(1)));
    let until = sim.now() + Duration::from_secs(3);
    sim.link.stall(until);
    sim.send(Message::text("late")).unwrap();
    assert!(sim.run_until(Duration::from_secs(10), |s| !s.received.is_empty()));
    assert!(sim.now() >= until);
    assert_eq!(sim.server.received.len(), 1);
}

/// A rough, lossy, restarting world, scripted the same way for any seed.
fn transcript(seed: [u8; 32]) -> Vec<(Duration, u64, Vec<u8>)> {
    let mut sim = started(config(), seed);
    sim.link.jitter = Duration::from_millis(40);
    sim.link.loss = 0.02;
    for i in 0..50 {
        sim.run_for(Duration::from_secs(7));
        if sim.session.is_writable() {
            sim.send(Message::text(format!("message {i}"))).ok();
        }
        if i % 10 == 9 {
            sim.stop_server();
            sim.run_for(Duration::from_secs(3));
            sim.start_server();
        }
    }
    let start = sim.start();
    sim.written
        .iter()
        .map(|(t, id, b)| (*t - start, id.0, b.clone()))
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_transcript() {
    let first = transcript([3; 32]);
    assert!(first.len() > 40, "{}", first.len());
    assert_eq!(first, transcript([3; 32]));
    assert_ne!(first, transcript([4; 32]));
}

#[test]
fn a_day_of_restarts_runs_in_well_under_a_second() {
    let wall = Instant::now();
    let mut sim = started(config(), [5; 32]);
    for _ in 0..(24 * 60 / 5) {
        sim.run_for(Duration::from_secs(5 * 60));
        sim.stop_server();
        sim.run_for(Duration::from_secs(2));
        sim.start_server();
    }
    assert!(sim.run_until_open(Duration::from_secs(120)));
    assert!(sim.elapsed() >= Duration::from_secs(24 * 3600));
    assert_eq!(sim.server.accepted, 24 * 60 / 5 + 1);
    let took = wall.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}");
}
