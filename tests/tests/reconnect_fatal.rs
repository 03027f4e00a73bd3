//! Fatal errors stop reconnecting for good; retryable ones do not.
//!
//! Stops (no further `Connect`, state `Closed(Fatal(..))` or `Closed(User)`, queued messages
//! handed back with `HandBackReason::Closed`, `Disconnected { retry_at: None }`): HTTP 403 and
//! 404, a 101 with a wrong `Sec-WebSocket-Accept`, close codes 1002, 1003, 1007, 1008, 1009
//! and 1010 from the server, a TLS certificate error, and a close by the application.
//!
//! Retries: HTTP 500, 503, 408 and 429, close codes 1000, 1001, 1011, 1012, 1013 (waiting at
//! least `try_again_later_delay`) and 1014, EOF without a close frame, and a refused connect.
//! The `classify` hook can turn a default retry (1000) into a stop.

use std::time::{Duration, Instant};

use resock_core::session::{Decision, HandBackReason, ReconnectPolicy, SessionEvent};
use resock_core::{
    CloseCode, ClosedReason, DisconnectReason, HandshakeError, Message, MessageId, SessionConfig, SessionState,
    TransportError, TransportErrorKind,
};
use resock_tests::pair::Pair;
use resock_tests::server::Answer;

/// Long enough for any retry of the default policy (cap 30 s, 1013 waits 30 s).
const PATIENCE: Duration = Duration::from_secs(300);

fn rejecting(status: u16) -> Answer {
    Answer::Reject {
        status,
        headers: Vec::new(),
    }
}

/// A pair whose first handshake gets `answer`, with two messages queued before it.
fn handshake_pair(answer: Answer) -> (Pair, Vec<MessageId>) {
    let mut pair = Pair::new(Pair::config());
    pair.server.answer = answer;
    let ids = queue_two(&mut pair);
    (pair, ids)
}

fn queue_two(pair: &mut Pair) -> Vec<MessageId> {
    (0..2)
        .map(|i| pair.send(Message::text(format!("queued {i}"))))
        .collect()
}

/// An open pair whose server then closes with `code`. Two messages are queued while the
/// session is closing, so they are still waiting when the connection ends.
fn server_close_pair(code: u16, config: SessionConfig) -> (Pair, Vec<MessageId>, Instant) {
    let mut pair = Pair::new(config);
    assert!(pair.run_until_open(Duration::from_secs(1)));
    pair.run_for(Duration::from_secs(1));
    let now = pair.now();
    pair.server.close_all(CloseCode(code), now);
    assert!(pair.run_until_cond(Duration::from_secs(1), |p| *p.session.state()
        == SessionState::Closing { for_good: false }));
    let ids = queue_two(&mut pair);
    assert!(pair.run_until_cond(Duration::from_secs(1), |p| !p.disconnects().is_empty()));
    let at = pair.disconnects()[0].0;
    (pair, ids, at)
}

fn server_closed(code: u16) -> DisconnectReason {
    DisconnectReason::ServerClosed {
        code: CloseCode(code),
        reason: "server going away".to_owned(),
    }
}

/// Runs a long while and checks the session stopped for good after its first connection:
/// `closed` as state, `ids` handed back with `Closed`, one `Disconnected` with no retry.
fn assert_stopped(pair: &mut Pair, closed: ClosedReason, ids: &[MessageId]) -> DisconnectReason {
    pair.run_for(PATIENCE);
    assert_eq!(pair.connects.len(), 1, "{closed:?}: retried");
    assert_eq!(*pair.session.state(), SessionState::Closed(closed.clone()));
    let handed: Vec<_> = pair
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::HandedBack { id, reason, .. } => Some((*id, *reason)),
            _ => None,
        })
        .collect();
    let expected: Vec<_> = ids.iter().map(|id| (*id, HandBackReason::Closed)).collect();
    assert_eq!(handed, expected, "{closed:?}");
    let disconnects = pair.disconnects();
    assert_eq!(disconnects.len(), 1, "{closed:?}");
    let (_, reason, retry_at) = disconnects.into_iter().next().unwrap();
    assert_eq!(retry_at, None, "{closed:?}");
    assert_eq!(pair.session.poll_timeout(), None, "{closed:?}: a timer is left");
    assert!(!pair.has_transport());
    assert!(matches!(
        pair.session.send(Message::text("late")),
        Err(resock_core::SessionSendError::Closed(_))
    ));
    reason
}

/// Checks the session retried after its first disconnect; returns (disconnect, next connect).
fn assert_retried(pair: &mut Pair, what: &str) -> (Instant, Instant) {
    assert!(
        pair.run_until_cond(PATIENCE, |p| p.connects.len() >= 2),
        "{what}: no retry"
    );
    let (at, _, retry_at) = pair.disconnects()[0].clone();
    assert_eq!(retry_at, Some(pair.connects[1]), "{what}");
    assert!(!matches!(pair.session.state(), SessionState::Closed(_)), "{what}");
    assert!(pair.handed_back.is_empty(), "{what}: messages handed back");
    (at, pair.connects[1])
}

#[test]
fn http_403_and_404_stop() {
    for status in [403, 404] {
        let (mut pair, ids) = handshake_pair(rejecting(status));
        pair.run_for(Duration::from_secs(1));
        let reason = pair.disconnects()[0].1.clone();
        let DisconnectReason::Handshake(HandshakeError::Rejected(rejection)) = &reason else {
            panic!("{status}: {reason:?}");
        };
        assert_eq!(rejection.status, status);
        assert_eq!(
            assert_stopped(&mut pair, ClosedReason::Fatal(reason.clone()), &ids),
            reason
        );
        assert!(
            pair.events.iter().any(|(_, e)| matches!(e, SessionEvent::Error(_))),
            "{status}: no error event"
        );
    }
}

#[test]
fn a_wrong_accept_header_stops() {
    let (mut pair, ids) = handshake_pair(Answer::BadAccept);
    let reason = DisconnectReason::Handshake(HandshakeError::BadAccept);
    assert_eq!(
        assert_stopped(&mut pair, ClosedReason::Fatal(reason.clone()), &ids),
        reason
    );
    assert!(pair.server.connections() == 0, "the transport was closed");
}

#[test]
fn fatal_close_codes_from_the_server_stop() {
    for code in [1002, 1003, 1007, 1008, 1009, 1010] {
        let (mut pair, ids, _) = server_close_pair(code, Pair::config());
        let reason = server_closed(code);
        assert_eq!(
            assert_stopped(&mut pair, ClosedReason::Fatal(reason.clone()), &ids),
            reason,
            "{code}"
        );
        assert!(
            pair.events
                .iter()
                .any(|(_, e)| matches!(e, SessionEvent::Closed { code: c, .. } if c.0 == code))
        );
    }
}

#[test]
fn a_tls_certificate_error_stops() {
    let mut pair = Pair::new(Pair::config());
    pair.server.up = false;
    pair.link.refusal = TransportErrorKind::TlsCertificate;
    let ids = queue_two(&mut pair);
    let reason = assert_stopped(
        &mut pair,
        ClosedReason::Fatal(pair_reason(TransportErrorKind::TlsCertificate)),
        &ids,
    );
    assert_eq!(reason, pair_reason(TransportErrorKind::TlsCertificate));
    // Any other TLS failure is retried.
    let mut pair = Pair::new(Pair::config());
    pair.server.up = false;
    pair.link.refusal = TransportErrorKind::Tls;
    assert_retried(&mut pair, "tls");
}

fn pair_reason(kind: TransportErrorKind) -> DisconnectReason {
    DisconnectReason::Transport(TransportError::new(kind, "simulated transport failure"))
}

#[test]
fn a_close_by_the_application_stops() {
    // While waiting to retry: closes at once.
    let mut pair = Pair::new(Pair::config());
    pair.server.up = false;
    let ids = queue_two(&mut pair);
    assert!(pair.run_until_cond(Duration::from_secs(1), |p| matches!(
        p.session.state(),
        SessionState::WaitingToRetry { .. }
    )));
    let now = pair.now();
    pair.session.close(now, CloseCode::NORMAL, "bye");
    pair.run_for(PATIENCE);
    assert_eq!(pair.connects.len(), 1, "retried after the user closed");
    assert_eq!(*pair.session.state(), SessionState::Closed(ClosedReason::User));
    assert_eq!(pair.handed_back, ids);
    let last = pair.disconnects().pop().unwrap();
    assert_eq!((last.1, last.2), (DisconnectReason::UserClosed, None));
    assert_eq!(pair.session.poll_timeout(), None);

    // While open: the close handshake runs, then nothing reconnects.
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    let now = pair.now();
    pair.session.close(now, CloseCode::NORMAL, "bye");
    let reason = assert_stopped(&mut pair, ClosedReason::User, &[]);
    assert_eq!(reason, DisconnectReason::UserClosed);
    assert!(pair.server.connections() == 0);
}

#[test]
fn retryable_http_statuses_retry() {
    for status in [500, 503, 408, 429] {
        let (mut pair, _) = handshake_pair(rejecting(status));
        let (at, next) = assert_retried(&mut pair, &status.to_string());
        let DisconnectReason::Handshake(HandshakeError::Rejected(r)) = &pair.disconnects()[0].1 else {
            panic!("{status}: {:?}", pair.disconnects()[0].1);
        };
        assert_eq!(r.status, status);
        assert!(
            next - at <= Duration::from_secs(1),
            "{status}: first retry after {:?}",
            next - at
        );
        // Once the server accepts again, the queued messages go out.
        pair.server.answer = Answer::Accept(None);
        assert!(pair.run_until_open(PATIENCE), "{status}");
        pair.run_for(Duration::from_secs(1));
        assert_eq!(pair.server_texts(), ["queued 0", "queued 1"], "{status}");
    }
}

#[test]
fn retryable_close_codes_retry() {
    let default_wait = ReconnectPolicy::default().try_again_later_delay;
    for code in [1000, 1001, 1011, 1012, 1013, 1014] {
        let (mut pair, _, _) = server_close_pair(code, Pair::config());
        let (at, next) = assert_retried(&mut pair, &code.to_string());
        assert_eq!(pair.disconnects()[0].1, server_closed(code));
        if code == 1013 {
            assert!(next - at >= default_wait, "1013: retried after {:?}", next - at);
            assert!(
                next - at <= default_wait + Duration::from_secs(1),
                "1013: waited {:?}",
                next - at
            );
        } else {
            assert!(
                next - at <= Duration::from_secs(1),
                "{code}: first retry after {:?}",
                next - at
            );
        }
        assert!(pair.run_until_open(PATIENCE), "{code}");
        pair.run_for(Duration::from_secs(1));
        assert_eq!(
            pair.server_texts(),
            ["queued 0", "queued 1"],
            "{code}: queued messages survive"
        );
        assert!(pair.handed_back.is_empty());
    }
}

#[test]
fn a_try_again_later_delay_above_the_cap_is_honoured() {
    let mut config = Pair::config();
    config.reconnect.try_again_later_delay = Duration::from_secs(90);
    let (mut pair, _, _) = server_close_pair(1013, config);
    let (at, next) = assert_retried(&mut pair, "1013");
    assert!(
        next - at >= Duration::from_secs(90),
        "waited {:?}, above the 30 s cap",
        next - at
    );
}

#[test]
fn eof_and_refusal_retry() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    pair.cut();
    assert_retried(&mut pair, "eof");
    assert_eq!(pair.disconnects()[0].1, DisconnectReason::Reset);

    let mut pair = Pair::new(Pair::config());
    pair.server.up = false;
    assert_retried(&mut pair, "refused");
    assert_eq!(pair.disconnects()[0].1, pair_reason_refused());
    pair.run_for(Duration::from_secs(600));
    assert!(pair.connects.len() > 20, "keeps retrying: {}", pair.connects.len());
    assert!(matches!(
        pair.session.state(),
        SessionState::Connecting { .. } | SessionState::WaitingToRetry { .. }
    ));
}

fn pair_reason_refused() -> DisconnectReason {
    DisconnectReason::Transport(TransportError::new(TransportErrorKind::Refused, "connection refused"))
}

#[test]
fn the_classify_hook_can_stop_on_a_normal_close() {
    let mut config = Pair::config();
    config.reconnect = ReconnectPolicy::default().classify(|reason, default| match reason {
        DisconnectReason::ServerClosed { code, .. } if *code == CloseCode::NORMAL => Decision::Stop,
        _ => default,
    });
    let (mut pair, ids, _) = server_close_pair(1000, config.clone());
    let reason = server_closed(1000);
    assert_eq!(
        assert_stopped(&mut pair, ClosedReason::Fatal(reason.clone()), &ids),
        reason
    );

    // The hook leaves the other decisions alone: 1001 still retries.
    let (mut pair, _, _) = server_close_pair(1001, config);
    assert_retried(&mut pair, "1001 with the hook");
}

#[test]
fn a_disabled_policy_stops_on_anything() {
    let mut config = Pair::config();
    config.reconnect = ReconnectPolicy::disabled();
    let (mut pair, ids, _) = server_close_pair(1001, config);
    let reason = server_closed(1001);
    assert_eq!(
        assert_stopped(&mut pair, ClosedReason::Fatal(reason.clone()), &ids),
        reason
    );
}
