//! Every timer and limit of a session over its whole range at once, on virtual time: each
//! duration is tiny (1 ms), ordinary, huge (hours, 2^40 s) or `Duration::MAX`, in any
//! combination (a pong timeout longer than the ping interval, a backoff cap far above its base,
//! a close timeout of "never"), with queues from one message up. Under outages, restarts and
//! clock jumps the session never panics or spins, every deadline it asks for lies ahead, no
//! accepted message is lost or duplicated, and a user close ends it (once its close timeout,
//! or the server, allows).

use std::collections::HashSet;
use std::time::Duration;

use proptest::prelude::*;
use resock_core::session::{OverflowPolicy, ReconnectPolicy, SessionEvent};
use resock_core::{CloseCode, Message, SessionConfig, SessionState};
use resock_tests::pair::Pair;

/// A duration over the whole range a user can set.
fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::from_millis(1)),
        (2u64..2_000).prop_map(Duration::from_millis),
        (2u64..30).prop_map(Duration::from_secs),
        (1u64..48).prop_map(|h| Duration::from_secs(h * 3600)),
        Just(Duration::from_secs(1 << 40)),
        Just(Duration::MAX),
    ]
}

#[derive(Debug, Clone)]
struct Settings {
    open_timeout: Duration,
    close_timeout: Duration,
    interval: Option<Duration>,
    timeout: Duration,
    initial_delay: Duration,
    max_delay_extra: Duration,
    jitter: bool,
    healthy_after: Duration,
    try_again_later: Duration,
    max_elapsed: Option<Duration>,
    max_attempts: Option<u32>,
    max_messages: usize,
    drop_oldest: bool,
}

fn any_settings() -> impl Strategy<Value = Settings> {
    (
        (
            any_duration(),
            any_duration(),
            proptest::option::of(any_duration()),
            any_duration(),
        ),
        (
            any_duration(),
            any_duration(),
            any::<bool>(),
            any_duration(),
            any_duration(),
        ),
        (
            proptest::option::weighted(0.2, any_duration()),
            proptest::option::weighted(0.2, 1u32..6),
            1usize..20,
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (open_timeout, close_timeout, interval, timeout),
                (initial_delay, max_delay_extra, jitter, healthy_after, try_again_later),
                (max_elapsed, max_attempts, max_messages, drop_oldest),
            )| Settings {
                open_timeout,
                close_timeout,
                interval,
                timeout,
                initial_delay,
                max_delay_extra,
                jitter,
                healthy_after,
                try_again_later,
                max_elapsed,
                max_attempts,
                max_messages,
                drop_oldest,
            },
        )
}

fn config(s: &Settings) -> SessionConfig {
    let mut config = Pair::config();
    config.open_timeout = s.open_timeout;
    config.close_timeout = s.close_timeout;
    config.heartbeat.interval = s.interval;
    config.heartbeat.timeout = s.timeout;
    let mut policy = ReconnectPolicy::exponential(s.initial_delay, s.initial_delay.saturating_add(s.max_delay_extra))
        .healthy_after(s.healthy_after);
    policy.jitter = s.jitter;
    policy.try_again_later_delay = s.try_again_later;
    policy.max_elapsed = s.max_elapsed;
    policy.max_attempts = s.max_attempts;
    config.reconnect = policy;
    config.queue.max_messages = s.max_messages;
    config.queue.overflow = if s.drop_oldest {
        OverflowPolicy::DropOldest
    } else {
        OverflowPolicy::Reject
    };
    config.validate().expect("every drawn setting is valid");
    config
}

#[derive(Debug, Clone)]
enum Op {
    Send(u8),
    Advance(u32),
    Cut,
    ServerDown,
    ServerUp,
    Silent,
    Restart(u16),
    Jump(u32),
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u8..=3).prop_map(Op::Send),
        4 => prop_oneof![0u32..50, 0u32..5_000, 0u32..7_200_000].prop_map(Op::Advance),
        1 => Just(Op::Cut),
        1 => Just(Op::ServerDown),
        1 => Just(Op::ServerUp),
        1 => Just(Op::Silent),
        1 => prop_oneof![Just(1000u16), Just(1012), Just(1013), Just(1008)].prop_map(Op::Restart),
        1 => (1u32..100_000).prop_map(Op::Jump),
    ]
}

/// Every deadline the session asks for lies ahead of now once it has handled now.
fn assert_no_past_deadline(rig: &mut Pair) {
    let now = rig.now();
    rig.session.handle_timeout(now);
    rig.run_for(Duration::ZERO);
    if let Some(deadline) = rig.session.poll_timeout() {
        assert!(
            deadline > rig.now(),
            "a deadline in the past after handling it: a driver would spin"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_settings_any_outages_nothing_lost_nothing_spins(
        settings in any_settings(),
        ops in proptest::collection::vec(any_op(), 1..30),
    ) {
        let mut rig = Pair::new(config(&settings));
        // At most about 20 000 pings or attempts per advance: the shortest recurring timer (the
        // ping interval, the backoff cap, the open timeout that ends each attempt) sets how far
        // one advance may go, so 1 ms settings keep a case short.
        let backoff_cap = settings.initial_delay.saturating_add(settings.max_delay_extra);
        let shortest = [settings.interval, Some(backoff_cap), Some(settings.open_timeout)]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
        let longest = shortest.saturating_mul(20_000);
        let mut accepted = Vec::new();
        let mut n = 0u32;
        for op in &ops {
            match op {
                Op::Send(k) => {
                    for _ in 0..*k {
                        n += 1;
                        if let Ok(id) = rig.session.send(Message::text(format!("m{n}"))) {
                            accepted.push(id);
                        }
                    }
                }
                Op::Advance(ms) => rig.run_for(Duration::from_millis(u64::from(*ms)).min(longest)),
                Op::Cut => rig.cut(),
                Op::ServerDown => rig.server.up = false,
                Op::ServerUp => rig.server.up = true,
                Op::Silent => rig.server.answer_pings = !rig.server.answer_pings,
                Op::Restart(code) => {
                    let now = rig.now();
                    rig.server.close_all(CloseCode(*code), now);
                }
                Op::Jump(s) => rig.jump(Duration::from_secs(u64::from(*s))),
            }
            assert_no_past_deadline(&mut rig);
            prop_assert!(rig.session.queued_messages() <= settings.max_messages);
        }
        let now = rig.now();
        rig.session.close(now, CloseCode::NORMAL, "done");
        rig.run_for(Duration::from_secs(60));
        if !matches!(rig.session.state(), SessionState::Closed(_)) {
            // Only a close handshake that may wait longer than a minute is still going.
            prop_assert_eq!(rig.session.state(), &SessionState::Closing { for_good: true });
            prop_assert!(settings.close_timeout > Duration::from_secs(60));
            rig.cut();
            rig.run_for(Duration::from_secs(1));
            prop_assert!(matches!(rig.session.state(), SessionState::Closed(_)), "{:?}", rig.session.state());
        }
        // Every accepted message ended exactly once, as written or handed back.
        let sent: HashSet<_> = rig.sent.iter().copied().collect();
        let back: HashSet<_> = rig.handed_back.iter().copied().collect();
        prop_assert_eq!(sent.len(), rig.sent.len(), "a message was written twice");
        prop_assert!(sent.is_disjoint(&back));
        for id in &accepted {
            prop_assert!(sent.contains(id) || back.contains(id), "message {:?} lost", id);
        }
        let ends = rig.events.iter().filter(|(_, e)| matches!(e, SessionEvent::Sent(_) | SessionEvent::HandedBack { .. })).count();
        prop_assert_eq!(ends, rig.sent.len() + rig.handed_back.len());
    }
}
