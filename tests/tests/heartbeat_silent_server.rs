//! A silent server is detected within interval plus timeout: the session fails the connection
//! with 1011 (the close frame goes out because the transport still takes it), drops the
//! transport at once without waiting for a reply from a peer presumed dead, and the reconnect
//! policy takes over. A server that keeps sending data but never answers pings is alive when
//! any frame counts as liveness, and dead when only pongs do.

use std::time::{Duration, Instant};

use resock_core::session::{ConnectError, Error, HeartbeatConfig, ReconnectPolicy, SessionEvent, TimeoutKind};
use resock_core::{DisconnectReason, Message, SessionState};
use resock_tests::pair::Pair;
use resock_tests::wire;

const INTERVAL: Duration = Duration::from_secs(20);
const TIMEOUT: Duration = Duration::from_secs(20);

/// The instant the session reported `Open` for the `n`th time (0-based).
fn opened_at(rig: &Pair, n: usize) -> Instant {
    rig.events
        .iter()
        .filter(|(_, e)| matches!(e, SessionEvent::StateChanged(SessionState::Open)))
        .nth(n)
        .map(|(t, _)| *t)
        .expect("the session opened")
}

fn check_dead_peer_handling(rig: &mut Pair) {
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let open = opened_at(rig, 0);
    let first = rig.session.transport().unwrap();
    rig.run_for(INTERVAL + TIMEOUT + Duration::from_millis(100));

    // Detected exactly one interval plus one timeout after the handshake.
    let dead = rig.pong_timeout_at().expect("the silent server was detected");
    assert_eq!(
        dead - open,
        INTERVAL + TIMEOUT,
        "defaults: ping at 20 s, no pong by 40 s"
    );
    assert_eq!(rig.pings(), [open + INTERVAL], "exactly one ping before giving up");

    // The close frame with 1011 was written to the dead transport at that instant ...
    let closes = rig.close_frames();
    assert_eq!(closes.len(), 1, "{closes:?}");
    let (written, id, frame) = &closes[0];
    assert_eq!((*written, *id), (dead, first));
    assert_eq!(frame.close_code(), Some(1011));
    assert_eq!(frame.close_reason(), Some("pong timeout"));

    // ... and the transport was dropped at the same instant, with no wait for a reply.
    assert_eq!(rig.disconnect_ids.first(), Some(&(dead, first)));
    assert!(
        rig.events.iter().any(|(t, e)| *t == dead
            && matches!(
                e,
                SessionEvent::Error(Error::Connect(ConnectError::Timeout(TimeoutKind::Pong)))
            )),
        "a pong timeout error is reported"
    );
    assert!(
        !rig.events.iter().any(|(_, e)| matches!(e, SessionEvent::Closed { .. })),
        "no close handshake completed with a dead peer"
    );
}

#[test]
fn a_server_that_swallows_pongs_is_failed_with_1011_after_40_s_and_retried() {
    let mut rig = Pair::new(Pair::config());
    rig.server.answer_pings = false;
    check_dead_peer_handling(&mut rig);
    let dead = rig.pong_timeout_at().unwrap();
    let first = rig.disconnect_ids[0].1;
    rig.run_for(Duration::from_secs(2));

    // The server connection still read our close frame: it answered and is gone.
    assert!(!rig.server.has_connection(first));

    // The default policy retries after a jittered delay of at most 1 s ...
    let (retry, second) = rig.connect_ids[1];
    assert!(
        retry >= dead && retry - dead <= Duration::from_secs(1),
        "{:?}",
        retry - dead
    );
    assert_ne!(second, first);
    let waiting = rig
        .states()
        .into_iter()
        .find(|s| matches!(s, SessionState::WaitingToRetry { .. }));
    assert!(matches!(waiting, Some(SessionState::WaitingToRetry { until, .. }) if until == retry));
    // ... and the new connection opens and is watched the same way.
    assert_eq!(rig.server.accepted, 2);
    assert_eq!(*rig.session.state(), SessionState::Open);
}

#[test]
fn a_stalled_server_is_detected_the_same_way_and_a_fixed_policy_retries_on_time() {
    let mut config = Pair::config();
    config.reconnect = ReconnectPolicy::fixed(Duration::from_secs(3));
    let mut rig = Pair::new(config);
    assert!(rig.run_until_open(Duration::from_secs(1)));
    // Stops reading and writing on the open connection (a frozen process, a half-open TCP).
    rig.server.stall_all();
    check_dead_peer_handling(&mut rig);
    let dead = rig.pong_timeout_at().unwrap();
    rig.run_for(Duration::from_secs(5));
    assert_eq!(rig.connect_ids.len(), 2);
    assert_eq!(rig.connect_ids[1].0 - dead, Duration::from_secs(3));
    assert_eq!(*rig.session.state(), SessionState::Open);

    // The second connection's server also stalls: detected again, 40 s after it opened.
    rig.server.stall_all();
    rig.run_for(INTERVAL + TIMEOUT);
    let open = opened_at(&rig, 1);
    let timeouts: Vec<Instant> = rig
        .events
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
        .collect();
    assert_eq!(timeouts, [dead, open + INTERVAL + TIMEOUT]);
}

#[test]
fn detection_time_follows_the_configured_interval_and_timeout() {
    let mut config = Pair::config();
    config.heartbeat.interval = Some(Duration::from_secs(5));
    config.heartbeat.timeout = Duration::from_secs(2);
    let mut rig = Pair::new(config);
    rig.server.answer_pings = false;
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let open = opened_at(&rig, 0);
    rig.run_for(Duration::from_secs(8));
    assert_eq!(rig.pong_timeout_at().unwrap() - open, Duration::from_secs(7));
}

#[test]
fn data_from_the_server_counts_as_liveness_when_any_frame_does() {
    let mut config = Pair::config();
    config.heartbeat = HeartbeatConfig::default();
    assert!(config.heartbeat.any_frame_is_liveness, "the default");
    let mut rig = Pair::new(config);
    rig.server.answer_pings = false;
    assert!(rig.run_until_open(Duration::from_secs(1)));
    // News every 30 s, longer than the interval: pings go out but pongs never come back.
    for i in 0..20 {
        rig.run_for(Duration::from_secs(30));
        let now = rig.now();
        rig.server.broadcast(&Message::text(format!("news {i}")), now);
    }
    rig.run_for(Duration::from_secs(1));
    assert_eq!(rig.received.len(), 20);
    assert!(rig.pong_timeout_at().is_none(), "10 minutes of data is a live server");
    assert_eq!(*rig.session.state(), SessionState::Open);
    assert_eq!(rig.connect_ids.len(), 1);
    assert!(!rig.pings().is_empty(), "pings went out during the quiet stretches");
    assert!(rig.session.rtt().is_none(), "no pong ever answered");
}

#[test]
fn data_without_pongs_is_not_enough_when_only_pongs_count() {
    let mut config = Pair::config();
    config.heartbeat.any_frame_is_liveness = false;
    let mut rig = Pair::new(config);
    rig.server.answer_pings = false;
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let open = opened_at(&rig, 0);
    for i in 0..8 {
        rig.run_for(Duration::from_secs(5));
        let now = rig.now();
        rig.server.broadcast(&Message::text(format!("news {i}")), now);
    }
    rig.run_for(Duration::from_secs(1));
    assert_eq!(rig.pong_timeout_at().unwrap() - open, INTERVAL + TIMEOUT);
    let close = rig.close_frames();
    assert_eq!(close[0].2.close_code(), Some(1011));
    assert_eq!(rig.frame_times(wire::PING).len(), 1);
}
