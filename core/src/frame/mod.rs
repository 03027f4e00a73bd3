//! RFC 6455 §5 framing: the frame header, its incremental decoder, the encoder and masking.
//!
//! The decoder ([`decode_header`]) looks at a byte slice and answers "need more bytes",
//! "here is a header of N bytes" or an error; it never allocates and never trusts a declared
//! length beyond checking it against the limits. The encoder ([`encode_frame`]) appends a whole
//! frame to a caller buffer, masking in place when given a key.

mod decode;
mod encode;
mod mask;

pub use decode::{FrameLimits, decode_header};

/// The longest frame header: 2 bytes, an 8-byte extended length and a 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;
pub use encode::{encode_frame, encoded_len, write_compressed_header, write_header};
pub use mask::{apply_mask, apply_mask_at};

use crate::close::CloseCode;

/// Which end of the connection we are: clients mask what they send, servers must not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that sent the opening request; masks every frame it sends.
    Client,
    /// The endpoint that answered the opening request; never masks.
    Server,
}

/// A frame opcode (§5.2). Reserved opcodes are rejected by the decoder, so they have no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: the close control frame.
    Close,
    /// 0x9: the ping control frame.
    Ping,
    /// 0xA: the pong control frame.
    Pong,
}

impl OpCode {
    /// Decodes the low nibble of the first header byte.
    pub fn from_u8(bits: u8) -> Option<OpCode> {
        match bits {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }

    /// The wire value of this opcode.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// True for close, ping and pong.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A decoded and validated frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameHeader {
    /// The FIN bit: this frame ends its message.
    pub fin: bool,
    /// The RSV1 bit: with permessage-deflate agreed, the message this frame starts is
    /// compressed (RFC 7692 §6). Only ever set on the first frame of a data message.
    pub rsv1: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes, already checked against the frame limit.
    pub payload_len: u64,
}

/// Why a frame header was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// RSV1, RSV2 or RSV3 set while no extension that defines it is negotiated (§5.2).
    #[error("a frame has the reserved bits {0:#05b} set with no extension negotiated that defines them")]
    ReservedBits(u8),
    /// RSV1 (compressed) on a control or continuation frame: permessage-deflate sets it only
    /// on the first frame of a data message (RFC 7692 §6.1).
    #[error("a {0:?} frame has RSV1 set; only the first frame of a data message may")]
    MisplacedRsv1(OpCode),
    /// Opcode 0x3-0x7 or 0xB-0xF (§5.2).
    #[error("a frame uses the reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A control frame with FIN clear (§5.5).
    #[error("a control frame is fragmented")]
    FragmentedControl,
    /// A control frame longer than 125 bytes (§5.5).
    #[error("a control frame carries {0} bytes, more than 125")]
    ControlTooLong(u64),
    /// A masked frame arrived at a client (§5.1).
    #[error("a frame from the server is masked")]
    MaskedFromServer,
    /// An unmasked frame arrived at a server (§5.1).
    #[error("a frame from the client is not masked")]
    UnmaskedFromClient,
    /// The length used more bytes than needed (§5.2: "the minimal number of bytes MUST be used").
    #[error("a frame length is not in its shortest encoding")]
    NonMinimalLength,
    /// A 64-bit length with the most significant bit set (§5.2).
    #[error("a 64-bit frame length has its most significant bit set")]
    LengthHighBit,
    /// The declared payload exceeds the configured frame limit.
    #[error("a frame of {size} bytes exceeds the configured limit of {limit} bytes")]
    FrameTooLarge {
        /// Declared payload length.
        size: u64,
        /// Configured limit.
        limit: u64,
    },
}

impl FrameError {
    /// The close code to send when failing the connection for this error.
    pub fn close_code(&self) -> CloseCode {
        match self {
            FrameError::FrameTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}
