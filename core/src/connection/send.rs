//! The send path of a [`Connection`]: whole messages (compressed when permessage-deflate was
//! agreed and the message reaches the threshold), fragments the caller splits (compressed
//! whenever permessage-deflate was agreed), pings, and the
//! pongs owed; each framed (masked in the client role) into the outbound buffer that
//! [`poll_transmit`](Connection::poll_transmit) drains.

use crate::error::SendError;
#[cfg(feature = "deflate")]
use crate::extension::DeflateParams;
#[cfg(feature = "deflate")]
use crate::extension::compress::Compressor;
use crate::frame::{OpCode, Role, encode_frame};
use crate::message::Message;
use crate::utf8::Utf8Validator;

use super::{Connection, OutgoingFragments, State};

impl Connection {
    /// Queues a whole message. Fails before the handshake and after a close frame.
    pub fn send(&mut self, message: &Message) -> Result<(), SendError> {
        match message {
            Message::Text(t) => self.send_frame_checked(OpCode::Text, t.as_bytes()),
            Message::Binary(b) => self.send_frame_checked(OpCode::Binary, b),
        }
    }

    /// Queues a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_frame_checked(OpCode::Text, text.as_bytes())
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_frame_checked(OpCode::Binary, data)
    }

    /// Queues one fragment of a message the caller splits itself: the first with `Text` or
    /// `Binary`, the rest with `Continuation`, the last with `fin`.
    ///
    /// Refused, with nothing sent, when the sequence would break RFC 6455: a continuation with
    /// no message open, a new message while one is open, or text that cannot be valid UTF-8.
    ///
    /// When permessage-deflate was agreed, the message is compressed whatever its size (the
    /// size is not known at its first fragment, so the threshold does not apply): RSV1 on the
    /// first frame, each fragment's bytes flushed so that it goes out now.
    pub fn send_fragment(&mut self, opcode: OpCode, payload: &[u8], fin: bool) -> Result<(), SendError> {
        if opcode.is_control() {
            return Err(SendError::NotData);
        }
        self.check_can_send()?;
        let mut outgoing = match (opcode, self.outgoing.take()) {
            (OpCode::Continuation, Some(open)) => open,
            (OpCode::Continuation, None) => return Err(SendError::NoMessageInProgress),
            (_, Some(open)) => {
                self.outgoing = Some(open);
                return Err(SendError::MessageInProgress);
            }
            (_, None) => OutgoingFragments {
                utf8: (opcode == OpCode::Text).then(Utf8Validator::new),
                compressed: self.compresses_fragments(),
            },
        };
        if let Some(utf8) = outgoing.utf8.as_mut() {
            let mut checked = utf8.clone();
            let valid = checked.feed(payload).is_ok() && (!fin || checked.finish().is_ok());
            if !valid {
                if opcode == OpCode::Continuation {
                    self.outgoing = Some(outgoing);
                }
                return Err(SendError::InvalidUtf8);
            }
            *utf8 = checked;
        }
        if outgoing.compressed {
            self.write_compressed_fragment(fin, opcode, payload);
        } else {
            self.write_frame(fin, opcode, payload);
        }
        if !fin {
            self.outgoing = Some(outgoing);
        }
        Ok(())
    }

    /// Whether a message sent in fragments from now is compressed: permessage-deflate was
    /// agreed with a window zlib can make.
    fn compresses_fragments(&self) -> bool {
        #[cfg(feature = "deflate")]
        {
            self.compressor.as_ref().is_some_and(Compressor::can_compress)
        }
        #[cfg(not(feature = "deflate"))]
        {
            false
        }
    }

    /// One fragment of a compressed message: RSV1 on the first (`opcode` not `Continuation`).
    fn write_compressed_fragment(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        #[cfg(feature = "deflate")]
        if let Some(compressor) = self.compressor.as_mut() {
            let mut body = Vec::new();
            compressor.compress_part(payload, &mut body, fin);
            self.write_deflated(fin, opcode, opcode != OpCode::Continuation, &body);
            return;
        }
        // Without a compressor no message is marked compressed.
        self.write_frame(fin, opcode, payload);
    }

    /// Queues a ping with up to 125 bytes of payload (longer payloads are cut).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.check_can_send()?;
        let payload = &payload[..payload.len().min(125)];
        self.write_frame(true, OpCode::Ping, payload);
        Ok(())
    }

    pub(super) fn check_can_send(&self) -> Result<(), SendError> {
        match self.state {
            State::Open => Ok(()),
            State::ClientHandshake(_) | State::ServerHandshake(_) | State::AwaitingAccept => Err(SendError::NotOpen),
            State::Closing { .. } | State::Finished => Err(SendError::Closed),
        }
    }

    pub(super) fn send_frame_checked(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.outgoing.is_some() {
            return Err(SendError::MessageInProgress);
        }
        #[cfg(feature = "deflate")]
        if self.write_compressed(opcode, payload) {
            return Ok(());
        }
        self.write_frame(true, opcode, payload);
        Ok(())
    }

    /// permessage-deflate was agreed: our compressor uses our side's window and context
    /// setting, the receiver inflates with the peer's.
    #[cfg(feature = "deflate")]
    pub(super) fn start_deflate(&mut self, params: &DeflateParams) {
        let Some(ours) = self.config.deflate.as_ref() else {
            return;
        };
        let (bits, we_reset, peer_resets) = match self.role {
            Role::Client => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
                params.server_no_context_takeover,
            ),
            Role::Server => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
                params.client_no_context_takeover,
            ),
        };
        self.compressor = Some(Compressor::new(ours.level, bits, we_reset));
        self.receiver.enable_deflate(peer_resets);
    }

    /// Sends a whole message compressed, as one frame with RSV1, when deflate is agreed and
    /// the message reaches the threshold; `false` means send it as it is.
    #[cfg(feature = "deflate")]
    pub(super) fn write_compressed(&mut self, opcode: OpCode, payload: &[u8]) -> bool {
        let threshold = self.config.deflate.as_ref().map_or(usize::MAX, |d| d.threshold);
        let Some(compressor) = self.compressor.as_mut() else {
            return false;
        };
        if payload.len() < threshold || !compressor.can_compress() {
            return false;
        }
        let mut body = Vec::new();
        compressor.compress(payload, &mut body);
        self.write_deflated(true, opcode, true, &body);
        true
    }

    /// Frames compressed bytes: RSV1 when `first` (the message's first frame, RFC 7692 §6).
    #[cfg(feature = "deflate")]
    fn write_deflated(&mut self, fin: bool, opcode: OpCode, first: bool, body: &[u8]) {
        let mask = match self.role {
            Role::Client => Some(self.rng.mask_key()),
            Role::Server => None,
        };
        self.tx.reserve(crate::frame::encoded_len(body.len(), mask.is_some()));
        if first {
            crate::frame::write_compressed_header(&mut self.tx, fin, opcode, body.len(), mask);
        } else {
            crate::frame::write_header(&mut self.tx, fin, opcode, body.len(), mask);
        }
        let start = self.tx.len();
        self.tx.extend_from_slice(body);
        if let Some(key) = mask {
            crate::frame::apply_mask(&mut self.tx[start..], key);
        }
    }

    #[inline]
    pub(super) fn write_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        let mask = match self.role {
            Role::Client => Some(self.rng.mask_key()),
            Role::Server => None,
        };
        encode_frame(&mut self.tx, fin, opcode, payload, mask);
    }

    pub(super) fn flush_pong(&mut self) {
        let can_send = matches!(self.state, State::Open | State::Closing { sent: false, .. });
        while let Some(payload) = self.pending_pongs.pop_front() {
            if can_send {
                self.write_frame(true, OpCode::Pong, &payload);
            }
        }
    }
}
