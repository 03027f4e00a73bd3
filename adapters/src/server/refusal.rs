//! Refused connections, as the application hears of them: [`Refusal`] (who, which status, why)
//! passed to the hook of [`ServerBuilder::on_refusal`](super::ServerBuilder::on_refusal), and
//! [`ServerStats`], the server's counts since it started
//! ([`Server::stats`](super::Server::stats)).
//!
//! A connection is refused at accept (the server is full: 503; its address holds too many:
//! 429) or during its handshake (408 for a request that did not arrive in time, 503 for a
//! decision that did not come in time, the decision hook's own status, 500 when the decision
//! hook panicked, 400/405/426/431 for a request that is not a valid opening request, 503 when
//! the server shuts down while a request waits for its decision). Each is reported once, when
//! the server decides, whether or not the client stays to read the answer.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use resock_core::server::{ServerClose, ServerCloseReason};
use resock_core::{ConnectionError, Request};

/// One refused connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The client's address.
    pub peer_addr: SocketAddr,
    /// The HTTP status the server answers (or answered) with.
    pub status: u16,
    /// Why the connection was refused.
    pub reason: RefusalReason,
    /// The opening request, when the decision hook rejected it (its path, Origin and headers
    /// tell what was refused); `None` for the other reasons.
    pub request: Option<Request>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalReason {
    /// The opening request was not complete within the handshake timeout (408).
    HandshakeTimeout,
    /// The decision hook did not answer within the handshake timeout (503).
    DecisionTimeout,
    /// The server held [`max_connections`](super::ServerBuilder::max_connections) (503 with
    /// `Retry-After`).
    Full,
    /// The client's address held
    /// [`max_connections_per_ip`](super::ServerBuilder::max_connections_per_ip) (429 with
    /// `Retry-After`).
    PerIpLimit,
    /// The decision hook rejected the request (its status).
    Rejected,
    /// The request was not a valid WebSocket opening request (400, 405, 426 or 431); the
    /// text says what was wrong.
    BadRequest(String),
    /// The server began shutting down while the request waited for its decision (503).
    ShuttingDown,
    /// The decision hook panicked on the request (500); the server went on.
    DecisionPanicked,
}

impl RefusalReason {
    /// A short kebab-case name, stable for logs and metrics (`handshake-timeout`, `full`,
    /// `per-ip-limit`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            RefusalReason::HandshakeTimeout => "handshake-timeout",
            RefusalReason::DecisionTimeout => "decision-timeout",
            RefusalReason::Full => "full",
            RefusalReason::PerIpLimit => "per-ip-limit",
            RefusalReason::Rejected => "rejected",
            RefusalReason::BadRequest(_) => "bad-request",
            RefusalReason::ShuttingDown => "shutting-down",
            RefusalReason::DecisionPanicked => "decision-panicked",
        }
    }

    /// Where this reason is counted in [`ServerStats`].
    fn counter(&self) -> usize {
        match self {
            RefusalReason::HandshakeTimeout => HANDSHAKE_TIMEOUT,
            RefusalReason::DecisionTimeout => DECISION_TIMEOUT,
            RefusalReason::Full => FULL,
            RefusalReason::PerIpLimit => PER_IP_LIMIT,
            RefusalReason::Rejected => REJECTED,
            RefusalReason::BadRequest(_) => BAD_REQUEST,
            RefusalReason::ShuttingDown => SHUTTING_DOWN,
            RefusalReason::DecisionPanicked => DECISION_PANICKED,
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusalReason::HandshakeTimeout => f.write_str("the request did not arrive within the handshake timeout"),
            RefusalReason::DecisionTimeout => f.write_str("the request was not decided within the handshake timeout"),
            RefusalReason::Full => f.write_str("the server is at its connection limit"),
            RefusalReason::PerIpLimit => f.write_str("the client's address is at its connection limit"),
            RefusalReason::Rejected => f.write_str("the decision hook rejected the request"),
            RefusalReason::BadRequest(problem) => write!(f, "not a valid opening request: {problem}"),
            RefusalReason::ShuttingDown => f.write_str("the server is shutting down"),
            RefusalReason::DecisionPanicked => f.write_str("the decision hook panicked"),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused {} with {}: {}", self.peer_addr, self.status, self.reason)
    }
}

/// The server's counts since it started. Each count only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections that completed their opening handshake.
    pub accepted: u64,
    /// Connections refused, for every reason (the sum of the counts below, `dropped` aside).
    pub refused: u64,
    /// Refused with 408: the request did not arrive in time.
    pub handshake_timeouts: u64,
    /// Refused with 503: the decision did not come in time.
    pub decision_timeouts: u64,
    /// Refused with 503: the server was full.
    pub full: u64,
    /// Refused with 429: the client's address held its maximum.
    pub per_ip_limit: u64,
    /// Refused by the decision hook.
    pub rejected: u64,
    /// Refused as invalid opening requests.
    pub bad_requests: u64,
    /// Refused with 503 because the server was shutting down.
    pub shutting_down: u64,
    /// Refused with 500 because the decision hook panicked.
    pub decision_panics: u64,
    /// Sockets closed at accept without an answer: the server was full (or the address at its
    /// limit) and [`max_refusals`](super::ServerBuilder::max_refusals) refusals were being
    /// answered already. Counted only; the refusal hook does not hear of them (a flood is
    /// exactly when it should not run once per socket).
    pub dropped: u64,
    /// TLS handshakes (on a server with [`tls`](super::ServerBuilder::tls)) that failed or
    /// did not finish within the handshake timeout: a client that does not speak TLS, refuses
    /// the certificate, or never finishes. Counted only: without a TLS session there is no
    /// HTTP answer to give, and the refusal hook does not hear of them. A handshake cut short
    /// by [`shutdown`](super::Server::shutdown) is not counted.
    pub tls_failures: u64,
}

const HANDSHAKE_TIMEOUT: usize = 0;
const DECISION_TIMEOUT: usize = 1;
const FULL: usize = 2;
const PER_IP_LIMIT: usize = 3;
const REJECTED: usize = 4;
const BAD_REQUEST: usize = 5;
const SHUTTING_DOWN: usize = 6;
const DECISION_PANICKED: usize = 7;
const REASONS: usize = 8;

/// The refusal hook, shared by the accept loop and every connection task.
pub(crate) type OnRefusal = Arc<dyn Fn(&Refusal) + Send + Sync>;

/// What a server counts and whom it tells about refusals.
pub(crate) struct Reports {
    hook: Option<OnRefusal>,
    accepted: AtomicU64,
    refused: [AtomicU64; REASONS],
    dropped: AtomicU64,
    tls_failures: AtomicU64,
}

impl Reports {
    pub(crate) fn new(hook: Option<OnRefusal>) -> Self {
        Reports {
            hook,
            accepted: AtomicU64::new(0),
            refused: Default::default(),
            dropped: AtomicU64::new(0),
            tls_failures: AtomicU64::new(0),
        }
    }

    /// A connection completed its handshake.
    pub(crate) fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// A socket was closed at accept without an answer.
    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// A TLS handshake failed or timed out.
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    pub(crate) fn tls_failed(&self) {
        self.tls_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `refusal` and passes it to the hook. Call it with no lock held. A panic in the
    /// hook stops there: it would otherwise end the accept loop or a connection's task (or,
    /// during an unwind, abort the process); the refusal stays counted.
    pub(crate) fn refused(&self, refusal: Refusal) {
        self.refused[refusal.reason.counter()].fetch_add(1, Ordering::Relaxed);
        if let Some(hook) = &self.hook {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&refusal)));
        }
    }

    /// The counts now.
    pub(crate) fn stats(&self) -> ServerStats {
        let count = |reason: usize| self.refused[reason].load(Ordering::Relaxed);
        let refused = (0..REASONS).map(count).fold(0u64, u64::saturating_add);
        ServerStats {
            accepted: self.accepted.load(Ordering::Relaxed),
            refused,
            handshake_timeouts: count(HANDSHAKE_TIMEOUT),
            decision_timeouts: count(DECISION_TIMEOUT),
            full: count(FULL),
            per_ip_limit: count(PER_IP_LIMIT),
            rejected: count(REJECTED),
            bad_requests: count(BAD_REQUEST),
            shutting_down: count(SHUTTING_DOWN),
            decision_panics: count(DECISION_PANICKED),
            dropped: self.dropped.load(Ordering::Relaxed),
            tls_failures: self.tls_failures.load(Ordering::Relaxed),
        }
    }
}

/// The refusal a connection's end amounts to, when it ended before opening with an HTTP
/// answer: `saw_request` tells whether a whole request had arrived (a shutdown answers such a
/// request 503, and ends one still arriving silently). A client that left, or a transport that
/// failed, before the handshake is not a refusal.
pub(crate) fn refusal_of_unopened(close: &ServerClose, saw_request: bool) -> Option<(u16, RefusalReason)> {
    match &close.why {
        ServerCloseReason::HandshakeTimeout => Some((408, RefusalReason::HandshakeTimeout)),
        ServerCloseReason::DecisionTimeout => Some((503, RefusalReason::DecisionTimeout)),
        ServerCloseReason::Rejected { status } => Some((*status, RefusalReason::Rejected)),
        ServerCloseReason::GoingAway if saw_request => Some((503, RefusalReason::ShuttingDown)),
        ServerCloseReason::Error(ConnectionError::Handshake(error)) => {
            Some((error.http_status(), RefusalReason::BadRequest(error.to_string())))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use resock_core::{CloseCode, HandshakeError};

    use super::*;

    fn close(why: ServerCloseReason) -> ServerClose {
        ServerClose {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            why,
        }
    }

    #[test]
    fn an_unopened_end_maps_to_its_status_and_reason_and_a_departure_is_no_refusal() {
        let cases = [
            (
                ServerCloseReason::HandshakeTimeout,
                false,
                Some((408, "handshake-timeout")),
            ),
            (
                ServerCloseReason::DecisionTimeout,
                true,
                Some((503, "decision-timeout")),
            ),
            (
                ServerCloseReason::Rejected { status: 401 },
                true,
                Some((401, "rejected")),
            ),
            (ServerCloseReason::GoingAway, true, Some((503, "shutting-down"))),
            (ServerCloseReason::GoingAway, false, None),
            (
                ServerCloseReason::Error(ConnectionError::Handshake(HandshakeError::BadVersion)),
                false,
                Some((426, "bad-request")),
            ),
            (
                ServerCloseReason::Error(ConnectionError::ResetWithoutClose),
                false,
                None,
            ),
            (ServerCloseReason::Peer, true, None),
        ];
        for (why, saw_request, expected) in cases {
            let got = refusal_of_unopened(&close(why.clone()), saw_request);
            let got = got.map(|(status, reason)| (status, reason.name()));
            assert_eq!(got, expected, "{why:?}");
        }
    }

    #[test]
    fn every_refusal_is_counted_under_its_reason_and_passed_to_the_hook_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let heard = Arc::clone(&seen);
        let reports = Reports::new(Some(Arc::new(move |refusal: &Refusal| {
            heard.lock().unwrap().push(refusal.clone());
        })));
        let peer: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let reasons = [
            RefusalReason::HandshakeTimeout,
            RefusalReason::DecisionTimeout,
            RefusalReason::Full,
            RefusalReason::Full,
            RefusalReason::PerIpLimit,
            RefusalReason::Rejected,
            RefusalReason::BadRequest("no Upgrade header".into()),
            RefusalReason::ShuttingDown,
            RefusalReason::DecisionPanicked,
        ];
        for reason in &reasons {
            reports.refused(Refusal {
                peer_addr: peer,
                status: 503,
                reason: reason.clone(),
                request: None,
            });
        }
        reports.accepted();
        reports.dropped();
        reports.tls_failed();
        reports.tls_failed();
        let stats = reports.stats();
        let expected = ServerStats {
            accepted: 1,
            refused: 9,
            handshake_timeouts: 1,
            decision_timeouts: 1,
            full: 2,
            per_ip_limit: 1,
            rejected: 1,
            bad_requests: 1,
            shutting_down: 1,
            decision_panics: 1,
            dropped: 1,
            tls_failures: 2,
        };
        assert_eq!(stats, expected);
        let seen: Vec<RefusalReason> = seen.lock().unwrap().iter().map(|r| r.reason.clone()).collect();
        assert_eq!(seen, reasons);
    }

    #[test]
    fn a_panicking_hook_stops_at_the_report_and_every_refusal_is_still_counted() {
        let calls = Arc::new(Mutex::new(0));
        let counted = Arc::clone(&calls);
        let reports = Reports::new(Some(Arc::new(move |_: &Refusal| {
            *counted.lock().unwrap() += 1;
            panic!("a hook with a bug");
        })));
        for _ in 0..3 {
            reports.refused(Refusal {
                peer_addr: "10.0.0.1:4000".parse().unwrap(),
                status: 503,
                reason: RefusalReason::Full,
                request: None,
            });
        }
        assert_eq!(*calls.lock().unwrap(), 3, "the hook heard every refusal");
        assert_eq!((reports.stats().full, reports.stats().refused), (3, 3));
    }
}
