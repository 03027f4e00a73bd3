//! The optional application-level heartbeat (`{"type":"ping"}` for servers that expect one)
//! goes out with every protocol ping, one interval apart, on every connection; a disabled
//! heartbeat sends nothing at all, for hours, and sets no timer.

use std::time::{Duration, Instant};

use resock_core::session::{HeartbeatConfig, SessionEvent};
use resock_core::{Message, SessionState};
use resock_tests::pair::Pair;
use resock_tests::wire;

const APP_PING: &str = r#"{"type":"ping"}"#;

fn app_heartbeat_config(any_frame_is_liveness: bool) -> resock_core::SessionConfig {
    let mut config = Pair::config();
    config.heartbeat.app_message = Some(Message::text(APP_PING));
    config.heartbeat.any_frame_is_liveness = any_frame_is_liveness;
    config
}

/// Times at which the client wrote the application heartbeat.
fn app_pings(rig: &Pair) -> Vec<Instant> {
    rig.frames
        .iter()
        .filter(|(_, _, f)| f.text() == Some(APP_PING))
        .map(|(t, _, _)| *t)
        .collect()
}

#[test]
fn the_app_message_reaches_the_server_every_interval_with_the_ping() {
    let mut rig = Pair::new(app_heartbeat_config(false));
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let open = rig.now();
    rig.run_for(Duration::from_secs(200) + Duration::from_millis(100));
    let expected: Vec<Instant> = (1..=10).map(|n| open + Duration::from_secs(20 * n)).collect();
    assert_eq!(
        app_pings(&rig),
        expected,
        "only pongs count as liveness here: an exact 20 s rhythm"
    );
    assert_eq!(rig.pings(), expected, "the protocol ping goes out at the same instants");
    assert_eq!(
        rig.server_texts(),
        vec![APP_PING.to_owned(); 10],
        "the server received each one"
    );
    // Written right after its ping, on the same transport.
    let kinds: Vec<u8> = rig.frames.iter().map(|(_, _, f)| f.opcode).collect();
    assert_eq!(kinds, [wire::PING, wire::TEXT].repeat(10));
    assert_eq!(*rig.session.state(), SessionState::Open);
}

#[test]
fn the_app_message_is_no_queued_message_and_gets_no_id() {
    let mut rig = Pair::new(app_heartbeat_config(true));
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let id = rig.send(Message::text("user data"));
    rig.run_for(Duration::from_secs(65));
    assert_eq!(rig.sent, [id], "heartbeats are not reported as Sent");
    let texts = rig.server_texts();
    assert_eq!(texts[0], "user data");
    assert_eq!(texts[1..], vec![APP_PING.to_owned(); 3]);
    // The echoed `{"type":"ping"}` comes back as an ordinary message; with any frame as
    // liveness it (and the pong) postpone the next ping by about a round trip.
    let pings = app_pings(&rig);
    for pair in pings.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_secs(20) && gap <= Duration::from_secs(20) + 2 * rig.link.latency,
            "{gap:?}"
        );
    }
}

#[test]
fn the_app_message_is_sent_again_after_a_reconnect() {
    let mut rig = Pair::new(app_heartbeat_config(false));
    assert!(rig.run_until_open(Duration::from_secs(1)));
    rig.run_for(Duration::from_secs(21));
    rig.cut();
    rig.run_for(Duration::from_millis(1));
    assert!(rig.run_until_open(Duration::from_secs(5)));
    let reopened = rig.now();
    let second = rig.session.transport().unwrap();
    rig.run_for(Duration::from_secs(41));
    let on_second: Vec<Instant> = rig
        .frames
        .iter()
        .filter(|(_, id, f)| *id == second && f.text() == Some(APP_PING))
        .map(|(t, _, _)| *t)
        .collect();
    assert_eq!(
        on_second,
        [reopened + Duration::from_secs(20), reopened + Duration::from_secs(40)]
    );
}

#[test]
fn a_disabled_heartbeat_sends_nothing_for_hours() {
    let mut config = Pair::config();
    config.heartbeat = HeartbeatConfig::disabled();
    config.heartbeat.app_message = Some(Message::text(APP_PING));
    let mut rig = Pair::new(config);
    rig.server.answer_pings = false;
    assert!(rig.run_until_open(Duration::from_secs(1)));
    rig.run_for(Duration::from_secs(11));
    assert_eq!(
        rig.session.poll_timeout(),
        None,
        "no heartbeat timer at all once healthy"
    );
    rig.run_for(Duration::from_secs(6 * 3600));
    assert!(
        rig.frames.is_empty(),
        "not a single frame in six hours: {:?}",
        rig.frames.first()
    );
    assert!(rig.server.received.is_empty());
    assert!(
        !rig.events
            .iter()
            .any(|(_, e)| matches!(e, SessionEvent::Pong { .. } | SessionEvent::Disconnected { .. }))
    );
    assert_eq!(*rig.session.state(), SessionState::Open);
    assert_eq!(rig.connect_ids.len(), 1);

    // A clock jump does not wake it either.
    rig.jump(Duration::from_secs(24 * 3600));
    rig.run_for(Duration::from_secs(60));
    assert!(rig.frames.is_empty());
    assert_eq!(*rig.session.state(), SessionState::Open);
}
