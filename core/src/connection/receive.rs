//! The receive path: bytes in, validated frames and reassembled messages out.
//!
//! Payload bytes are unmasked and UTF-8 checked as they arrive, so a bad text message fails
//! at its first bad byte even when its frame is still incomplete. A single-frame message is
//! split out of the read buffer without a copy; fragments are appended into one buffer.

use bytes::{Buf, Bytes, BytesMut};

use crate::config::Config;
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, FrameLimits, OpCode, Role, apply_mask_at, decode_header};
use crate::message::{Message, Text};
use crate::utf8::Utf8Validator;

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
    len: usize,
    processed: usize,
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
}

#[derive(Debug)]
pub(super) struct Receiver {
    role: Role,
    limits: FrameLimits,
    max_message_size: usize,
    max_fragments: usize,
    rbuf: BytesMut,
    frame: Option<InFrame>,
    message: Assembly,
}

impl Receiver {
    pub(super) fn new(role: Role, config: &Config) -> Self {
        Receiver {
            role,
            limits: FrameLimits {
                max_frame_size: config.max_frame_size as u64,
            },
            max_message_size: config.max_message_size,
            max_fragments: config.max_fragments,
            rbuf: BytesMut::new(),
            frame: None,
            message: Assembly::default(),
        }
    }

    /// Appends received bytes; they are decoded by [`poll`](Self::poll).
    #[inline]
    pub(super) fn buffer(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.rbuf.extend_from_slice(data);
        }
    }

    /// Bytes received and not yet decoded.
    pub(super) fn buffered(&self) -> usize {
        self.rbuf.len()
    }

    /// Drops everything buffered and in progress; used once reading stops for good.
    pub(super) fn discard(&mut self) {
        self.rbuf = BytesMut::new();
        self.frame = None;
        self.message = Assembly::default();
    }

    /// Decodes as far as the buffered bytes allow; `Ok(None)` means more bytes are needed.
    #[inline]
    pub(super) fn poll(&mut self) -> Result<Option<Received>, ProtocolError> {
        loop {
            let frame = match self.frame {
                Some(frame) => frame,
                None => match self.start_frame()? {
                    Some(frame) => frame,
                    None => return Ok(None),
                },
            };
            let available = self.rbuf.len().min(frame.len);
            if available > frame.processed {
                self.process_payload(frame, available)?;
            }
            if available < frame.len {
                if let Some(f) = self.frame.as_mut() {
                    f.processed = available;
                }
                return Ok(None);
            }
            self.frame = None;
            let payload = self.rbuf.split_to(frame.len);
            if let Some(received) = self.complete_frame(frame.header, payload)? {
                return Ok(Some(received));
            }
        }
    }

    /// Decodes the next header and checks it against the message in progress and the limits.
    fn start_frame(&mut self) -> Result<Option<InFrame>, ProtocolError> {
        let Some((header, header_len)) = decode_header(&self.rbuf, self.role, &self.limits)? else {
            return Ok(None);
        };
        self.rbuf.advance(header_len);
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
            len,
            processed: 0,
        };
        self.frame = Some(frame);
        Ok(Some(frame))
    }

    /// Unmasks and, for text, validates payload bytes `frame.processed..available`.
    #[inline]
    fn process_payload(&mut self, frame: InFrame, available: usize) -> Result<(), ProtocolError> {
        let fresh = &mut self.rbuf[frame.processed..available];
        if let Some(key) = frame.header.mask {
            apply_mask_at(fresh, key, frame.processed);
        }
        if !frame.header.opcode.is_control() && self.message.text == Some(true) {
            self.message.utf8.feed(fresh).map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    /// Handles a frame whose payload is complete, unmasked and (for text) validated.
    #[inline]
    fn complete_frame(&mut self, header: FrameHeader, payload: BytesMut) -> Result<Option<Received>, ProtocolError> {
        match header.opcode {
            OpCode::Ping => Ok(Some(Received::Ping(payload.freeze()))),
            OpCode::Pong => Ok(Some(Received::Pong(payload.freeze()))),
            OpCode::Close => Ok(Some(Received::Close(payload.freeze()))),
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if !header.fin {
                    if self.message.buf.is_empty() {
                        self.message.buf = payload;
                    } else {
                        self.message.buf.extend_from_slice(&payload);
                    }
                    return Ok(None);
                }
                let text = self.message.text == Some(true);
                if text {
                    self.message.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                let body = if self.message.buf.is_empty() {
                    payload.freeze()
                } else {
                    self.message.buf.extend_from_slice(&payload);
                    std::mem::take(&mut self.message.buf).freeze()
                };
                self.message.text = None;
                self.message.fragments = 0;
                self.message.size = 0;
                Ok(Some(Received::Message(if text {
                    Message::Text(Text::from_validated(body))
                } else {
                    Message::Binary(body)
                })))
            }
        }
    }
}
