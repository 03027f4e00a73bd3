//! `Retry-After` on a 429 or 503 is honoured, even above the backoff cap.
//!
//! The delay before the next attempt is `max(backoff, Retry-After)`: a 429 with
//! `Retry-After: 120` under a 30 s cap waits exactly 120 s, every time the server says so. An
//! HTTP-date is measured against the response's own `Date` header (core has no wall clock);
//! without one it is ignored. Values are capped at 24 hours, a date in the past means "now",
//! `Retry-After` on a fatal status does not revive it, and a wait beyond `max_elapsed` gives up.

use std::time::{Duration, Instant};

use resock_core::session::ReconnectPolicy;
use resock_core::{ClosedReason, DisconnectReason, HandshakeError, Message, SessionState};
use resock_tests::pair::Pair;
use resock_tests::server::Answer;

const BASE: Duration = Duration::from_secs(1);

fn reject(status: u16, headers: &[(&str, &str)]) -> Answer {
    Answer::Reject {
        status,
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
    }
}

fn pair_answering(answer: Answer) -> Pair {
    let mut pair = Pair::new(Pair::config());
    pair.server.answer = answer;
    pair
}

/// Runs until the `n`-th `Connect` (1-based) and returns the wait before it: from the
/// disconnect before it to the `Connect`. Checks the `Disconnected` event announced it.
fn wait_before_connect(pair: &mut Pair, n: usize, limit: Duration) -> Duration {
    assert!(pair.run_until_cond(limit, |p| p.connects.len() >= n), "no attempt {n}");
    let (at, _, retry_at) = pair.disconnects()[n - 2].clone();
    assert_eq!(retry_at, Some(pair.connects[n - 1]));
    pair.connects[n - 1] - at
}

/// The status and `Retry-After` of the `k`-th disconnect.
fn rejection(pair: &Pair, k: usize) -> (u16, Option<String>) {
    match &pair.disconnects()[k].1 {
        DisconnectReason::Handshake(HandshakeError::Rejected(r)) => (r.status, r.retry_after.clone()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn retry_after_seconds_beats_the_cap() {
    let mut pair = pair_answering(reject(429, &[("Retry-After", "120")]));
    assert_eq!(pair.session.config().reconnect.max_delay, Duration::from_secs(30));
    pair.send(Message::text("waiting"));
    for n in 2..=5 {
        let wait = wait_before_connect(&mut pair, n, Duration::from_secs(600));
        assert_eq!(wait, Duration::from_secs(120), "attempt {n}");
        assert!(matches!(pair.session.state(), SessionState::Connecting { .. }));
    }
    assert_eq!(rejection(&pair, 0), (429, Some("120".to_owned())));
    assert_eq!(pair.attempts(), [1, 2, 3, 4, 5]);

    // The server relents while the fifth attempt is connecting: it opens and the queued
    // message goes out.
    pair.server.answer = Answer::Accept(None);
    assert!(pair.run_until_open(Duration::from_secs(600)));
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.server_texts(), ["waiting"]);
    assert_eq!(
        pair.connects.len(),
        5,
        "the fifth attempt, already under way, got the 101"
    );
}

#[test]
fn retry_after_http_date_is_relative_to_the_date_header() {
    let mut pair = pair_answering(reject(
        503,
        &[
            ("Date", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("Retry-After", "Wed, 21 Oct 2015 07:29:30 GMT"),
        ],
    ));
    assert_eq!(
        wait_before_connect(&mut pair, 2, Duration::from_secs(600)),
        Duration::from_secs(90)
    );
    assert_eq!(
        wait_before_connect(&mut pair, 3, Duration::from_secs(600)),
        Duration::from_secs(90)
    );
    assert_eq!(rejection(&pair, 0).0, 503);
}

#[test]
fn retry_after_date_without_a_date_header_or_in_the_past_falls_back_to_backoff() {
    let no_date = reject(503, &[("Retry-After", "Wed, 21 Oct 2015 07:29:30 GMT")]);
    let past = reject(
        503,
        &[
            ("Date", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("Retry-After", "Wed, 21 Oct 2015 07:00:00 GMT"),
        ],
    );
    let zero = reject(429, &[("Retry-After", "0")]);
    let garbage = reject(429, &[("Retry-After", "soon")]);
    for answer in [no_date, past, zero, garbage] {
        let mut pair = pair_answering(answer.clone());
        let wait = wait_before_connect(&mut pair, 2, Duration::from_secs(60));
        assert!(wait <= BASE, "{answer:?}: waited {wait:?}");
    }
}

#[test]
fn retry_after_is_capped_at_a_day() {
    let mut pair = pair_answering(reject(503, &[("Retry-After", "1000000000")]));
    let wait = wait_before_connect(&mut pair, 2, Duration::from_secs(3 * 24 * 3600));
    assert_eq!(wait, Duration::from_secs(24 * 3600));
}

#[test]
fn retry_after_on_a_fatal_status_does_not_retry() {
    let mut pair = pair_answering(reject(403, &[("Retry-After", "5")]));
    pair.run_for(Duration::from_secs(600));
    assert_eq!(pair.connects.len(), 1);
    assert!(matches!(
        pair.session.state(),
        SessionState::Closed(ClosedReason::Fatal(_))
    ));
}

#[test]
fn retry_after_beyond_max_elapsed_gives_up() {
    let mut config = Pair::config();
    config.reconnect = ReconnectPolicy::default().max_elapsed(Duration::from_secs(60));
    let mut pair = Pair::new(config);
    pair.server.answer = reject(429, &[("Retry-After", "120")]);
    pair.run_for(Duration::from_secs(600));
    assert_eq!(pair.connects.len(), 1, "a 120 s wait does not fit in 60 s");
    let SessionState::Closed(ClosedReason::RetriesExhausted(reason)) = pair.session.state().clone() else {
        panic!("{:?}", pair.session.state());
    };
    assert!(matches!(reason, DisconnectReason::Handshake(HandshakeError::Rejected(r)) if r.status == 429));

    // A wait that fits is taken.
    let mut config = Pair::config();
    config.reconnect = ReconnectPolicy::default().max_elapsed(Duration::from_secs(60));
    let mut pair = Pair::new(config);
    pair.server.answer = reject(429, &[("Retry-After", "45")]);
    let start: Instant = pair.now();
    assert_eq!(
        wait_before_connect(&mut pair, 2, Duration::from_secs(600)),
        Duration::from_secs(45)
    );
    assert!(pair.connects[1] - start < Duration::from_secs(60));
}
