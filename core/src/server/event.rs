//! What a server connection reports, and why it ended.

use std::fmt;

use crate::close::CloseCode;
use crate::error::ConnectionError;
use crate::handshake::{Accepted, Request};
use crate::message::Message;

/// What a [`ServerConnection`](super::ServerConnection) reports to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A valid opening request arrived: answer it with
    /// [`accept`](super::ServerConnection::accept) or [`reject`](super::ServerConnection::reject)
    /// within the handshake timeout (after it, the client gets 503).
    Request(Request),
    /// The handshake completed; messages may flow.
    Opened(Accepted),
    /// A whole data message from the client.
    Message(Message),
    /// The connection is over: write what [`poll_transmit`](super::ServerConnection::poll_transmit)
    /// still returns, then drop the transport.
    Closed(ServerClose),
}

/// How a server connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerClose {
    /// The close code: the one we sent when we closed, the client's when it closed, the code
    /// of our failure close for a protocol error, 1006 when no close frame went either way
    /// (HTTP answers, a transport that just ended).
    pub code: CloseCode,
    /// The reason that went with `code` (empty when none).
    pub reason: String,
    /// Why the connection ended.
    pub why: ServerCloseReason,
}

impl fmt::Display for ServerClose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (close code {})", self.why, self.code.0)
    }
}

/// Why a server connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerCloseReason {
    /// The client closed the connection with a close frame.
    Peer,
    /// The application closed it ([`close`](super::ServerConnection::close)).
    Local,
    /// The opening request was not complete within the handshake timeout; 408 was sent.
    HandshakeTimeout,
    /// The application did not accept or reject within the handshake timeout; 503 was sent.
    DecisionTimeout,
    /// The application rejected the request with this HTTP status.
    Rejected {
        /// The status sent.
        status: u16,
    },
    /// No data message moved either way for the idle timeout; closed 1000.
    IdleTimeout,
    /// The client did not answer a ping within the pong timeout; closed 1011.
    PongTimeout,
    /// The outbound queue was full; closed 1008 with the queued messages discarded.
    SlowConsumer {
        /// Messages queued when the next one was refused.
        queued_messages: usize,
        /// Payload bytes queued when the next message was refused.
        queued_bytes: usize,
    },
    /// The server's inbound memory budget was exceeded; closed 1009.
    MemoryBudget,
    /// The server is shutting down; closed 1001.
    GoingAway,
    /// The connection failed: a bad request, a protocol violation, a message too large, a
    /// transport that ended without a close frame, a close handshake not finished in time.
    Error(ConnectionError),
}

impl fmt::Display for ServerCloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerCloseReason::Peer => f.write_str("the client closed the connection"),
            ServerCloseReason::Local => f.write_str("the server closed the connection"),
            ServerCloseReason::HandshakeTimeout => {
                f.write_str("the opening request did not arrive within the handshake timeout")
            }
            ServerCloseReason::DecisionTimeout => {
                f.write_str("the request was not accepted or rejected within the handshake timeout")
            }
            ServerCloseReason::Rejected { status } => write!(f, "the request was rejected with status {status}"),
            ServerCloseReason::IdleTimeout => f.write_str("no message moved within the idle timeout"),
            ServerCloseReason::PongTimeout => f.write_str("the client did not answer a ping within the pong timeout"),
            ServerCloseReason::SlowConsumer {
                queued_messages,
                queued_bytes,
            } => write!(
                f,
                "the client read too slowly: {queued_messages} messages ({queued_bytes} bytes) were waiting"
            ),
            ServerCloseReason::MemoryBudget => f.write_str("the server's inbound memory budget was exceeded"),
            ServerCloseReason::GoingAway => f.write_str("the server is shutting down"),
            ServerCloseReason::Error(error) => write!(f, "the connection failed: {error}"),
        }
    }
}

/// Why [`send`](super::ServerConnection::send) or
/// [`send_prepared`](super::ServerConnection::send_prepared) refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerSendError {
    /// The connection is not open: before `accept`, or after a close started.
    #[error("the connection is not open")]
    NotOpen,
    /// The outbound queue was full, so the connection is now closing with 1008 "slow
    /// consumer"; its queued messages were discarded.
    #[error(
        "the client reads too slowly: {queued_messages} messages ({queued_bytes} bytes) were waiting; the connection is closing"
    )]
    SlowConsumer {
        /// Messages queued when this one was refused.
        queued_messages: usize,
        /// Payload bytes queued when this one was refused.
        queued_bytes: usize,
    },
    /// The message alone is larger than the queue's byte limit; nothing was queued and the
    /// connection stays open.
    #[error("a message of {size} bytes can never fit the outbound queue of {limit} bytes")]
    MessageTooLarge {
        /// The message's payload bytes.
        size: usize,
        /// `max_queued_bytes`.
        limit: usize,
    },
}
