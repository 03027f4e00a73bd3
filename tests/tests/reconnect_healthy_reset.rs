//! The attempt count resets only after a connection has been healthy (open for
//! `healthy_after`), not at the 101.
//!
//! A server that accepts and drops every connection after 1 s (less than `healthy_after`,
//! 10 s) must not cause a tight reconnect loop: the attempt number in
//! `SessionState::Connecting` and `Session::failures` keep growing across such connections,
//! and so do the backoff bounds. Once connections stay up past `healthy_after`, the next
//! disconnect starts the schedule again: failure count 1, delay within `[0, base]`, the same
//! attempt numbers as after the very first disconnect.

use std::time::{Duration, Instant};

use resock_core::session::ReconnectPolicy;
use resock_core::{DisconnectReason, SessionState};
use resock_tests::pair::Pair;

fn seed(i: u8) -> [u8; 32] {
    let mut s = [0x3c; 32];
    s[0] = i;
    s
}

/// A pair whose server drops every connection `after` its 101, without a close frame.
fn flaky_pair(after: Duration, i: u8) -> Pair {
    let mut pair = Pair::with_seed(Pair::config(), seed(i));
    pair.server.cut_after = Some(after);
    pair
}

/// `min(cap, base * 2^n)` of the default policy.
fn bound(n: u32) -> Duration {
    let p = ReconnectPolicy::default();
    (p.initial_delay * 2u32.pow(n.min(20))).min(p.max_delay)
}

/// The retries after each disconnect: (disconnect time, delay until the next attempt).
fn delays(pair: &Pair) -> Vec<(Instant, Duration)> {
    pair.disconnects()
        .into_iter()
        .map(|(at, reason, retry_at)| {
            assert_eq!(reason, DisconnectReason::Reset, "a drop without a close frame");
            (at, retry_at.expect("retried") - at)
        })
        .collect()
}

#[test]
fn drops_before_healthy_keep_the_count_growing() {
    for i in 0..8 {
        let mut pair = flaky_pair(Duration::from_secs(1), i);
        let mut opened = 0;
        // Follow ten connections: each opens, stays 1 s, is dropped.
        for k in 0..10u32 {
            assert!(
                pair.run_until_open(Duration::from_secs(60)),
                "seed {i}: connection {k} did not open"
            );
            opened += 1;
            assert_eq!(pair.session.failures(), k, "the 101 does not reset the count");
            pair.run_until_cond(Duration::from_secs(2), |p| *p.session.state() != SessionState::Open);
            assert_eq!(pair.session.failures(), k + 1, "seed {i}");
            let (at, _, retry_at) = pair.disconnects().last().unwrap().clone();
            let until = retry_at.unwrap();
            assert_eq!(
                *pair.session.state(),
                SessionState::WaitingToRetry {
                    until,
                    retry_in: until - at,
                    attempt: k + 2
                }
            );
        }
        assert_eq!(opened, 10);
        assert_eq!(pair.server.accepted, 10);
        assert_eq!(
            pair.attempts(),
            (1..=10).collect::<Vec<_>>(),
            "attempt numbers keep increasing"
        );
        for (n, (at, delay)) in delays(&pair).into_iter().enumerate() {
            assert!(
                delay <= bound(n as u32),
                "seed {i}, drop {n} at {:?}: {delay:?}",
                at - pair.start()
            );
        }
    }
}

#[test]
fn backoff_grows_across_early_drops() {
    // Averaged over seeds, late delays are far longer than early ones (full jitter: bound / 2).
    let (mut early, mut late) = (Duration::ZERO, Duration::ZERO);
    for i in 0..16 {
        let mut pair = flaky_pair(Duration::from_secs(1), i);
        pair.run_for(Duration::from_secs(600));
        let delays = delays(&pair);
        early += delays[..2].iter().map(|(_, d)| *d).sum::<Duration>();
        late += delays[6..8].iter().map(|(_, d)| *d).sum::<Duration>();
        // No tight loop: about 5 + 580 / 16 connections in ten minutes; a count reset at
        // the 101 would make it ~400 (1 s open + 0.5 s mean delay).
        assert!(
            pair.server.accepted < 80,
            "seed {i}: {} connections in 10 minutes",
            pair.server.accepted
        );
        assert!(
            pair.session.failures() >= 20,
            "seed {i}: {} failures",
            pair.session.failures()
        );
    }
    println!(
        "mean of the first two delays {:?}, of the 7th and 8th {:?}",
        early / 32,
        late / 32
    );
    assert!(late > early * 5, "early {early:?}, late {late:?}");
}

#[test]
fn a_healthy_connection_resets_the_schedule() {
    let base = ReconnectPolicy::default().initial_delay;
    let healthy_after = ReconnectPolicy::default().healthy_after;
    for i in 0..16 {
        let mut pair = flaky_pair(Duration::from_secs(1), i);
        pair.run_for(Duration::from_secs(120));
        pair.run_until_cond(Duration::from_secs(5), |p| {
            matches!(p.session.state(), SessionState::WaitingToRetry { .. })
        });
        let grown = pair.session.failures();
        assert!(grown >= 5, "seed {i}: {grown}");
        let first_retry_attempt = pair.attempts()[1];

        // From now on connections last 15 s, past `healthy_after`.
        pair.server.cut_after = Some(healthy_after + Duration::from_secs(5));
        assert!(pair.run_until_open(Duration::from_secs(60)));
        let opened_at = pair.now();
        assert_eq!(pair.session.failures(), grown, "not healthy yet");
        pair.run_until(opened_at + healthy_after - Duration::from_millis(1));
        assert_eq!(pair.session.failures(), grown, "seed {i}: reset before healthy_after");
        pair.run_until(opened_at + healthy_after);
        assert_eq!(pair.session.failures(), 0, "seed {i}: healthy, the count resets");
        assert_eq!(*pair.session.state(), SessionState::Open);

        // The next drop starts over: no failure counted, delay in [0, base], attempt 1 again.
        let before = pair.disconnects().len();
        let attempts_before = pair.attempts().len();
        pair.run_until_cond(Duration::from_secs(10), |p| p.disconnects().len() > before);
        let (at, reason, retry_at) = pair.disconnects()[before].clone();
        assert_eq!(reason, DisconnectReason::Reset);
        assert_eq!(at - opened_at, healthy_after + Duration::from_secs(5));
        assert!(retry_at.unwrap() - at <= base, "seed {i}: {:?}", retry_at.unwrap() - at);
        assert_eq!(
            pair.session.failures(),
            0,
            "the drop of a healthy connection is not a failed attempt"
        );
        pair.run_until_cond(base, |p| p.attempts().len() > attempts_before);
        assert_eq!(pair.attempts()[attempts_before], 1, "numbering restarts at 1");
        assert_eq!(first_retry_attempt, 2);

        // Every later drop of a healthy connection is again a first retry.
        pair.run_for(Duration::from_secs(300));
        let delays = delays(&pair);
        assert!(delays.len() >= before + 15);
        for (at, d) in &delays[before..] {
            assert!(*d <= base, "seed {i}: {d:?} after the drop at {:?}", *at - pair.start());
        }
        assert!(pair.session.failures() <= 1);
    }
}

#[test]
fn just_below_healthy_after_still_counts_as_a_failure() {
    let healthy_after = ReconnectPolicy::default().healthy_after;
    let mut pair = flaky_pair(healthy_after - Duration::from_millis(100), 1);
    pair.run_for(Duration::from_secs(600));
    let attempts = pair.attempts();
    assert!(attempts.len() >= 10);
    assert_eq!(attempts, (1..=attempts.len() as u32).collect::<Vec<_>>());
    assert_eq!(pair.session.failures() as usize, pair.disconnects().len());

    let mut pair = flaky_pair(healthy_after + Duration::from_millis(100), 1);
    pair.run_for(Duration::from_secs(600));
    assert!(pair.attempts().len() >= 30);
    assert!(pair.attempts()[1..].iter().all(|a| *a == 1), "{:?}", pair.attempts());
}

#[test]
fn max_attempts_counts_only_failed_attempts_after_a_healthy_connection() {
    use resock_core::session::ClosedReason;
    let healthy_after = ReconnectPolicy::default().healthy_after;
    let mut config = resock_tests::pair::Pair::config();
    config.reconnect = ReconnectPolicy::default().max_attempts(1);
    let mut pair = resock_tests::pair::Pair::new(config);
    assert!(pair.run_until_open(Duration::from_secs(1)));
    pair.run_for(healthy_after + Duration::from_secs(1));
    pair.server.up = false;
    pair.cut();
    pair.run_for(Duration::from_secs(60));
    assert_eq!(
        pair.attempts(),
        [1, 1],
        "one reconnect attempt after the healthy connection dropped"
    );
    assert!(matches!(
        pair.session.state(),
        SessionState::Closed(ClosedReason::RetriesExhausted(_))
    ));
}
