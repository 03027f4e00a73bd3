//! The receive path: bytes in, validated frames and reassembled messages out.
//!
//! Payload bytes are unmasked and UTF-8 checked as they arrive, so a bad text message fails
//! at its first bad byte even when its frame is still incomplete. A single-frame message is
//! split out of the read buffer without a copy; fragments are appended into one buffer.

use bytes::{Buf, Bytes, BytesMut};

use crate::config::Config;
use crate::error::ProtocolError;
#[cfg(feature = "deflate")]
use crate::extension::inflate::{InflateError, Inflater};
use crate::frame::{FrameHeader, FrameLimits, OpCode, Role, apply_mask_at, decode_header};
use crate::message::{Message, Text};
use crate::utf8::Utf8Validator;

/// Most extra bytes the receive buffer reserves beyond a read when it has to grow.
const GROWTH_SLACK: usize = 128 * 1024;

/// A complete unit handed to the connection.
#[derive(Debug)]
pub(super) enum Received {
    Message(Message),
    Ping(Bytes),
    Pong(Bytes),
    Close(Bytes),
}

/// The frame in progress: its header and how many payload bytes are already unmasked/checked.
#[derive(Debug, Clone, Copy)]
struct InFrame {
    header: FrameHeader,
    /// Header bytes still at the front of the read buffer.
    header_len: usize,
    /// Payload bytes still to come into, or still in, the read buffer.
    len: usize,
    processed: usize,
    /// Payload bytes already inflated and dropped from the read buffer (a compressed frame
    /// keeps none of its payload once inflated); the offset of the masking key's phase.
    dropped: usize,
}

/// The data message in progress.
#[derive(Debug, Default)]
struct Assembly {
    /// `Some(true)` for text, `Some(false)` for binary, `None` when no message is open.
    text: Option<bool>,
    fragments: usize,
    size: u64,
    buf: BytesMut,
    utf8: Utf8Validator,
    /// RSV1 was set on the first frame: the payload is inflated into `inflated`.
    compressed: bool,
    /// The inflated bytes of a compressed message, bounded by `max_message_size` + 1.
    #[cfg(feature = "deflate")]
    inflated: Vec<u8>,
}

#[derive(Debug)]
pub(super) struct Receiver {
    role: Role,
    limits: FrameLimits,
    max_message_size: usize,
    max_fragments: usize,
    /// Payloads the fast path takes are shorter than this: within the frame and message limits,
    /// and none when `max_fragments` is 0 (every message then fails in the general path).
    whole_frame_bound: usize,
    rbuf: BytesMut,
    /// The receive buffer keeps its allocation once drained (see `Connection::keep_buffers`).
    keep: bool,
    frame: Option<InFrame>,
    message: Assembly,
    /// Present once permessage-deflate is agreed.
    #[cfg(feature = "deflate")]
    inflater: Option<Inflater>,
}

impl Receiver {
    pub(super) fn new(role: Role, config: &Config) -> Self {
        Receiver {
            role,
            limits: FrameLimits::new(config.max_frame_size as u64),
            max_message_size: config.max_message_size,
            max_fragments: config.max_fragments,
            whole_frame_bound: if config.max_fragments == 0 {
                0
            } else {
                config.max_frame_size.min(config.max_message_size).saturating_add(1)
            },
            rbuf: BytesMut::new(),
            keep: false,
            frame: None,
            message: Assembly::default(),
            #[cfg(feature = "deflate")]
            inflater: None,
        }
    }

    /// permessage-deflate was agreed: RSV1 now marks compressed messages, inflated as they
    /// arrive. `peer_resets` is the peer's `*_no_context_takeover`.
    #[cfg(feature = "deflate")]
    pub(super) fn enable_deflate(&mut self, peer_resets: bool) {
        self.limits = self.limits.with_rsv1(true);
        self.inflater = Some(Inflater::new(peer_resets));
    }

    /// Appends received bytes; they are decoded by [`poll`](Self::poll).
    ///
    /// When the buffer must grow, it grows by more than `data` (up to [`GROWTH_SLACK`]), so a
    /// frame that straddles reads is moved to the front of the allocation once every few reads
    /// rather than on every read. The slack is bounded by what actually arrived, so a header
    /// announcing a huge frame allocates nothing by itself.
    #[inline]
    pub(super) fn buffer(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.rbuf.capacity() - self.rbuf.len() < data.len() {
            let slack = (self.rbuf.len() + data.len()).min(GROWTH_SLACK);
            self.rbuf.reserve(data.len() + slack);
        }
        self.rbuf.extend_from_slice(data);
    }

    /// Lets go of the allocation once every received byte is decoded, unless it is kept:
    /// delivered messages keep their part of it alive, and an idle connection holds no receive
    /// buffer at all.
    #[inline]
    fn release_if_empty(&mut self) {
        if self.rbuf.is_empty() && !crate::util::keeps::<u8>(self.keep, self.rbuf.capacity()) {
            self.rbuf = BytesMut::new();
        }
    }

    /// Whether the drained receive buffer keeps its allocation; `false` frees it now if drained.
    pub(super) fn keep_buffers(&mut self, keep: bool) {
        self.keep = keep;
        self.release_if_empty();
    }

    /// Bytes received and not yet decoded.
    pub(super) fn buffered(&self) -> usize {
        self.rbuf.len()
    }

    /// Bytes held for data not yet delivered: undecoded bytes, the fragments of the message in
    /// progress and, for a compressed message, its inflated bytes.
    pub(super) fn held(&self) -> usize {
        #[cfg(feature = "deflate")]
        let inflated = self.message.inflated.len();
        #[cfg(not(feature = "deflate"))]
        let inflated = 0;
        self.rbuf.len() + self.message.buf.len() + inflated
    }

    /// Drops everything buffered and in progress; used once reading stops for good.
    pub(super) fn discard(&mut self) {
        self.rbuf = BytesMut::new();
        self.frame = None;
        self.message = Assembly::default();
    }

    /// Decodes as far as the buffered bytes allow; `Ok(None)` means more bytes are needed.
    ///
    /// A frame's header stays in the buffer until its payload is complete, so a finished frame
    /// leaves the buffer with one split and its payload is a view into the same allocation.
    #[inline]
    pub(super) fn poll(&mut self) -> Result<Option<Received>, ProtocolError> {
        if self.frame.is_none() && self.message.text.is_none() {
            if let Some(received) = self.poll_whole_frame()? {
                return Ok(Some(received));
            }
        }
        loop {
            let frame = match self.frame {
                Some(frame) => frame,
                None => match self.start_frame()? {
                    Some(frame) => frame,
                    None => return Ok(None),
                },
            };
            let available = (self.rbuf.len() - frame.header_len).min(frame.len);
            if available > frame.processed {
                self.process_payload(frame, available)?;
            }
            if available < frame.len {
                #[cfg(feature = "deflate")]
                if self.message.compressed && !frame.header.opcode.is_control() {
                    // Inflated bytes are not needed again: drop them with the header, so a
                    // large compressed frame never sits whole in the buffer (and the buffer
                    // is not grown and copied to hold it).
                    self.rbuf.advance(frame.header_len + available);
                    self.frame = Some(InFrame {
                        header_len: 0,
                        len: frame.len - available,
                        processed: 0,
                        dropped: frame.dropped + available,
                        ..frame
                    });
                    self.release_if_empty();
                    return Ok(None);
                }
                if let Some(f) = self.frame.as_mut() {
                    f.processed = available;
                }
                self.make_room_early(frame.header_len + frame.len);
                return Ok(None);
            }
            self.frame = None;
            let mut payload = self.rbuf.split_to(frame.header_len + frame.len).freeze();
            payload.advance(frame.header_len);
            self.release_if_empty();
            if let Some(received) = self.complete_frame(frame.header, payload)? {
                return Ok(Some(received));
            }
        }
    }

    /// Called when the frame at the front of the buffer (`frame_bytes` long with its header) is
    /// still incomplete: if it will not fit in what is left of the allocation but the
    /// allocation could hold it from its start, moves the bytes buffered so far to the front
    /// now, while they are at most one read's worth, rather than when the frame reaches the end
    /// of the allocation (by then up to the whole frame, moved again on every growth). Only
    /// reuses memory it already has, and only once every delivered payload sharing it is
    /// dropped: growth still follows the bytes that arrive, never a declared length.
    #[inline]
    fn make_room_early(&mut self, frame_bytes: usize) {
        if self.rbuf.capacity() < frame_bytes {
            let _ = self.rbuf.try_reclaim(frame_bytes - self.rbuf.len() + GROWTH_SLACK);
        }
    }

    /// The fast path for the common case: an unfragmented text or binary frame with a 7- or
    /// 16-bit length lies whole in the buffer and no message is in progress. It applies exactly
    /// the checks of the general path (which handles everything else) in one pass: RSV bits are
    /// clear and the opcode valid by the match, masking matches the role, the length is minimal
    /// and within the limits, text is valid UTF-8. `Ok(None)` means "use the general path".
    #[inline]
    fn poll_whole_frame(&mut self) -> Result<Option<Received>, ProtocolError> {
        let (text, b1) = match self.rbuf.get(..2) {
            Some(&[0x81, b1]) => (true, b1),
            Some(&[0x82, b1]) => (false, b1),
            _ => return Ok(None),
        };
        let masked = b1 & 0x80 != 0;
        if masked != (self.role == Role::Server) {
            return Ok(None);
        }
        let (len, len_bytes) = match b1 & 0x7F {
            126 => match self.rbuf.get(2..4) {
                Some(&[hi, lo]) if u16::from_be_bytes([hi, lo]) >= 126 => (u16::from_be_bytes([hi, lo]) as usize, 2),
                _ => return Ok(None),
            },
            127 => return Ok(None),
            short => (short as usize, 0),
        };
        let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
        if self.rbuf.len() < header_len + len || len >= self.whole_frame_bound {
            return Ok(None);
        }
        let body = &mut self.rbuf[header_len - if masked { 4 } else { 0 }..header_len + len];
        if masked {
            let (key, payload) = body.split_at_mut(4);
            apply_mask_at(payload, [key[0], key[1], key[2], key[3]], 0);
        }
        if text && simdutf8::basic::from_utf8(&self.rbuf[header_len..header_len + len]).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        let mut payload = self.rbuf.split_to(header_len + len).freeze();
        payload.advance(header_len);
        self.release_if_empty();
        Ok(Some(Received::Message(if text {
            Message::Text(Text::from_validated(payload))
        } else {
            Message::Binary(payload)
        })))
    }

    /// Decodes the next header and checks it against the message in progress and the limits.
    fn start_frame(&mut self) -> Result<Option<InFrame>, ProtocolError> {
        let Some((header, header_len)) = decode_header(&self.rbuf, self.role, &self.limits)? else {
            return Ok(None);
        };
        let len = header.payload_len as usize;
        match header.opcode {
            OpCode::Continuation if self.message.text.is_none() => {
                return Err(ProtocolError::UnexpectedContinuation);
            }
            OpCode::Text | OpCode::Binary if self.message.text.is_some() => {
                return Err(ProtocolError::ExpectedContinuation);
            }
            OpCode::Text | OpCode::Binary => {
                self.message.text = Some(header.opcode == OpCode::Text);
                // The decoder allows RSV1 only here, and only once deflate is agreed.
                self.message.compressed = header.rsv1;
            }
            _ => {}
        }
        if !header.opcode.is_control() {
            self.message.fragments += 1;
            if self.message.fragments > self.max_fragments {
                return Err(ProtocolError::TooManyFragments {
                    limit: self.max_fragments,
                });
            }
            self.message.size += header.payload_len;
            if self.message.size > self.max_message_size as u64 {
                return Err(ProtocolError::MessageTooLarge {
                    size: self.message.size,
                    limit: self.max_message_size,
                });
            }
        }
        let frame = InFrame {
            header,
            header_len,
            len,
            processed: 0,
            dropped: 0,
        };
        self.frame = Some(frame);
        Ok(Some(frame))
    }

    /// Unmasks payload bytes `frame.processed..available`; then, for a compressed message,
    /// inflates them, or, for text, validates them.
    #[inline]
    fn process_payload(&mut self, frame: InFrame, available: usize) -> Result<(), ProtocolError> {
        let fresh = &mut self.rbuf[frame.header_len + frame.processed..frame.header_len + available];
        if let Some(key) = frame.header.mask {
            apply_mask_at(fresh, key, frame.dropped + frame.processed);
        }
        if frame.header.opcode.is_control() {
            return Ok(());
        }
        #[cfg(feature = "deflate")]
        if self.message.compressed {
            let Some(inflater) = self.inflater.as_mut() else {
                return Err(crate::frame::FrameError::ReservedBits(4).into());
            };
            return inflate(inflater, Some(fresh), &mut self.message, self.max_message_size);
        }
        if self.message.text == Some(true) {
            self.message.utf8.feed(fresh).map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    /// Handles a frame whose payload is complete, unmasked and (for text) validated.
    #[inline]
    fn complete_frame(&mut self, header: FrameHeader, payload: Bytes) -> Result<Option<Received>, ProtocolError> {
        match header.opcode {
            OpCode::Ping => Ok(Some(Received::Ping(payload))),
            OpCode::Pong => Ok(Some(Received::Pong(payload))),
            OpCode::Close => Ok(Some(Received::Close(payload))),
            #[cfg(feature = "deflate")]
            OpCode::Text | OpCode::Binary | OpCode::Continuation if self.message.compressed => {
                // The payload went to the inflater as it arrived.
                if !header.fin {
                    return Ok(None);
                }
                let Some(inflater) = self.inflater.as_mut() else {
                    return Err(crate::frame::FrameError::ReservedBits(4).into());
                };
                inflate(inflater, None, &mut self.message, self.max_message_size)?;
                let body = Bytes::from(std::mem::take(&mut self.message.inflated));
                Ok(Some(self.finish_message(body)?))
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if !header.fin {
                    self.message.buf.extend_from_slice(&payload);
                    return Ok(None);
                }
                let body = if self.message.buf.is_empty() {
                    payload
                } else {
                    self.message.buf.extend_from_slice(&payload);
                    std::mem::take(&mut self.message.buf).freeze()
                };
                Ok(Some(self.finish_message(body)?))
            }
        }
    }

    /// Ends the message in progress with its whole `body`: the last UTF-8 check for text,
    /// then the assembly state is cleared for the next message.
    #[inline]
    fn finish_message(&mut self, body: Bytes) -> Result<Received, ProtocolError> {
        let text = self.message.text == Some(true);
        if text {
            self.message.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        self.message.text = None;
        self.message.fragments = 0;
        self.message.size = 0;
        self.message.compressed = false;
        Ok(Received::Message(if text {
            Message::Text(Text::from_validated(body))
        } else {
            Message::Binary(body)
        }))
    }
}

/// Inflates payload bytes of a compressed message (`None`: the message ended, inflate the
/// implicit tail) into its buffer, checking the inflated size against `limit` as it grows
/// and, for text, validating the new bytes as UTF-8.
#[cfg(feature = "deflate")]
fn inflate(
    inflater: &mut Inflater,
    input: Option<&[u8]>,
    message: &mut Assembly,
    limit: usize,
) -> Result<(), ProtocolError> {
    let before = message.inflated.len();
    let result = match input {
        Some(bytes) => inflater.feed(bytes, &mut message.inflated, limit),
        None => inflater.finish_message(&mut message.inflated, limit),
    };
    result.map_err(|e| match e {
        InflateError::TooLarge { size } => ProtocolError::MessageTooLarge { size, limit },
        InflateError::Corrupt(why) => ProtocolError::InvalidCompressedData(why),
    })?;
    if message.text == Some(true) {
        message
            .utf8
            .feed(&message.inflated[before..])
            .map_err(|_| ProtocolError::InvalidUtf8)?;
    }
    Ok(())
}
