//! Opening times out against a server that never answers, then the session retries.
//!
//! `open_timeout` (10 s by default) covers the transport and the handshake together: a
//! server that accepts TCP but never answers the HTTP request (`Answer::Silent`), and a
//! black-holed connect (nothing answers the SYN), both end in `DisconnectReason::OpenTimeout`
//! exactly `open_timeout` after the `Connect`, followed by a normal backoff retry. A slow but
//! answering server just inside the timeout opens.

use std::time::Duration;

use resock_core::session::{ConnectError, Error, SessionEvent, TimeoutKind};
use resock_core::{DisconnectReason, SessionState};
use resock_tests::pair::Pair;
use resock_tests::server::Answer;

/// Checks that each of the first `n` attempts timed out exactly `timeout` after its
/// `Connect`, and that the next attempt followed within the backoff bound.
fn assert_timeouts(pair: &Pair, n: usize, timeout: Duration) {
    let disconnects = pair.disconnects();
    assert!(disconnects.len() >= n, "{} disconnects", disconnects.len());
    for (k, (at, reason, retry_at)) in disconnects.into_iter().take(n).enumerate() {
        assert_eq!(reason, DisconnectReason::OpenTimeout, "attempt {k}");
        assert_eq!(at - pair.connects[k], timeout, "attempt {k}");
        let retry_at = retry_at.expect("retried");
        assert_eq!(retry_at, pair.connects[k + 1]);
        let bound = Duration::from_secs(1 << k.min(5)).min(Duration::from_secs(30));
        assert!(retry_at - at <= bound, "attempt {k}: waited {:?}", retry_at - at);
    }
    let timeouts = pair
        .events
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                SessionEvent::Error(Error::Connect(ConnectError::Timeout(TimeoutKind::Open)))
            )
        })
        .count();
    assert!(timeouts >= n, "{timeouts} open-timeout errors");
}

#[test]
fn a_silent_server_times_out_after_open_timeout() {
    let mut pair = Pair::new(Pair::config());
    pair.server.answer = Answer::Silent;
    pair.run_for(Duration::from_secs(120));
    assert_eq!(pair.server.accepted, 0);
    assert!(pair.server.tcp_accepts >= 5, "TCP was accepted each time");
    assert_timeouts(&pair, 5, Duration::from_secs(10));
    assert!(
        pair.server.connections() <= 1,
        "timed-out transports are closed: {}",
        pair.server.connections()
    );
    let attempts = pair.attempts();
    assert_eq!(
        attempts,
        (1..=attempts.len() as u32).collect::<Vec<_>>(),
        "each timeout is a failure"
    );

    // Once the server answers again, the session opens.
    pair.server.answer = Answer::Accept(None);
    assert!(pair.run_until_open(Duration::from_secs(60)));
}

#[test]
fn the_open_timeout_setting_is_used() {
    let mut config = Pair::config();
    config.open_timeout = Duration::from_secs(3);
    let mut pair = Pair::new(config);
    pair.server.answer = Answer::Silent;
    pair.run_for(Duration::from_secs(60));
    assert_timeouts(&pair, 5, Duration::from_secs(3));
}

#[test]
fn a_black_holed_connect_times_out_the_same_way() {
    let mut pair = Pair::new(Pair::config());
    pair.link.up = false;
    pair.run_for(Duration::from_secs(120));
    assert_eq!(pair.server.tcp_accepts, 0, "nothing reached the server");
    assert_eq!(pair.pending(), 0, "nothing in flight on a black hole");
    assert_timeouts(&pair, 5, Duration::from_secs(10));
    assert!(matches!(
        pair.session.state(),
        SessionState::Connecting { .. } | SessionState::WaitingToRetry { .. }
    ));

    pair.link.up = true;
    assert!(pair.run_until_open(Duration::from_secs(60)));
    assert_eq!(pair.server.accepted, 1);
}

#[test]
fn a_slow_server_inside_the_timeout_opens() {
    // TCP takes 2 x latency and the handshake another 2 x latency.
    let mut pair = Pair::new(Pair::config());
    pair.link.latency = Duration::from_millis(2_400);
    assert!(pair.run_until_open(Duration::from_secs(10)));
    assert_eq!(pair.elapsed(), Duration::from_millis(9_600));
    assert!(pair.disconnects().is_empty());

    let mut pair = Pair::new(Pair::config());
    pair.link.latency = Duration::from_millis(2_600);
    pair.run_for(Duration::from_secs(11));
    assert_eq!(pair.disconnects()[0].1, DisconnectReason::OpenTimeout);
    assert_eq!(pair.disconnects()[0].0 - pair.start(), Duration::from_secs(10));
    assert_eq!(pair.server.accepted, 1, "the server answered, too late");
}
