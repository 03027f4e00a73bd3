//! A message encoded once as an unmasked server frame, shared by every connection it goes to.

use bytes::Bytes;

use crate::frame::{OpCode, encode_frame};
use crate::message::{Message, Text};

/// A [`Message`] encoded **once** as an unmasked server frame, for a broadcast: every
/// subscriber's queue holds the same bytes (`Clone` only counts a reference).
///
/// A connection that agreed permessage-deflate compresses the message itself, in its own
/// [`poll_transmit`](super::ServerConnection::poll_transmit), since its compressor's state is
/// its own; every other connection copies [`frame`](Self::frame) as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedMessage {
    frame: Bytes,
    message: Message,
}

impl PreparedMessage {
    /// Encodes `message` as one final, unmasked frame (the bytes `Connection::send` writes on a
    /// server connection without compression). One allocation: the message kept for
    /// compressing connections shares the frame's payload bytes.
    pub fn new(message: &Message) -> Self {
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.as_bytes()),
            Message::Binary(bytes) => (OpCode::Binary, &bytes[..]),
        };
        let mut frame = Vec::new();
        encode_frame(&mut frame, true, opcode, payload, None);
        let frame = Bytes::from(frame);
        let body = frame.slice(frame.len() - payload.len()..);
        let message = match message {
            Message::Text(_) => Message::Text(Text::from_validated(body)),
            Message::Binary(_) => Message::Binary(body),
        };
        PreparedMessage { frame, message }
    }

    /// The encoded frame: header and payload.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }

    /// The message itself.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Payload bytes (what the outbound queue's byte limit counts).
    pub fn len(&self) -> usize {
        self.message.len()
    }

    /// True for an empty message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&Message> for PreparedMessage {
    fn from(message: &Message) -> Self {
        PreparedMessage::new(message)
    }
}

impl From<Message> for PreparedMessage {
    fn from(message: Message) -> Self {
        PreparedMessage::new(&message)
    }
}
