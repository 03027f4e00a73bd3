//! Typed errors, one enum per operation, each saying what a caller can do about it.

use crate::close::{CloseCode, CloseFrameError};
use crate::frame::FrameError;
use crate::handshake::HandshakeError;

/// The peer broke RFC 6455; the connection was failed with [`ProtocolError::close_code`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A bad frame header.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A continuation frame with no message in progress (§5.4).
    #[error("a continuation frame arrived with no message in progress")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message was still open (§5.4).
    #[error("a new message started while a fragmented message was still open")]
    ExpectedContinuation,
    /// A text message, or a close reason, that is not valid UTF-8 (§8.1).
    #[error("a text message is not valid UTF-8")]
    InvalidUtf8,
    /// A message larger than the configured limit.
    #[error("a message of at least {size} bytes exceeds the configured limit of {limit} bytes")]
    MessageTooLarge {
        /// Bytes the message had reached.
        size: u64,
        /// Configured limit.
        limit: usize,
    },
    /// More fragments in one message than the configured limit.
    #[error("a message is split into more than {limit} fragments")]
    TooManyFragments {
        /// Configured limit.
        limit: usize,
    },
    /// A malformed close frame body.
    #[error(transparent)]
    Close(#[from] CloseFrameError),
    /// A compressed message (permessage-deflate) whose bytes are not valid DEFLATE data;
    /// the text is the inflater's.
    #[error("a compressed message is not valid DEFLATE data: {0}")]
    InvalidCompressedData(String),
}

impl ProtocolError {
    /// The close code sent when failing the connection for this error.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::Frame(e) => e.close_code(),
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData(_) => CloseCode::INVALID_PAYLOAD,
            ProtocolError::MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::TooManyFragments { .. } => CloseCode::POLICY_VIOLATION,
            ProtocolError::Close(CloseFrameError::InvalidReason) => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// Why a connection ended other than by a clean close handshake.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    /// The opening handshake failed (non-101 status, bad headers, limits).
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// The opening handshake did not complete within the handshake timeout.
    #[error("the opening handshake timed out")]
    HandshakeTimeout,
    /// The peer broke the protocol; we sent a close frame with the code it carries.
    #[error("the connection was closed with {code} because {err}", code = .0.close_code(), err = .0)]
    Protocol(#[from] ProtocolError),
    /// The peer did not finish the close handshake within the close timeout.
    #[error("the peer did not finish the close handshake in time")]
    CloseTimeout,
    /// The transport ended without a close handshake (1006).
    #[error("the connection ended without a close frame")]
    ResetWithoutClose,
    /// The driver reported a transport error; the text is the driver's sentence.
    #[error("{0}")]
    Transport(String),
}

/// Why [`Connection::send`](crate::Connection::send) refused a message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The opening handshake has not completed yet.
    #[error("the connection is not open yet")]
    NotOpen,
    /// A close frame was sent or received; no more data may be sent.
    #[error("the connection is closing or closed")]
    Closed,
    /// A whole message or a new first fragment while a fragmented message is still open.
    #[error("a fragmented message is still open; finish it with a final continuation fragment")]
    MessageInProgress,
    /// A continuation fragment with no fragmented message open.
    #[error("no fragmented message is open to continue")]
    NoMessageInProgress,
    /// Text fragments that are not, or can never become, valid UTF-8.
    #[error("text fragments must be valid UTF-8")]
    InvalidUtf8,
    /// `send_fragment` was given a control opcode.
    #[error("only text, binary and continuation frames can carry message fragments")]
    NotData,
}

/// Why [`Connection::close`](crate::Connection::close) refused to start a close.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseError {
    /// The code may not appear in a close frame (1005, 1006, 1015, unassigned ranges).
    #[error("close code {0} may not be sent")]
    InvalidCode(u16),
    /// The reason is longer than the 123 bytes a close frame can carry.
    #[error("a close reason of {0} bytes exceeds the 123 bytes a close frame can carry")]
    ReasonTooLong(usize),
    /// A close is already under way or done.
    #[error("the connection is already closing or closed")]
    AlreadyClosing,
}
