//! What a session reports: its state, outputs for the driver and events for the application.

use std::fmt;
use std::time::{Duration, Instant};

use crate::close::CloseCode;
use crate::connection::Initiator;
use crate::message::Message;
use crate::url::WsUrl;

use super::error::Error;
use super::heartbeat::Rtt;
use super::policy::DisconnectReason;
use super::queue::MessageId;

/// Names one transport the session asked for; inputs about an older transport are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransportId(pub u64);

/// The connection state, small enough for a UI: each state says all a status line needs
/// (connecting for the first time or reconnecting, which attempt, the next try, closing for
/// good, why it closed), so a UI keeps no history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// Created, `connect` not called yet.
    Idle,
    /// Opening a transport and doing the handshake; `attempt` counts from 1 since the last
    /// healthy connection.
    Connecting {
        /// The attempt number.
        attempt: u32,
        /// A connection was open before: this is a reconnect, not the first connection.
        reconnect: bool,
    },
    /// The handshake completed; messages flow.
    Open,
    /// A close handshake is under way.
    Closing {
        /// The application closed: no reconnect follows. `false`: the server started the
        /// close, and its code decides what follows.
        for_good: bool,
    },
    /// Disconnected; the next attempt starts at `until`.
    WaitingToRetry {
        /// When the next attempt starts.
        until: Instant,
        /// The backoff delay as scheduled: `until` minus the instant of the disconnect. Print
        /// this rather than `until - Instant::now()`, which has already shrunk by the time the
        /// event is read.
        retry_in: Duration,
        /// The number that attempt will have.
        attempt: u32,
    },
    /// Closed for good.
    Closed(ClosedReason),
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionState::Idle => f.write_str("idle"),
            SessionState::Connecting {
                attempt,
                reconnect: false,
            } => write!(f, "connecting (attempt {attempt})"),
            SessionState::Connecting { attempt, .. } => write!(f, "reconnecting (attempt {attempt})"),
            SessionState::Open => f.write_str("open"),
            SessionState::Closing { for_good: true } => f.write_str("closing for good"),
            SessionState::Closing { .. } => f.write_str("closing"),
            SessionState::WaitingToRetry { attempt, .. } => write!(f, "waiting to retry (attempt {attempt} next)"),
            SessionState::Closed(reason) => write!(f, "closed: {reason}"),
        }
    }
}

/// Why a session closed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedReason {
    /// The application closed it.
    User,
    /// The reconnect policy classified the last disconnect as final.
    Fatal(DisconnectReason),
    /// The attempt or time limit ran out; the last disconnect is attached.
    RetriesExhausted(DisconnectReason),
}

impl fmt::Display for ClosedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClosedReason::User => f.write_str("closed by the application"),
            ClosedReason::Fatal(reason) => write!(f, "{reason} (not retried)"),
            ClosedReason::RetriesExhausted(reason) => write!(f, "gave up reconnecting: {reason}"),
        }
    }
}

/// A session that closed for good is what ends a client's `recv` and `connected`, so the reason
/// travels as an error (`?` into `Box<dyn Error>`). Its text already holds the disconnect
/// reason, so it names no source.
impl std::error::Error for ClosedReason {}

/// Why a message was handed back instead of written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandBackReason {
    /// Evicted by the drop-oldest overflow policy.
    Dropped,
    /// The session closed for good before the message could be written.
    Closed,
}

/// A message the session handed back instead of writing it, with its id and the reason: what
/// [`SessionEvent::HandedBack`] carries, as one value a client can keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandedBack {
    /// The id `send` returned for it.
    pub id: MessageId,
    /// The message itself.
    pub message: Message,
    /// Why it was handed back.
    pub reason: HandBackReason,
}

impl From<HandedBack> for SessionEvent {
    fn from(h: HandedBack) -> Self {
        SessionEvent::HandedBack {
            id: h.id,
            message: h.message,
            reason: h.reason,
        }
    }
}

/// Something the application should know. Cloning is cheap (payloads are shared `Bytes`), so
/// a driver can hand every event to several listeners.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The state changed.
    StateChanged(SessionState),
    /// A connection opened, with the subprotocol and the compression the server agreed to.
    #[non_exhaustive]
    Opened {
        /// The agreed subprotocol.
        subprotocol: Option<String>,
        /// permessage-deflate as agreed, `None` when messages go uncompressed; its
        /// `Display` is the `Sec-WebSocket-Extensions` value.
        deflate: Option<crate::extension::DeflateParams>,
    },
    /// A data message arrived.
    Message(Message),
    /// A text message decoded with the configured JSON envelope.
    #[cfg(feature = "json")]
    Typed(crate::typed::Envelope),
    /// A close handshake finished or the server closed: code, reason and who started it.
    Closed {
        /// The close code (1005 when none was given).
        code: CloseCode,
        /// The close reason.
        reason: String,
        /// Who started the close.
        initiator: Initiator,
    },
    /// The connection was lost; `retry_at` says when the next attempt starts, if any.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
        /// The next attempt, or `None` when the session closed for good.
        retry_at: Option<Instant>,
        /// The backoff delay as scheduled (`retry_at` minus the instant of the disconnect), or
        /// `None` when the session closed for good.
        retry_in: Option<Duration>,
    },
    /// An error a program can act on (also reported through `Disconnected`).
    Error(Error),
    /// The server redirected the opening handshake and the session follows: the same attempt
    /// goes on at `to` at once, within the same open timeout (an `Output::Connect` follows).
    Redirected {
        /// The redirect's status: 301, 302, 303, 307 or 308.
        status: u16,
        /// The URL the attempt goes on at (the `Location`, resolved). Its query may carry a
        /// token: show it with care.
        to: WsUrl,
    },
    /// A pong answered our heartbeat ping.
    Pong {
        /// This round trip.
        rtt: Duration,
        /// The smoothed round-trip time.
        smoothed: Duration,
    },
    /// A message was written: its bytes were taken by `poll_transmit`, so the driver wrote
    /// them to the socket (the kernel's send buffer), in order.
    ///
    /// `Sent` is not delivery. If the connection drops afterwards, bytes still in the
    /// kernel's buffers or on the network are lost with it, and neither side can tell which;
    /// the session does not resend them (a resend could deliver twice). For end-to-end
    /// delivery, have the server acknowledge each message by an id in your protocol and
    /// resend what was not acknowledged after a reconnect (an idempotent id lets the server
    /// drop duplicates). Messages never written are not lost silently: they come back in
    /// [`HandedBack`](Self::HandedBack).
    Sent(MessageId),
    /// A message was handed back, never written.
    HandedBack {
        /// Its id.
        id: MessageId,
        /// The message itself.
        message: Message,
        /// Why.
        reason: HandBackReason,
    },
    /// Bytes waiting for the transport fell below the low-water mark after exceeding the
    /// high-water mark: sending is welcome again.
    Writable,
}

impl SessionEvent {
    pub(crate) fn pong(rtt: Rtt) -> Self {
        SessionEvent::Pong {
            rtt: rtt.latest,
            smoothed: rtt.smoothed,
        }
    }
}

/// What the driver must do, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// Open a transport (TCP, then TLS for `wss`) to `url`, then report `Connected` or
    /// `Failed` for `id`. `url` is the configured one at the start of each attempt, and the
    /// target of a redirect while the session follows one (see
    /// [`SessionEvent::Redirected`]); open a transport to exactly this URL (TLS with its host).
    Connect {
        /// The transport's id.
        id: TransportId,
        /// Where to connect.
        url: WsUrl,
    },
    /// Write what `poll_transmit` still returns, then close transport `id`.
    Disconnect {
        /// The transport's id.
        id: TransportId,
    },
    /// An event for the application.
    Event(SessionEvent),
}
