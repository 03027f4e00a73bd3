//! Properties over the whole settings space (tiny, huge, `Duration::MAX`, timeout > interval,
//! zeros that validation refuses): a silent client is failed exactly interval + timeout after
//! its last bytes, the outbound queue never exceeds its limits, deadlines are never in the
//! past once handled, and nothing panics.

#![allow(clippy::disallowed_methods)] // one real Instant to start from

use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::config::Config;
use crate::connection::Input;
use crate::message::Message;

use super::tests::{REQUEST, open_pair, quiet};
use super::*;

/// Durations from a nanosecond to "never".
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (1u64..1_000).prop_map(Duration::from_nanos),
        (1u64..100_000).prop_map(Duration::from_millis),
        (1u64..1_000_000_000).prop_map(Duration::from_secs),
        Just(Duration::from_secs(u64::MAX)),
        Just(Duration::MAX),
    ]
}

/// Durations including zero, which validation refuses but which must not panic or spin.
fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![Just(Duration::ZERO), duration()]
}

fn nanos(d: Duration) -> u128 {
    d.as_nanos()
}

/// A masked text frame from a client (any bytes prove the client alive).
fn client_frame() -> Vec<u8> {
    vec![0x81, 0x81, 1, 2, 3, 4, b'x' ^ 1]
}

/// Runs every deadline up to `target`; returns false if it took more than `limit` steps.
/// Records in `finished_at` the instant the connection finished, if it did.
fn drive_until(
    server: &mut ServerConnection,
    now: &mut Instant,
    target: Instant,
    limit: usize,
    finished_at: &mut Option<Instant>,
) -> Result<bool, TestCaseError> {
    let mut steps = 0;
    while let Some(deadline) = server.poll_timeout() {
        if deadline > target {
            break;
        }
        prop_assert!(deadline >= *now, "a deadline in the past");
        *now = deadline;
        server.handle_timeout(deadline);
        if server.is_finished() && finished_at.is_none() {
            *finished_at = Some(deadline);
        }
        while server.poll_event().is_some() {}
        let mut out = Vec::new();
        while server.poll_transmit(&mut out).is_some() {
            out.clear();
        }
        steps += 1;
        if steps > limit {
            return Ok(false);
        }
    }
    *now = (*now).max(target);
    Ok(true)
}

fn drive(
    server: &mut ServerConnection,
    now: &mut Instant,
    target: Instant,
    limit: usize,
) -> Result<bool, TestCaseError> {
    drive_until(server, now, target, limit, &mut None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A client is failed exactly `interval + timeout` after its last bytes, for every
    /// combination, and never when that instant is past `Instant`'s range.
    #[test]
    fn a_silent_client_is_failed_at_interval_plus_timeout(
        interval in duration(),
        timeout in duration(),
        gaps in proptest::collection::vec(0u32..=12, 0..5),
    ) {
        // Bounded work: at most ~1000 pings before the pong deadline.
        let finite = interval.checked_add(timeout).is_some_and(|d| d < Duration::from_secs(1 << 40));
        prop_assume!(!finite || nanos(timeout) / nanos(interval) <= 1000);
        let start = Instant::now();
        let config = quiet().ping_interval(Some(interval)).pong_timeout(timeout);
        let (_client, mut server) = open_pair(&config, start);
        let mut now = start;
        let mut last = start;
        let mut finished_at = None;
        for eighths in gaps {
            let gap = (interval.saturating_add(timeout)).as_nanos().saturating_mul(u128::from(eighths)) / 8;
            let Some(target) = u64::try_from(gap).ok().and_then(|g| now.checked_add(Duration::from_nanos(g))) else {
                break;
            };
            prop_assert!(drive_until(&mut server, &mut now, target, 20_000, &mut finished_at)?);
            if server.is_finished() {
                break;
            }
            server.handle_input(target, Input::Data(&client_frame()));
            while server.poll_event().is_some() {}
            last = target;
        }
        let expected = last.checked_add(interval).and_then(|t| t.checked_add(timeout));
        match expected {
            Some(at) if finite => {
                prop_assert!(drive_until(&mut server, &mut now, at, 20_000, &mut finished_at)?);
                prop_assert_eq!(finished_at, Some(at), "failed exactly at last + interval + timeout");
            }
            _ => {
                // Never failed within a bounded run.
                let horizon = now.checked_add(Duration::from_secs(1 << 30)).unwrap_or(now);
                let _ = drive_until(&mut server, &mut now, horizon, 2_000, &mut finished_at)?;
                prop_assert_eq!(finished_at, None, "failed although interval + timeout is never");
            }
        }
    }

    /// The outbound queue never holds more than its limits, refuses exactly what does not fit,
    /// and a refusal for fullness closes the connection.
    #[test]
    fn the_queue_never_exceeds_its_limits(
        max_messages in prop_oneof![1usize..20, Just(usize::MAX)],
        max_bytes in prop_oneof![1usize..2_000, Just(usize::MAX)],
        ops in proptest::collection::vec(prop_oneof![(0usize..600).prop_map(Some), Just(None)], 1..60),
    ) {
        let now = Instant::now();
        let config = quiet().max_queued_messages(max_messages).max_queued_bytes(max_bytes);
        let (_client, mut server) = open_pair(&config, now);
        let (mut count, mut bytes) = (0usize, 0usize);
        for op in ops {
            match op {
                Some(len) => {
                    let was_open = server.is_open();
                    let result = server.send_prepared(now, &PreparedMessage::new(&Message::binary(vec![0u8; len])));
                    match result {
                        Ok(()) => {
                            prop_assert!(was_open && count < max_messages && bytes + len <= max_bytes);
                            count += 1;
                            bytes += len;
                        }
                        Err(ServerSendError::NotOpen) => prop_assert!(!was_open),
                        Err(ServerSendError::MessageTooLarge { size, limit }) => {
                            prop_assert!(size == len && limit == max_bytes && len > max_bytes);
                        }
                        Err(ServerSendError::SlowConsumer { queued_messages, queued_bytes }) => {
                            prop_assert_eq!((queued_messages, queued_bytes), (count, bytes));
                            prop_assert!(count == max_messages || bytes + len > max_bytes);
                            prop_assert!(!server.is_open());
                            count = 0;
                            bytes = 0;
                        }
                    }
                }
                None => {
                    let _ = super::tests::transmit(&mut server);
                    count = 0;
                    bytes = 0;
                }
            }
            let (queued_messages, queued_bytes) = server.queued();
            prop_assert_eq!((queued_messages, queued_bytes), (count, bytes));
            prop_assert!(queued_messages <= max_messages && queued_bytes <= max_bytes);
        }
    }

    /// Any settings (zeros and `Duration::MAX` included) and any sequence of operations:
    /// no panic, no deadline in the past once handled, and the run always makes progress.
    #[test]
    fn any_settings_any_operations_no_panic_and_no_past_deadline(
        handshake in any_duration(),
        close in any_duration(),
        idle in proptest::option::of(any_duration()),
        ping in proptest::option::of(any_duration()),
        pong in any_duration(),
        max_messages in 0usize..4,
        max_bytes in 0usize..64,
        accept in any::<bool>(),
        ops in proptest::collection::vec((0u8..9, any_duration()), 0..40),
    ) {
        let start = Instant::now();
        let connection = Config::default()
            .deflate(None)
            .handshake_timeout(handshake)
            .close_timeout(close);
        let config = ServerConfig::default()
            .connection(connection)
            .idle_timeout(idle)
            .ping_interval(ping)
            .pong_timeout(pong)
            .max_queued_messages(max_messages)
            .max_queued_bytes(max_bytes);
        let mut server = ServerConnection::new(&config, [7; 32], start);
        let mut now = start;
        server.handle_input(now, Input::Data(REQUEST));
        while server.poll_event().is_some() {}
        if accept {
            server.accept(now, None, &[]);
        }
        for (op, d) in ops {
            match op {
                0 => {
                    let target = now.checked_add(d).unwrap_or(now);
                    drive(&mut server, &mut now, target, 5_000)?;
                }
                1 => server.handle_input(now, Input::Data(&client_frame())),
                2 => { let _ = server.send(now, &Message::binary(vec![1u8; d.subsec_nanos() as usize % 40])); }
                3 => { let _ = server.close(now, crate::CloseCode::NORMAL, "bye"); }
                4 => server.going_away(now),
                5 => server.close_for_memory(now),
                6 => server.set_reading(now, d.is_zero()),
                7 => server.handle_input(now, Input::Eof),
                _ => server.reject(403, &[], b"no"),
            }
            while server.poll_event().is_some() {}
            let mut out = Vec::new();
            while server.poll_transmit(&mut out).is_some() {
                out.clear();
            }
            let (m, b) = server.queued();
            prop_assert!(m <= max_messages && b <= max_bytes);
            // Handle what is due now; afterwards nothing is due in the past.
            let due = now;
            drive(&mut server, &mut now, due, 5_000)?;
            if let Some(deadline) = server.poll_timeout() {
                prop_assert!(deadline > now, "a deadline not after now once handled");
            }
        }
    }

    /// The idle close comes exactly `idle_timeout` after the last data message either way,
    /// and never when that is past `Instant`'s range; pings (here off) play no part.
    #[test]
    fn an_idle_connection_is_closed_exactly_at_the_idle_timeout(
        idle in duration(),
        activity in proptest::collection::vec((any::<bool>(), 0u32..8), 0..5),
    ) {
        let start = Instant::now();
        let config = quiet().idle_timeout(Some(idle));
        let (_client, mut server) = open_pair(&config, start);
        let mut now = start;
        let mut last = start;
        let mut finished_at = None;
        for (from_client, eighths) in activity {
            let gap = idle.as_nanos().saturating_mul(u128::from(eighths)) / 8;
            let Some(target) = u64::try_from(gap).ok().and_then(|g| now.checked_add(Duration::from_nanos(g))) else {
                break;
            };
            // Each gap is shorter than the idle timeout: the connection stays open.
            prop_assert!(drive_until(&mut server, &mut now, target, 100, &mut finished_at)?);
            prop_assert!(server.is_open());
            if from_client {
                server.handle_input(target, Input::Data(&client_frame()));
                prop_assert_eq!(server.poll_event(), Some(ServerEvent::Message(Message::text("x"))));
            } else {
                server.send(target, &Message::text("y")).unwrap();
                let _ = super::tests::transmit(&mut server);
            }
            last = target;
        }
        let mut closed_at = None;
        let horizon = last.checked_add(idle).unwrap_or_else(|| now.checked_add(Duration::from_secs(1 << 30)).unwrap_or(now));
        let mut steps = 0;
        while let Some(deadline) = server.poll_timeout() {
            if deadline > horizon || steps > 100 {
                break;
            }
            prop_assert!(deadline >= now);
            now = deadline;
            server.handle_timeout(now);
            if !server.is_open() && closed_at.is_none() {
                closed_at = Some(now);
            }
            steps += 1;
        }
        prop_assert_eq!(closed_at, last.checked_add(idle));
    }

    /// The handshake deadline: 408 for an incomplete request, 503 for an undecided one,
    /// exactly at the timeout, never for one past `Instant`'s range.
    #[test]
    fn the_handshake_deadline_answers_408_or_503_exactly_on_time(
        timeout in any_duration(),
        complete in any::<bool>(),
    ) {
        let start = Instant::now();
        let config = quiet().connection(quiet().connection.handshake_timeout(timeout));
        let mut server = ServerConnection::new(&config, [3; 32], start);
        let request = if complete { REQUEST } else { &REQUEST[..REQUEST.len() - 2] };
        server.handle_input(start, Input::Data(request));
        while server.poll_event().is_some() {}
        prop_assert_eq!(server.poll_timeout(), start.checked_add(timeout));
        if let Some(deadline) = server.poll_timeout() {
            if let Some(before) = deadline.checked_sub(Duration::from_nanos(1)).filter(|b| *b >= start) {
                server.handle_timeout(before);
                prop_assert!(!server.is_finished());
            }
            server.handle_timeout(deadline);
            prop_assert!(server.is_finished());
            let out = super::tests::transmit(&mut server);
            let status: &[u8] = if complete { b"HTTP/1.1 503 " } else { b"HTTP/1.1 408 " };
            prop_assert!(out.starts_with(status));
            let why = if complete { ServerCloseReason::DecisionTimeout } else { ServerCloseReason::HandshakeTimeout };
            let closed = std::iter::from_fn(|| server.poll_event()).find_map(|e| match e {
                ServerEvent::Closed(c) => Some(c.why),
                _ => None,
            });
            prop_assert_eq!(closed, Some(why));
        }
    }

    /// A close the client never answers (and a queue it never takes) ends exactly at the
    /// close timeout after the close was asked for; never when that is past the range.
    #[test]
    fn an_unanswered_close_ends_exactly_at_the_close_timeout(
        timeout in any_duration(),
        queued in 0usize..3,
    ) {
        let start = Instant::now();
        let config = quiet().connection(quiet().connection.close_timeout(timeout));
        let (_client, mut server) = open_pair(&config, start);
        for _ in 0..queued {
            server.send(start, &Message::text("q")).unwrap();
        }
        server.going_away(start);
        prop_assert_eq!(server.poll_timeout(), start.checked_add(timeout));
        if let Some(deadline) = server.poll_timeout() {
            server.handle_timeout(deadline);
            prop_assert!(server.is_finished());
            prop_assert_eq!(server.queued(), (0, 0));
        }
    }
}
