//! Why a [`Client`](super::Client) refused a message; every refusal hands the message back.

use resock_core::Message;

/// Why [`Client::send`](super::Client::send) refused a message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The session closed for good (or its driver ended).
    #[error("the session is closed")]
    Closed(Message),
    /// The message alone exceeds the queue's byte bound.
    #[error("the message of {} bytes exceeds the queue's byte bound", .0.len())]
    TooLarge(Message),
}

impl SendError {
    /// The refused message.
    pub fn into_message(self) -> Message {
        match self {
            SendError::Closed(m) | SendError::TooLarge(m) => m,
        }
    }
}

/// Why [`Client::try_send`](super::Client::try_send) refused a message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError {
    /// No room right now: the outbound queue is at its bound, or the application has not taken
    /// the events (or handed-back messages) the client buffers for it.
    #[error("no room for the message now; `send` waits for room")]
    Full(Message),
    /// The session closed for good (or its driver ended).
    #[error("the session is closed")]
    Closed(Message),
    /// The message alone exceeds the queue's byte bound.
    #[error("the message of {} bytes exceeds the queue's byte bound", .0.len())]
    TooLarge(Message),
}

impl TrySendError {
    /// The refused message.
    pub fn into_message(self) -> Message {
        match self {
            TrySendError::Full(m) | TrySendError::Closed(m) | TrySendError::TooLarge(m) => m,
        }
    }
}

/// Why [`Client::send_typed`](super::Client::send_typed) failed.
#[cfg(feature = "json")]
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TypedSendError {
    /// The value could not be encoded; nothing was sent.
    #[error(transparent)]
    Encode(#[from] resock_core::typed::EncodeError),
    /// The encoded message was refused; it comes back.
    #[error(transparent)]
    Send(#[from] SendError),
}
