//! The reconnect schedule stays inside its full-jitter bounds.
//!
//! Against a server that is down, the delay before retry `n` (0-based count of failures) is
//! drawn from `[0, min(cap, base * 2^n)]`; the gap between two `Connect` outputs is that delay
//! plus the link's connect-refusal time (2x latency), which the tests subtract exactly. The
//! delays really are random (they differ between seeds and fill the whole range), the first
//! retry after an abnormal closure is random in `[0, base]` (RFC 6455 §7.2.3),
//! `ReconnectPolicy::fixed` waits exactly its delay, and `max_attempts` / `max_elapsed` stop
//! with `ClosedReason::RetriesExhausted`, handing queued messages back.

use std::time::{Duration, Instant};

use resock_core::session::{HandBackReason, ReconnectPolicy, SessionEvent};
use resock_core::{
    ClosedReason, DisconnectReason, Message, SessionConfig, SessionState, TransportError, TransportErrorKind,
};
use resock_tests::pair::{Pair, gaps};

fn seed(i: u32) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..4].copy_from_slice(&i.to_le_bytes());
    s[31] = 0xa5;
    s
}

fn config(policy: ReconnectPolicy) -> SessionConfig {
    let mut config = Pair::config();
    config.reconnect = policy;
    config
}

/// A pair whose server refuses every connection.
fn refused_pair(policy: ReconnectPolicy, i: u32) -> Pair {
    let mut pair = Pair::with_seed(config(policy), seed(i));
    pair.server.up = false;
    pair
}

/// The upper bound of delay `n`: `min(cap, base * 2^n)`.
fn bound(policy: &ReconnectPolicy, n: usize) -> Duration {
    let grown = policy.initial_delay.as_secs_f64() * 2f64.powi(n as i32);
    Duration::from_secs_f64(grown.min(policy.max_delay.as_secs_f64()))
}

/// The backoff delays the session drew: each gap between `Connect`s minus the refusal time.
fn delays(pair: &Pair) -> Vec<Duration> {
    let refusal = pair.link.latency * 2;
    gaps(&pair.connects)
        .into_iter()
        .map(|gap| gap.checked_sub(refusal).expect("a retry came before the refusal"))
        .collect()
}

fn refused() -> DisconnectReason {
    DisconnectReason::Transport(TransportError::new(TransportErrorKind::Refused, "connection refused"))
}

#[test]
fn delays_stay_within_full_jitter_bounds() {
    const SEEDS: u32 = 16;
    const RETRIES: usize = 30;
    for policy in [
        ReconnectPolicy::default(),
        ReconnectPolicy::exponential(Duration::from_millis(250), Duration::from_secs(4)),
    ] {
        let mut by_n: Vec<Vec<Duration>> = vec![Vec::new(); RETRIES];
        for i in 0..SEEDS {
            let mut pair = refused_pair(policy.clone(), i);
            pair.run_until_cond(Duration::from_secs(3600), |p| p.connects.len() > RETRIES);
            let delays = delays(&pair);
            assert!(delays.len() >= RETRIES, "seed {i}: {} retries", delays.len());
            for (n, d) in delays.iter().take(RETRIES).enumerate() {
                assert!(
                    *d <= bound(&policy, n),
                    "seed {i}, retry {n}: {d:?} > {:?}",
                    bound(&policy, n)
                );
                by_n[n].push(*d);
            }
            // Each `Disconnected` names the instant of the next `Connect`, exactly.
            let disconnects = pair.disconnects();
            for (k, (at, reason, retry_at)) in disconnects.iter().enumerate().take(RETRIES) {
                assert_eq!(*reason, refused());
                assert_eq!(
                    *at,
                    pair.connects[k] + pair.link.latency * 2,
                    "the refusal arrives after 2x latency"
                );
                assert_eq!(*retry_at, Some(pair.connects[k + 1]));
            }
            // `WaitingToRetry` announces the number `Connecting` then shows.
            let attempts = pair.attempts();
            assert_eq!(
                attempts[..RETRIES + 1],
                (1..=RETRIES as u32 + 1).collect::<Vec<_>>()[..]
            );
            assert!(pair.states().iter().all(|s| match s {
                SessionState::WaitingToRetry { until, attempt, .. } =>
                    pair.connects.contains(until) && (2..=RETRIES as u32 + 2).contains(attempt),
                _ => true,
            }));
        }
        // Jitter: for every n the seeds disagree.
        for (n, ds) in by_n.iter().enumerate() {
            assert!(
                ds.iter().any(|d| *d != ds[0]),
                "retry {n}: every seed waited {:?}",
                ds[0]
            );
        }
        // In the capped phase the delays are uniform over [0, cap]: mean near cap/2, both ends reached.
        let cap = policy.max_delay.as_secs_f64();
        let capped: Vec<f64> = by_n
            .iter()
            .enumerate()
            .filter(|(n, _)| bound(&policy, *n) == policy.max_delay)
            .flat_map(|(_, ds)| ds.iter().map(Duration::as_secs_f64))
            .collect();
        assert!(capped.len() >= 300, "{} capped samples", capped.len());
        let mean = capped.iter().sum::<f64>() / capped.len() as f64;
        assert!(
            (0.4 * cap..0.6 * cap).contains(&mean),
            "capped mean {mean} for cap {cap}"
        );
        assert!(capped.iter().any(|d| *d < 0.1 * cap), "nothing near 0");
        assert!(capped.iter().any(|d| *d > 0.9 * cap), "nothing near the cap");
    }
}

#[test]
fn first_retry_after_a_cut_is_random_within_base() {
    let policy = ReconnectPolicy::default();
    let base = policy.initial_delay;
    // Healthy connections (open past `healthy_after`) and fresh ones (cut after 1 s, before
    // they are healthy, on the very first attempt) both start from failure count 0.
    for open_for in [Duration::from_secs(30), Duration::from_secs(1)] {
        let mut firsts = Vec::new();
        for i in 0..64 {
            let mut pair = Pair::with_seed(config(policy.clone()), seed(1000 + i));
            assert!(pair.run_until_open(Duration::from_secs(1)));
            pair.run_for(open_for);
            assert_eq!(*pair.session.state(), SessionState::Open);
            let cut_at = pair.now();
            pair.cut();
            pair.run_until_cond(Duration::from_secs(5), |p| p.connects.len() == 2);
            let (at, reason, retry_at) = pair.disconnects()[0].clone();
            assert_eq!(at, cut_at, "the EOF of a cut arrives at once");
            assert_eq!(reason, DisconnectReason::Reset, "EOF without a close frame");
            assert_eq!(retry_at, Some(pair.connects[1]));
            let first = pair.connects[1] - cut_at;
            assert!(first <= base, "seed {i}: first retry after {first:?}");
            firsts.push(first);
        }
        let mut distinct = firsts.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 60, "only {} distinct first delays", distinct.len());
        assert!(firsts.iter().any(|d| *d < base / 4), "no early first retry: {firsts:?}");
        assert!(
            firsts.iter().any(|d| *d > base * 3 / 4),
            "no late first retry: {firsts:?}"
        );
    }
}

#[test]
fn fixed_policy_waits_exactly_the_delay() {
    let five = Duration::from_secs(5);
    let mut pair = refused_pair(ReconnectPolicy::fixed(five), 1);
    pair.run_for(Duration::from_secs(120));
    let delays = delays(&pair);
    assert!(delays.len() >= 20, "{} retries in 2 minutes", delays.len());
    assert!(delays.iter().all(|d| *d == five), "{delays:?}");
    // Also after a cut while open: no jitter at all.
    pair.server.up = true;
    assert!(pair.run_until_open(Duration::from_secs(10)));
    pair.run_for(Duration::from_secs(30));
    let cut_at = pair.now();
    let before = pair.connects.len();
    pair.cut();
    pair.run_until_cond(Duration::from_secs(10), |p| p.connects.len() > before);
    assert_eq!(pair.connects[before] - cut_at, five);
}

/// Queues three messages while nothing is open; returns their ids.
fn queue_three(pair: &mut Pair) -> Vec<resock_core::MessageId> {
    (0..3)
        .map(|i| pair.send(Message::text(format!("queued {i}"))))
        .collect()
}

/// Asserts the session closed for good with `RetriesExhausted(refused)`, handed `ids` back
/// in order with `HandBackReason::Closed`, reported `retry_at: None`, and stays quiet.
fn assert_gave_up(pair: &mut Pair, ids: &[resock_core::MessageId]) {
    assert_eq!(
        *pair.session.state(),
        SessionState::Closed(ClosedReason::RetriesExhausted(refused()))
    );
    let handed: Vec<_> = pair
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::HandedBack { id, reason, message } => Some((*id, *reason, message.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(handed.len(), ids.len());
    for (k, (id, reason, message)) in handed.into_iter().enumerate() {
        assert_eq!((id, reason), (ids[k], HandBackReason::Closed));
        assert_eq!(message, Message::text(format!("queued {k}")));
    }
    assert!(pair.sent.is_empty());
    let last = pair.disconnects().pop().unwrap();
    assert_eq!((last.1, last.2), (refused(), None));
    assert_eq!(pair.session.queued_messages(), 0);
    assert_eq!(pair.session.poll_timeout(), None, "no timer left");
    let connects = pair.connects.len();
    pair.run_for(Duration::from_secs(3600));
    assert_eq!(pair.connects.len(), connects, "no attempt after giving up");
    assert!(pair.session.send(Message::text("late")).is_err());
}

#[test]
fn max_attempts_stops_with_retries_exhausted() {
    for i in 0..8 {
        let mut pair = refused_pair(ReconnectPolicy::default().max_attempts(5), i);
        let ids = queue_three(&mut pair);
        pair.run_for(Duration::from_secs(600));
        assert_eq!(pair.connects.len(), 5, "five attempts in all, the first included");
        assert_eq!(pair.attempts(), [1, 2, 3, 4, 5]);
        assert_eq!(pair.session.failures(), 5, "five failed attempts");
        let closed_at = pair.disconnects().last().unwrap().0;
        assert_eq!(
            closed_at,
            pair.connects[4] + pair.link.latency * 2,
            "gives up at the fifth refusal"
        );
        assert_gave_up(&mut pair, &ids);
    }
}

#[test]
fn max_elapsed_stops_with_retries_exhausted() {
    let limit = Duration::from_secs(60);
    for i in 0..8 {
        let mut pair = refused_pair(ReconnectPolicy::default().max_elapsed(limit), i);
        let ids = queue_three(&mut pair);
        pair.run_for(Duration::from_secs(600));
        let first_failure: Instant = pair.disconnects()[0].0;
        let closed_at = pair.disconnects().last().unwrap().0;
        // Every attempt started inside the budget; the one it would have needed next did not.
        assert!(pair.connects.iter().all(|t| *t <= first_failure + limit), "seed {i}");
        assert!(closed_at <= first_failure + limit + pair.link.latency * 2, "seed {i}");
        assert!(
            closed_at + ReconnectPolicy::default().max_delay > first_failure + limit,
            "gave up too early"
        );
        assert!(pair.connects.len() >= 5, "seed {i}: {} attempts", pair.connects.len());
        assert_gave_up(&mut pair, &ids);
    }
}
