//! Round-trip time: each heartbeat pong is reported as an event carrying the latest sample and
//! the smoothed value (gain 1/8, as TCP's SRTT), the same numbers the `rtt()` getter returns;
//! samples equal twice the link latency, and the smoothed value converges when latency changes.

use std::time::{Duration, Instant};

use resock_core::SessionState;
use resock_core::session::{Rtt, SessionEvent};
use resock_tests::pair::Pair;

/// The `Pong` events so far: (time, latest, smoothed).
fn pongs(pair: &Pair) -> Vec<(Instant, Duration, Duration)> {
    pair.events
        .iter()
        .filter_map(|(t, e)| match e {
            SessionEvent::Pong { rtt, smoothed } => Some((*t, *rtt, *smoothed)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_first_pong_reports_twice_the_link_latency() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    assert_eq!(pair.session.rtt(), None, "no sample before the first pong");
    let open = pair.now();
    pair.run_for(Duration::from_secs(21));
    let got = pongs(&pair);
    assert_eq!(got.len(), 1);
    let (at, rtt, smoothed) = got[0];
    assert_eq!(
        at,
        open + Duration::from_secs(20) + 2 * pair.link.latency,
        "the pong arrives one round trip after the ping"
    );
    assert_eq!(rtt, Duration::from_millis(10));
    assert_eq!(smoothed, rtt, "the first sample seeds the smoothed value");
    assert_eq!(pair.session.rtt(), Some(Rtt { latest: rtt, smoothed }));
}

#[test]
fn every_ping_gives_a_sample_and_the_getter_follows_the_events() {
    let mut pair = Pair::new(Pair::config());
    pair.link.latency = Duration::from_millis(37);
    assert!(pair.run_until_open(Duration::from_secs(1)));
    for n in 1..=10 {
        pair.run_for(Duration::from_secs(20) + Duration::from_millis(100));
        let got = pongs(&pair);
        assert_eq!(got.len(), n);
        let (_, rtt, smoothed) = *got.last().unwrap();
        assert_eq!(rtt, Duration::from_millis(74));
        assert_eq!(
            smoothed,
            Duration::from_millis(74),
            "a constant latency keeps the smoothed value"
        );
        assert_eq!(pair.session.rtt(), Some(Rtt { latest: rtt, smoothed }));
    }
    assert_eq!(*pair.session.state(), SessionState::Open);
}

#[test]
fn the_smoothed_rtt_converges_after_the_latency_changes() {
    let mut config = Pair::config();
    config.heartbeat.interval = Some(Duration::from_secs(5));
    let mut pair = Pair::new(config);
    assert!(pair.run_until_open(Duration::from_secs(1)));
    pair.run_for(Duration::from_secs(6));
    assert_eq!(pair.session.rtt().unwrap().smoothed, Duration::from_millis(10));

    // The route gets slower: 10 ms round trips become 200 ms.
    pair.link.latency = Duration::from_millis(100);
    let before = pongs(&pair).len();
    pair.run_for(Duration::from_secs(5 * 60));
    let after: Vec<_> = pongs(&pair).split_off(before);
    assert!(after.len() >= 50, "{} pongs", after.len());
    let mut expected = Duration::from_millis(10);
    let mut previous = expected;
    for (i, (_, rtt, smoothed)) in after.iter().enumerate() {
        assert_eq!(
            *rtt,
            Duration::from_millis(200),
            "pong {i}: the latest sample is the new round trip"
        );
        expected = (expected * 7 + *rtt) / 8;
        assert_eq!(*smoothed, expected, "pong {i}: SRTT with gain 1/8");
        assert!(
            *smoothed > previous && *smoothed <= *rtt,
            "pong {i}: rises monotonically towards the sample"
        );
        previous = *smoothed;
    }
    let half_way = after
        .iter()
        .position(|(_, _, s)| *s >= Duration::from_millis(105))
        .unwrap();
    assert!(
        (4..=6).contains(&half_way),
        "half way after ~5 samples ((7/8)^5 = 0.51), got {half_way}"
    );
    let last = pair.session.rtt().unwrap();
    assert_eq!(last.latest, Duration::from_millis(200));
    assert!(
        Duration::from_millis(200) - last.smoothed < Duration::from_millis(1),
        "{last:?}"
    );

    // And back down again.
    pair.link.latency = Duration::from_millis(1);
    pair.run_for(Duration::from_secs(5 * 60));
    let last = pair.session.rtt().unwrap();
    assert_eq!(last.latest, Duration::from_millis(2));
    assert!(
        last.smoothed - Duration::from_millis(2) < Duration::from_millis(1),
        "{last:?}"
    );
}

#[test]
fn the_rtt_survives_a_reconnect_and_keeps_smoothing() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    pair.run_for(Duration::from_secs(21));
    let first = pair.session.rtt().unwrap();
    pair.cut();
    pair.link.latency = Duration::from_millis(50);
    pair.run_for(Duration::from_secs(2));
    assert!(pair.run_until_open(Duration::from_secs(5)));
    assert_eq!(
        pair.session.rtt(),
        Some(first),
        "the last measurement stays readable across a reconnect"
    );
    pair.run_for(Duration::from_secs(21));
    let next = pair.session.rtt().unwrap();
    assert_eq!(next.latest, Duration::from_millis(100));
    assert_eq!(next.smoothed, (first.smoothed * 7 + next.latest) / 8);
}
