//! Delivery guarantees under random outage schedules (1000 cases each).
//!
//! 1. Any schedule of sends, abrupt cuts, server down/up periods, black-holed links, graceful
//!    server restarts, time advances and clock jumps, then a user close: every accepted message ends in
//!    exactly one of `Sent` (its bytes were taken by `poll_transmit`) or `HandedBack`, never
//!    both, never neither; `Sent` ids rise (written in order); the server receives a
//!    subsequence of the sent messages, in order, without duplicates (a message whose bytes
//!    were lost in a cut counts as sent, not delivered). Also with a 4-message queue under
//!    either overflow policy (refused sends are not accepted; dropped ones are handed back).
//!    The schedule ends with a few sends the driver has not transmitted yet and a user close,
//!    which the transport may follow at once with EOF or a failure, before the next
//!    `poll_transmit`: the messages the close had encoded are then handed back, in order.
//! 2. Graceful restarts only (the server sends 1001 and completes the close handshake, then may
//!    stay down for a while): every accepted message arrives exactly once, in order.

use std::collections::HashSet;
use std::time::Duration;

use proptest::prelude::*;
use resock_core::session::{
    ClosedReason, HandBackReason, OverflowPolicy, ReconnectPolicy, SessionEvent, TransportErrorKind,
};
use resock_core::{CloseCode, Message, MessageId, SessionConfig, SessionSendError, SessionState};
use resock_tests::pair::Pair;

#[derive(Debug, Clone)]
enum Op {
    /// The application sends this many messages.
    Send(u8),
    /// Virtual time passes (milliseconds).
    Advance(u16),
    /// The TCP connection breaks: both sides see EOF, bytes on the link are lost.
    Cut,
    /// The server stops accepting connections (open ones stay).
    ServerDown,
    /// The server accepts connections again.
    ServerUp,
    /// Bytes in both directions vanish (and new connections hang).
    LinkDown,
    /// The link carries bytes again.
    LinkUp,
    /// The server closes every connection with 1001 and completes the handshake.
    Restart,
    /// The clock jumps this many seconds with nothing running (a suspended laptop).
    Jump(u8),
}

/// How a schedule ends: the application sends `unsent` more messages and closes before the
/// driver gets to transmit them; then the transport may end at once.
#[derive(Debug, Clone, Copy)]
struct Ending {
    /// Messages sent right before the close, with no `poll_transmit` in between.
    unsent: u8,
    /// What the transport does right after the close, before the next `poll_transmit`.
    then: AfterClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterClose {
    /// Nothing: the close handshake runs.
    Nothing,
    /// The server's side is gone: EOF.
    Eof,
    /// The transport fails (a reset, a TLS error).
    Failure,
}

fn any_ending() -> impl Strategy<Value = Ending> {
    let then = prop_oneof![
        Just(AfterClose::Nothing),
        Just(AfterClose::Eof),
        Just(AfterClose::Failure)
    ];
    (0u8..=3, then).prop_map(|(unsent, then)| Ending { unsent, then })
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..=3).prop_map(Op::Send),
        4 => (0u16..4000).prop_map(Op::Advance),
        1 => Just(Op::Cut),
        1 => Just(Op::ServerDown),
        1 => Just(Op::ServerUp),
        1 => Just(Op::LinkDown),
        1 => Just(Op::LinkUp),
        1 => Just(Op::Restart),
        1 => (1u8..90).prop_map(Op::Jump),
    ]
}

fn graceful_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..=3).prop_map(Op::Send),
        4 => (0u16..4000).prop_map(Op::Advance),
        1 => Just(Op::ServerDown),
        1 => Just(Op::ServerUp),
        2 => Just(Op::Restart),
    ]
}

/// Short timers, so that heartbeats, open and close timeouts and backoff all happen within a
/// schedule of a few tens of seconds.
fn config(small_queue: Option<OverflowPolicy>) -> SessionConfig {
    let mut config = Pair::config();
    if let Some(overflow) = small_queue {
        config.queue.max_messages = 4;
        config.queue.overflow = overflow;
    }
    config.reconnect = ReconnectPolicy::exponential(Duration::from_millis(100), Duration::from_secs(2));
    config.heartbeat.interval = Some(Duration::from_secs(2));
    config.heartbeat.timeout = Duration::from_secs(2);
    config.open_timeout = Duration::from_secs(3);
    config.close_timeout = Duration::from_secs(2);
    config
}

/// The id carried in the text of message `m{id}`.
fn id_of(message: &Message) -> u64 {
    message.as_text().unwrap()[1..].parse().unwrap()
}

struct Run {
    pair: Pair,
    accepted: Vec<MessageId>,
}

fn run(seed: [u8; 32], latency_ms: u64, small_queue: Option<OverflowPolicy>, ops: &[Op]) -> Run {
    let mut pair = Pair::with_seed(config(small_queue), seed);
    pair.link.latency = Duration::from_millis(latency_ms);
    pair.server.echo = false;
    let mut accepted = Vec::new();
    for op in ops {
        match op {
            Op::Send(n) => {
                send(&mut pair, &mut accepted, small_queue, *n);
                pair.run_for(Duration::ZERO);
            }
            Op::Advance(ms) => pair.run_for(Duration::from_millis(u64::from(*ms))),
            Op::Cut => {
                pair.cut();
                pair.run_for(Duration::ZERO);
            }
            Op::ServerDown => pair.server.up = false,
            Op::ServerUp => pair.server.up = true,
            Op::LinkDown => pair.link.up = false,
            Op::LinkUp => pair.link.up = true,
            Op::Restart => {
                let now = pair.now();
                pair.server.close_all(CloseCode::GOING_AWAY, now);
                pair.run_for(Duration::ZERO);
            }
            Op::Jump(secs) => pair.jump(Duration::from_secs(u64::from(*secs))),
        }
    }
    Run { pair, accepted }
}

/// The application sends `n` messages; accepted ones are recorded. Nothing runs in between.
fn send(pair: &mut Pair, accepted: &mut Vec<MessageId>, small_queue: Option<OverflowPolicy>, n: u8) {
    for _ in 0..n {
        // Ids count accepted messages only, so the text can carry the next one.
        let next = accepted.len() as u64;
        match pair.session.send(Message::text(format!("m{next}"))) {
            Ok(id) => {
                assert_eq!(id, MessageId(next));
                accepted.push(id);
            }
            Err(SessionSendError::QueueFull(m)) => {
                assert_eq!(small_queue, Some(OverflowPolicy::Reject), "refused {m:?}");
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Closes the session and runs until it is closed for good.
fn close(pair: &mut Pair) {
    end(pair, AfterClose::Nothing);
}

/// Closes the session, lets the transport do `then` before anything is transmitted, and runs
/// until the session is closed for good.
fn end(pair: &mut Pair, then: AfterClose) {
    let now = pair.now();
    pair.session.close(now, CloseCode::NORMAL, "done");
    match then {
        AfterClose::Nothing => {}
        AfterClose::Eof => {
            pair.end_transport_now(None);
        }
        AfterClose::Failure => {
            pair.end_transport_now(Some(TransportErrorKind::Io));
        }
    }
    pair.run_for(Duration::from_secs(30));
    assert_eq!(*pair.session.state(), SessionState::Closed(ClosedReason::User));
    assert_eq!(pair.session.poll_timeout(), None);
}

fn check_written_or_handed_back(pair: &Pair, accepted: &[MessageId]) -> Result<(), TestCaseError> {
    let sent: HashSet<MessageId> = pair.sent.iter().copied().collect();
    let back: HashSet<MessageId> = pair.handed_back.iter().copied().collect();
    prop_assert_eq!(
        sent.len(),
        pair.sent.len(),
        "a message was reported sent twice: {:?}",
        pair.sent
    );
    prop_assert_eq!(
        back.len(),
        pair.handed_back.len(),
        "handed back twice: {:?}",
        pair.handed_back
    );
    prop_assert!(
        sent.is_disjoint(&back),
        "both sent and handed back: {:?}",
        sent.intersection(&back)
    );
    let mut all: Vec<MessageId> = pair.sent.iter().chain(&pair.handed_back).copied().collect();
    all.sort();
    prop_assert_eq!(&all, accepted, "every accepted message ends exactly once");
    prop_assert!(
        pair.sent.windows(2).all(|w| w[0] < w[1]),
        "written out of order: {:?}",
        pair.sent
    );
    prop_assert!(
        pair.handed_back.windows(2).all(|w| w[0] < w[1]),
        "handed back out of order"
    );
    // Dropped (drop-oldest) messages are the oldest waiting; the ones handed back on closing
    // are all younger than anything written.
    let closed_back = pair.events.iter().find_map(|(_, e)| match e {
        SessionEvent::HandedBack {
            id,
            reason: HandBackReason::Closed,
            ..
        } => Some(*id),
        _ => None,
    });
    if let (Some(last_sent), Some(first_back)) = (pair.sent.last(), closed_back) {
        prop_assert!(
            *last_sent < first_back,
            "a later message was written before an earlier one was given up"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn every_accepted_message_is_written_once_or_handed_back(
        seed in any::<[u8; 32]>(),
        latency_ms in 1u64..40,
        ops in prop::collection::vec(any_op(), 1..24),
        restore in any::<bool>(),
        ending in any_ending(),
        small_queue in prop_oneof![
            2 => Just(None),
            1 => Just(Some(OverflowPolicy::Reject)),
            1 => Just(Some(OverflowPolicy::DropOldest)),
        ],
    ) {
        let Run { mut pair, mut accepted } = run(seed, latency_ms, small_queue, &ops);
        let mut drained = false;
        if restore {
            pair.server.up = true;
            pair.link.up = true;
            pair.run_for(Duration::from_secs(20));
            prop_assert_eq!(pair.session.state(), &SessionState::Open);
            drained = pair.session.queued_messages() == 0;
        }
        send(&mut pair, &mut accepted, small_queue, ending.unsent);
        end(&mut pair, ending.then);
        check_written_or_handed_back(&pair, &accepted)?;
        if drained && ending.then == AfterClose::Nothing {
            let on_close = pair
                .events
                .iter()
                .filter(|(_, e)| matches!(e, SessionEvent::HandedBack { reason: HandBackReason::Closed, .. }))
                .count();
            prop_assert_eq!(on_close, 0, "closing from open writes the queue first");
        }

        // The server saw sent messages only, in order, each at most once.
        let delivered: Vec<u64> = pair.server.received.iter().map(id_of).collect();
        prop_assert!(delivered.windows(2).all(|w| w[0] < w[1]), "duplicated or reordered: {:?}", delivered);
        let sent: HashSet<u64> = pair.sent.iter().map(|id| id.0).collect();
        prop_assert!(delivered.iter().all(|id| sent.contains(id)), "delivered but never reported sent");
    }

    #[test]
    fn graceful_restarts_deliver_every_message_exactly_once_in_order(
        seed in any::<[u8; 32]>(),
        latency_ms in 1u64..40,
        ops in prop::collection::vec(graceful_op(), 1..24),
    ) {
        let Run { mut pair, accepted } = run(seed, latency_ms, None, &ops);
        pair.server.up = true;
        pair.run_for(Duration::from_secs(20));
        prop_assert_eq!(pair.session.state(), &SessionState::Open);
        prop_assert_eq!(pair.session.queued_messages(), 0);
        close(&mut pair);
        check_written_or_handed_back(&pair, &accepted)?;
        prop_assert!(pair.handed_back.is_empty());
        prop_assert_eq!(&pair.sent, &accepted);
        let delivered: Vec<MessageId> = pair.server.received.iter().map(|m| MessageId(id_of(m))).collect();
        prop_assert_eq!(delivered, accepted, "exactly once, in order");
    }
}
