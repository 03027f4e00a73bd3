//! The heartbeat over its whole settings space, on virtual time: intervals and timeouts from
//! 1 ms to hours (and `Duration::MAX`), round trips below and above the interval, peers that
//! chatter or only answer pings, then fall silent.

#![allow(clippy::disallowed_methods)] // one real Instant to start the virtual clock from

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::config::HeartbeatConfig;
use super::heartbeat::{Action, Heartbeat};

/// A peer `latency` away that answers every ping reaching it before `silent_at`, and with
/// `chatter` also sends a data frame at that period while alive.
struct Peer {
    latency: Duration,
    silent_at: Instant,
    chatter: Option<Duration>,
}

/// What one run showed.
#[derive(Debug)]
struct Run {
    /// When the heartbeat declared the peer dead.
    dead: Option<Instant>,
    /// The last frame that reached us and counts as liveness (pongs always; data with
    /// `any_frame_is_liveness`).
    last_alive: Instant,
    pings: u64,
    pongs: u64,
    rtt_samples: Vec<Duration>,
}

fn config(interval: Duration, timeout: Duration, any_frame: bool) -> HeartbeatConfig {
    HeartbeatConfig {
        interval: Some(interval),
        timeout,
        any_frame_is_liveness: any_frame,
        app_message: None,
    }
}

/// Runs the heartbeat against `peer` until it is declared dead or `until`, jumping from event
/// to event; at most `max_events` steps.
fn run(config: HeartbeatConfig, peer: &Peer, open: Instant, until: Instant, max_events: u64) -> Run {
    let any_frame = config.any_frame_is_liveness;
    let mut h = Heartbeat::new(config);
    h.on_open(open);
    // Pongs on their way back: arrival and payload.
    let mut pongs: VecDeque<(Instant, [u8; 8])> = VecDeque::new();
    let mut next_chatter = peer.chatter.and_then(|c| open.checked_add(c));
    let mut result = Run {
        dead: None,
        last_alive: open,
        pings: 0,
        pongs: 0,
        rtt_samples: Vec::new(),
    };
    for _ in 0..max_events {
        let chatter_arrival = next_chatter
            .filter(|sent| *sent < peer.silent_at)
            .and_then(|sent| sent.checked_add(peer.latency));
        let next = [h.poll_timeout(), pongs.front().map(|p| p.0), chatter_arrival]
            .into_iter()
            .flatten()
            .min();
        let Some(now) = next.filter(|t| *t <= until) else {
            return result;
        };
        if pongs.front().is_some_and(|p| p.0 == now) {
            let (_, payload) = pongs.pop_front().unwrap();
            result.pongs += 1;
            result.last_alive = now;
            h.on_frame(now);
            if let Some(rtt) = h.on_pong(now, &payload) {
                result.rtt_samples.push(rtt.latest);
            }
            continue;
        }
        if chatter_arrival == Some(now) {
            if any_frame {
                result.last_alive = now;
            }
            h.on_frame(now);
            next_chatter = next_chatter.and_then(|sent| sent.checked_add(peer.chatter.unwrap()));
            continue;
        }
        match h.on_timeout(now) {
            Some(Action::Ping(payload)) => {
                result.pings += 1;
                // The peer answers if the ping reaches it before it falls silent.
                if let Some(at_peer) = now.checked_add(peer.latency) {
                    if at_peer < peer.silent_at {
                        if let Some(back) = at_peer.checked_add(peer.latency) {
                            pongs.push_back((back, payload));
                        }
                    }
                }
            }
            Some(Action::Dead) => {
                result.dead = Some(now);
                return result;
            }
            None => panic!("poll_timeout said {now:?} but nothing was due"),
        }
    }
    panic!("more than {max_events} events: {result:?}");
}

/// A duration from 1 ms to about 4.6 hours, spread evenly over its orders of magnitude.
fn span() -> impl Strategy<Value = Duration> {
    (0u32..=24, 0u64..1000).prop_map(|(exp, frac)| {
        let base = 1u64 << exp; // 1 ms .. 16.7e6 ms
        Duration::from_millis(base + base * frac / 1000)
    })
}

/// A span, or `Duration::MAX` one time in eight.
fn span_or_max() -> impl Strategy<Value = Duration> {
    prop_oneof![7 => span(), 1 => Just(Duration::MAX)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// For every interval and timeout, a peer that falls silent is failed no later than
    /// interval + timeout after its last sign of life; while it answers within the timeout it
    /// is never failed; every pong that matches a remembered ping gives the exact round trip.
    #[test]
    fn silent_peers_are_failed_in_time_and_live_ones_never(
        interval in span_or_max(),
        timeout in span_or_max(),
        latency in prop_oneof![Just(Duration::ZERO), span()],
        alive_pings in 0u32..40,
        any_frame in any::<bool>(),
        chatter in proptest::option::of(span()),
    ) {
        let open = Instant::now();
        // Silent after about `alive_pings` intervals (capped so a run stays short).
        let alive_for = interval.saturating_mul(alive_pings).min(Duration::from_secs(10 * 3600));
        let silent_at = open + alive_for;
        let peer = Peer { latency, silent_at, chatter };
        let bound = |last: Instant| interval.checked_add(timeout).and_then(|d| last.checked_add(d));
        // Run past the latest moment detection may take, or ten hours past silence.
        let horizon = bound(silent_at + latency).map_or(silent_at + Duration::from_secs(36_000), |b| {
            b.min(silent_at + Duration::from_secs(36_000)) + Duration::from_millis(1)
        });
        // Enough steps for every ping and chatter frame up to the horizon, within reason.
        let span = horizon - open;
        let per = |d: Duration| span.as_nanos() / d.as_nanos().max(1) + 2;
        let steps = 4 * (per(interval) + chatter.map_or(0, per));
        prop_assume!(steps < 3_000_000);
        let result = run(config(interval, timeout, any_frame), &peer, open, horizon, steps as u64 + 10);

        match (result.dead, bound(result.last_alive)) {
            (Some(dead), Some(limit)) => prop_assert!(dead <= limit, "dead at {:?} > limit {:?}: {result:?}", dead - open, limit - open),
            (None, Some(limit)) => prop_assert!(limit > horizon, "never failed, limit {:?}, horizon {:?}: {result:?}", limit - open, horizon - open),
            // interval + timeout past Instant's range: one of them is "never".
            (Some(_), None) => prop_assert!(false, "failed with a timeout of never: {result:?}"),
            (None, None) => {}
        }
        if let Some(dead) = result.dead {
            // Every ping that reached the live peer was answered after 2 x latency; with
            // that below the timeout, only a ping that arrived after the silence can time out.
            if latency.saturating_mul(2) < timeout {
                let sent = dead.checked_sub(timeout).unwrap();
                prop_assert!(sent + latency >= silent_at, "failed a live peer: {result:?}");
            }
        }
        for sample in &result.rtt_samples {
            prop_assert_eq!(*sample, latency * 2);
        }
        // A round trip of fewer than 16 intervals always matches a remembered ping.
        if result.pongs > 0 && latency.saturating_mul(2) < interval.saturating_mul(15) {
            prop_assert!(!result.rtt_samples.is_empty(), "pongs but no RTT: {result:?}");
        }
    }
}

#[test]
fn a_timeout_longer_than_the_interval_still_fails_a_silent_peer() {
    // The case: ping 10 s, timeout 30 s; before, each ping moved the deadline on.
    let open = Instant::now();
    let peer = Peer {
        latency: Duration::from_millis(50),
        silent_at: open + Duration::from_secs(95),
        chatter: None,
    };
    let until = open + Duration::from_secs(3600);
    let result = run(
        config(Duration::from_secs(10), Duration::from_secs(30), false),
        &peer,
        open,
        until,
        10_000,
    );
    // The last pong answered the ping of 90 s (back at 90.1 s); the ping of 100 s is the first
    // unanswered one, so the peer is dead at 130 s.
    assert_eq!(result.dead, Some(open + Duration::from_secs(130)), "{result:?}");
    assert_eq!(result.last_alive, open + Duration::from_millis(90_100));
}

#[test]
fn round_trips_longer_than_the_interval_give_rtt_samples() {
    let open = Instant::now();
    let peer = Peer {
        latency: Duration::from_millis(150), // RTT 300 ms, interval 200 ms
        silent_at: open + Duration::from_secs(5),
        chatter: None,
    };
    let result = run(
        config(Duration::from_millis(200), Duration::from_millis(400), false),
        &peer,
        open,
        open + Duration::from_secs(60),
        10_000,
    );
    assert!(result.rtt_samples.len() >= 20, "{result:?}");
    assert!(result.rtt_samples.iter().all(|s| *s == Duration::from_millis(300)));
    // Silent at 5 s: the last ping answered went out at 4.8 s (its pong is back at 5.1 s); the
    // ping of 5.0 s times out at 5.4 s.
    assert_eq!(result.dead, Some(open + Duration::from_millis(5400)), "{result:?}");
}

#[test]
fn a_tiny_interval_with_an_hour_long_timeout_fails_within_the_hour() {
    let open = Instant::now();
    let peer = Peer {
        latency: Duration::from_millis(3),
        silent_at: open + Duration::from_secs(1),
        chatter: None,
    };
    let result = run(
        config(Duration::from_millis(1), Duration::from_secs(3600), false),
        &peer,
        open,
        open + Duration::from_secs(7200),
        8_000_000,
    );
    let dead = result.dead.expect("detected");
    assert!(dead <= result.last_alive + Duration::from_millis(1) + Duration::from_secs(3600));
    assert!(dead >= open + Duration::from_secs(3600));
}

#[test]
fn duration_max_means_never() {
    let open = Instant::now();
    let silent = Peer {
        latency: Duration::ZERO,
        silent_at: open,
        chatter: None,
    };
    let far = open + Duration::from_secs(10 * 24 * 3600);
    for (interval, timeout) in [
        (Duration::MAX, Duration::from_secs(1)),
        (Duration::from_secs(1), Duration::MAX),
        (Duration::MAX, Duration::MAX),
    ] {
        let result = run(config(interval, timeout, true), &silent, open, far, 1_000_000);
        assert_eq!(result.dead, None, "{interval:?} / {timeout:?}: {result:?}");
    }
}
