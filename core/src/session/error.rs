//! Session errors: one small enum per operation under a top-level [`Error`].

use crate::close::CloseCode;
use crate::error::ProtocolError;
use crate::handshake::HandshakeError;
use crate::message::Message;

use super::policy::{DisconnectReason, TransportError};
use super::redirect::RedirectError;

/// Why `Session::send` refused a message; the message comes back.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionSendError {
    /// The outbound queue is at its message or byte bound (overflow policy `Reject`).
    #[error("the outbound queue is full; try again when it drains")]
    QueueFull(Message),
    /// The session closed for good.
    #[error("the session is closed")]
    Closed(Message),
    /// The message alone exceeds the queue's byte bound.
    #[error("the message of {} bytes exceeds the queue's byte bound", .0.len())]
    TooLarge(Message),
}

impl SessionSendError {
    /// The refused message.
    pub fn into_message(self) -> Message {
        match self {
            SessionSendError::QueueFull(m) | SessionSendError::Closed(m) | SessionSendError::TooLarge(m) => m,
        }
    }
}

/// Which timeout fired. It displays as a sentence saying so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Opening (transport plus handshake).
    Open,
    /// The close handshake.
    Close,
    /// The heartbeat's pong deadline.
    Pong,
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutKind::Open => "opening the connection timed out",
            TimeoutKind::Close => "the server did not finish the close handshake in time",
            TimeoutKind::Pong => "no pong arrived within the heartbeat timeout",
        })
    }
}

/// Failures of establishing or keeping the connection.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The transport failed (DNS, refused, reset, TLS).
    #[error(transparent)]
    Transport(TransportError),
    /// The handshake failed; `Rejected` carries the HTTP status.
    #[error(transparent)]
    Handshake(HandshakeError),
    /// A timeout fired.
    #[error("{0}")]
    Timeout(TimeoutKind),
    /// A redirect of the opening handshake was refused; the error lists the chain of URLs.
    #[error(transparent)]
    Redirect(RedirectError),
}

/// Every error the session reports.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Connecting or staying connected failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The server broke the protocol (or a message exceeded our limit); we closed with
    /// `close_code`.
    #[error("the connection was closed with {close_code} because {error}")]
    Protocol {
        /// What was wrong.
        error: ProtocolError,
        /// The code we sent.
        close_code: CloseCode,
    },
    /// The server sent a message over this client's own size limit; we closed with 1009.
    #[error("the server sent a message of at least {size} bytes, over this client's {setting} of {limit} bytes")]
    MessageTooLarge {
        /// Bytes the message had reached: at least this many.
        size: u64,
        /// The limit it crossed.
        limit: u64,
        /// The setting that holds the limit: `max_message_size` or `max_frame_size`.
        setting: &'static str,
    },
    /// A received message did not decode into the expected type.
    #[cfg(feature = "json")]
    #[error("{0}")]
    Decode(crate::typed::DecodeError),
    /// A send was refused.
    #[error(transparent)]
    Send(#[from] SessionSendError),
}

impl Error {
    /// The error behind a disconnect, if it was one (a clean close or the user's is not).
    pub fn from_disconnect(reason: &DisconnectReason) -> Option<Error> {
        Some(match reason {
            DisconnectReason::Transport(e) => Error::Connect(ConnectError::Transport(e.clone())),
            DisconnectReason::OpenTimeout => Error::Connect(ConnectError::Timeout(TimeoutKind::Open)),
            DisconnectReason::CloseTimeout => Error::Connect(ConnectError::Timeout(TimeoutKind::Close)),
            DisconnectReason::PongTimeout => Error::Connect(ConnectError::Timeout(TimeoutKind::Pong)),
            DisconnectReason::Handshake(e) => Error::Connect(ConnectError::Handshake(e.clone())),
            DisconnectReason::Redirect(e) => Error::Connect(ConnectError::Redirect(e.clone())),
            DisconnectReason::Protocol(e) => Error::Protocol {
                close_code: e.close_code(),
                error: e.clone(),
            },
            DisconnectReason::MessageTooLarge { size, limit, setting } => Error::MessageTooLarge {
                size: *size,
                limit: *limit,
                setting,
            },
            DisconnectReason::Reset => Error::Connect(ConnectError::Transport(TransportError::new(
                super::policy::TransportErrorKind::Reset,
                "the connection ended without a close frame",
            ))),
            DisconnectReason::ServerClosed { .. } | DisconnectReason::UserClosed => return None,
        })
    }
}
