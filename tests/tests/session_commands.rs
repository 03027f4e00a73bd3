//! Commands an application (or a driver) gives the session, at the edges cargo-mutants found
//! untested: a second `close` while the first is under way, `set_reading` pausing the pong
//! deadline, and the bytes counted while a failed connection's last frame waits.

use std::time::Duration;

use resock_core::session::SessionEvent;
use resock_core::{CloseCode, ClosedReason, DisconnectReason, Message, SessionState};
use resock_tests::pair::Pair;

const INTERVAL: Duration = Duration::from_secs(20);
const TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn a_second_close_while_closing_changes_nothing() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    let now = pair.now();
    pair.session.close(now, CloseCode::NORMAL, "first");
    let now = pair.now();
    pair.session.close(now, CloseCode::GOING_AWAY, "second");
    assert_eq!(*pair.session.state(), SessionState::Closing { for_good: true });
    pair.run_for(Duration::from_secs(1));
    assert_eq!(*pair.session.state(), SessionState::Closed(ClosedReason::User));
    // One close handshake, with the first call's code, completed (not a dropped transport).
    let closes = pair.close_frames();
    assert_eq!(closes.len(), 1, "{closes:?}");
    assert_eq!(closes[0].2.close_code(), Some(1000));
    assert_eq!(closes[0].2.close_reason(), Some("first"));
    assert!(
        pair.events
            .iter()
            .any(|(_, e)| matches!(e, SessionEvent::Closed { .. })),
        "the server answered"
    );
}

#[test]
fn no_pong_deadline_while_the_driver_does_not_read() {
    let mut pair = Pair::new(Pair::config());
    pair.server.answer_pings = false;
    assert!(pair.run_until_open(Duration::from_secs(1)));
    let paused = pair.now();
    pair.session.set_reading(paused, false);
    // Far past interval + timeout: a driver that stopped reading cannot hear the server.
    pair.run_for(3 * (INTERVAL + TIMEOUT));
    assert_eq!(pair.pong_timeout_at(), None, "failed while not reading");
    assert_eq!(*pair.session.state(), SessionState::Open);
    let resumed = pair.now();
    pair.session.set_reading(resumed, true);
    pair.run_for(INTERVAL + TIMEOUT + Duration::from_secs(1));
    let dead = pair.pong_timeout_at().expect("silent after reading resumed");
    assert!(
        dead - resumed <= TIMEOUT,
        "a full timeout from the resume, no more: {:?}",
        dead - resumed
    );
    assert!(
        dead - resumed >= TIMEOUT - INTERVAL.min(TIMEOUT),
        "{:?}",
        dead - resumed
    );
}

#[test]
fn a_failed_connections_last_frame_counts_as_buffered_until_taken() {
    let mut pair = Pair::new(Pair::config());
    pair.server.answer_pings = false;
    assert!(pair.run_until_open(Duration::from_secs(1)));
    // Drive the session by hand to the pong deadline, without a driver taking the bytes.
    let ping_at = pair.now() + INTERVAL;
    pair.session.handle_timeout(ping_at);
    while pair.session.poll_output().is_some() {}
    let mut out = Vec::new();
    while pair.session.poll_transmit(&mut out).is_some() {}
    pair.session.handle_timeout(ping_at + TIMEOUT);
    let mut failed = false;
    while let Some(output) = pair.session.poll_output() {
        if let resock_core::Output::Event(SessionEvent::Disconnected { reason, .. }) = output {
            failed = reason == DisconnectReason::PongTimeout;
        }
    }
    assert!(failed);
    // The 1011 close frame waits for the transport: 2-byte header, 4-byte mask, the code and
    // the reason.
    let waiting = pair.session.buffered_amount();
    assert!(waiting >= 2 + 4 + 2, "{waiting}");
    pair.session.send(Message::text("queued")).unwrap();
    assert_eq!(
        pair.session.buffered_amount(),
        waiting + 6,
        "queued payload bytes on top"
    );
    let mut last = Vec::new();
    while pair.session.poll_transmit(&mut last).is_some() {}
    assert_eq!(last.len(), waiting);
    assert_eq!(pair.session.buffered_amount(), 6);
}
