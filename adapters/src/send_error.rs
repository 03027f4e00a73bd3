//! Why a client refused a message: one family for every client and method. Every refusal
//! hands the message back.

use resock_core::Message;
use resock_core::session::SessionSendError;

/// Why a client did not take a message (async `send`/`try_send`, the blocking client and its
/// [`Sender`](crate::blocking_client::Sender)). The message always comes back inside.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No room right now: the outbound queue is at its bound. Only the methods that do not
    /// wait (`try_send`) return it; `send` waits for room instead.
    #[error("the outbound queue is full; `send` waits for room")]
    Full(Message),
    /// The queue stayed full for the whole send timeout (blocking client and `Sender`).
    #[error("the outbound queue stayed full for the send timeout")]
    TimedOut(Message),
    /// The session closed for good (or its driver ended).
    #[error("the session is closed")]
    Closed(Message),
    /// The message alone exceeds the queue's byte bound, so it could never be queued.
    #[error("the message of {} bytes exceeds the queue's byte bound", .0.len())]
    TooLarge(Message),
}

impl SendError {
    /// The refused message.
    pub fn into_message(self) -> Message {
        match self {
            SendError::Full(m) | SendError::TimedOut(m) | SendError::Closed(m) | SendError::TooLarge(m) => m,
        }
    }
}

impl From<SessionSendError> for SendError {
    fn from(error: SessionSendError) -> Self {
        match error {
            SessionSendError::QueueFull(m) => SendError::Full(m),
            SessionSendError::TooLarge(m) => SendError::TooLarge(m),
            other => SendError::Closed(other.into_message()),
        }
    }
}

/// Why a typed send (`send_typed`, feature `json`) failed, on any client.
#[cfg(feature = "json")]
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TypedSendError {
    /// The value could not be encoded; nothing was queued.
    #[error(transparent)]
    Encode(#[from] resock_core::typed::EncodeError),
    /// The encoded message was refused; it comes back inside.
    #[error(transparent)]
    Send(#[from] SendError),
}
