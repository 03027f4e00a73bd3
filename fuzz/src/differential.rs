//! The differential oracle: the same server-to-client byte stream (after the handshake) goes to a
//! resock-core client [`Connection`] and to a tungstenite client `WebSocket` over an in-memory
//! stream, with the same frame and message limits. The data messages delivered and the class of
//! the error that ended the stream must agree, except where the two differ on purpose.
//!
//! # Intentional differences (each is a [`Verdict::ExpectedDifference`] with one of these texts)
//!
//! * [`NON_MINIMAL`]: resock rejects a payload length not in its shortest form (RFC 6455 §5.2
//!   "MUST", as Chromium and Firefox do); tungstenite accepts it and goes on decoding. What
//!   resock delivered is then a prefix of what tungstenite delivered.
//! * [`HIGH_BIT`]: a 64-bit length with the most significant bit set is a protocol error for
//!   resock (§5.2) and an oversized frame (capacity error) for tungstenite.
//! * [`EARLY_VALIDATION`]: resock checks a frame's header and unmasks and validates text as the
//!   bytes arrive, so a frame cut off by the end of the stream can already have failed (bad
//!   header bits, invalid UTF-8, a declared size over a limit); tungstenite waits for the whole
//!   frame before checking anything but the opcode and the frame size.
//! * [`CLOSE_CODE`]: a close frame with a code that may not be sent (0-999, 1004-1006, 1015,
//!   1016-2999, 5000+) fails the connection in resock (§7.4, Autobahn 7.9.x); tungstenite
//!   delivers the close and answers it with 1002 without reporting an error.
//! * [`CHECK_ORDER`]: one frame breaks two rules of different classes (say reserved bits and an
//!   oversized length); each library reports the one it checks first.
//!
//! Anything else that differs is a [`Verdict::Mismatch`].

use std::io::{self, Read, Write};

use resock_core::close::CloseCode as ResockCloseCode;
use resock_core::close::CloseFrameError;
use resock_core::frame::FrameError;
use resock_core::{Config, ConnectionError, Event, Message, ProtocolError};
use tungstenite::error::{CapacityError, Error as TError};
use tungstenite::protocol::{Role as TRole, WebSocket, WebSocketConfig};

use crate::stream::open_client;

/// Text of [`Verdict::ExpectedDifference`] for non-minimal length encodings.
pub const NON_MINIMAL: &str =
    "non-minimal length encoding: resock rejects it (RFC 6455 §5.2 MUST, like browsers), tungstenite accepts it";
/// Text for 64-bit lengths with the top bit set.
pub const HIGH_BIT: &str =
    "64-bit length with the top bit set: a protocol error for resock, an oversized frame for tungstenite";
/// Text for frames cut off by the end of the stream.
pub const EARLY_VALIDATION: &str =
    "truncated frame: resock validates header and text as bytes arrive, tungstenite waits for the whole frame";
/// Text for close frames with codes that may not be sent.
pub const CLOSE_CODE: &str =
    "close frame with a code that may not be sent: resock fails with 1002, tungstenite accepts the close";
/// Text for frames breaking two rules of different classes.
pub const CHECK_ORDER: &str = "frame breaks rules of two error classes: each library reports the one it checks first";

/// The class of a stream-ending error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorClass {
    /// A framing or sequencing violation (1002).
    Protocol,
    /// A frame or message over a limit (1009).
    Size,
    /// Invalid UTF-8 in a text message or close reason (1007).
    Utf8,
}

/// How the stream ended for one implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// All bytes consumed without an error or a close frame; more could come.
    Pending,
    /// A close frame arrived (what follows it is not read).
    PeerClosed,
    /// Failed with an error of this class.
    Error(ErrorClass),
    /// Something the oracle cannot classify.
    Other(String),
}

/// What one implementation made of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Data messages delivered, in order: (is text, payload).
    pub messages: Vec<(bool, Vec<u8>)>,
    /// How it ended.
    pub end: End,
    /// The error as the implementation put it.
    pub detail: String,
}

/// The oracle's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Same messages, same ending.
    Same,
    /// A documented, intentional difference.
    ExpectedDifference(&'static str),
    /// A difference the oracle cannot explain: a bug in one of them (or in the oracle).
    Mismatch(String),
}

/// Frame and message limits given to both implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame payload.
    pub max_frame: usize,
    /// Largest message.
    pub max_message: usize,
}

/// Limits the target's first byte picks from.
pub const LIMITS: [Limits; 4] = [
    Limits {
        max_frame: 125,
        max_message: 256,
    },
    Limits {
        max_frame: 1000,
        max_message: 3000,
    },
    Limits {
        max_frame: 4096,
        max_message: 16384,
    },
    Limits {
        max_frame: 65535,
        max_message: 1 << 20,
    },
];

/// The target body: one selector byte (limits), then the stream.
pub fn differential(data: &[u8]) {
    let Some((&sel, stream)) = data.split_first() else {
        return;
    };
    if let Verdict::Mismatch(why) = compare(stream, LIMITS[usize::from(sel & 3)]) {
        panic!("resock and tungstenite disagree: {why}");
    }
}

/// Runs both implementations and judges the difference.
pub fn compare(stream: &[u8], limits: Limits) -> Verdict {
    let r = resock_outcome(stream, limits);
    let t = tungstenite_outcome(stream, limits);
    judge(stream, limits, &r, &t)
}

/// What resock-core's client makes of `stream`.
pub fn resock_outcome(stream: &[u8], limits: Limits) -> Outcome {
    let now = std::time::Instant::now();
    let config = Config::default()
        .max_frame_size(limits.max_frame)
        .max_message_size(limits.max_message)
        .max_fragments(usize::MAX);
    let mut conn = open_client(config, now);
    conn.handle_input(now, resock_core::Input::Data(stream));
    let mut messages = Vec::new();
    while let Some(event) = conn.poll_event() {
        match event {
            Event::Message(Message::Text(t)) => messages.push((true, t.as_bytes().to_vec())),
            Event::Message(Message::Binary(b)) => messages.push((false, b.to_vec())),
            Event::CloseReceived { code, reason } => {
                return Outcome {
                    messages,
                    end: End::PeerClosed,
                    detail: format!("close {code} {reason:?}"),
                };
            }
            Event::Closed(info) => {
                let (end, detail) = match &info.error {
                    Some(ConnectionError::Protocol(e)) => (End::Error(resock_class(e)), e.to_string()),
                    other => (End::Other(format!("{other:?}")), format!("{info:?}")),
                };
                return Outcome { messages, end, detail };
            }
            _ => {}
        }
    }
    Outcome {
        messages,
        end: End::Pending,
        detail: String::new(),
    }
}

/// The class of a resock protocol error.
pub fn resock_class(e: &ProtocolError) -> ErrorClass {
    match e {
        ProtocolError::Frame(FrameError::FrameTooLarge { .. })
        | ProtocolError::MessageTooLarge { .. }
        | ProtocolError::TooManyFragments { .. } => ErrorClass::Size,
        ProtocolError::InvalidUtf8 | ProtocolError::Close(CloseFrameError::InvalidReason) => ErrorClass::Utf8,
        _ => ErrorClass::Protocol,
    }
}

/// An in-memory transport: reads the stream, then `WouldBlock`; writes are collected.
struct Memory {
    input: io::Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.input.read(buf)? {
            0 if !buf.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What tungstenite's client makes of `stream`.
pub fn tungstenite_outcome(stream: &[u8], limits: Limits) -> Outcome {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_frame_size(Some(limits.max_frame))
        .max_message_size(Some(limits.max_message));
    let memory = Memory {
        input: io::Cursor::new(stream.to_vec()),
        output: Vec::new(),
    };
    let mut ws = WebSocket::from_raw_socket(memory, TRole::Client, Some(config));
    let mut messages = Vec::new();
    // Every successful read consumes at least a two-byte frame header.
    for _ in 0..stream.len() / 2 + 2 {
        let (end, detail) = match ws.read() {
            Ok(tungstenite::Message::Text(t)) => {
                messages.push((true, t.as_bytes().to_vec()));
                continue;
            }
            Ok(tungstenite::Message::Binary(b)) => {
                messages.push((false, b.to_vec()));
                continue;
            }
            Ok(tungstenite::Message::Close(frame)) => (End::PeerClosed, format!("{frame:?}")),
            Ok(_) => continue,
            Err(TError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => (End::Pending, String::new()),
            Err(TError::Protocol(e)) => (End::Error(ErrorClass::Protocol), e.to_string()),
            Err(TError::Capacity(e @ CapacityError::MessageTooLong { .. })) => {
                (End::Error(ErrorClass::Size), e.to_string())
            }
            Err(TError::Utf8(e)) => (End::Error(ErrorClass::Utf8), e),
            Err(e) => (End::Other(e.to_string()), e.to_string()),
        };
        return Outcome { messages, end, detail };
    }
    Outcome {
        messages,
        end: End::Other("tungstenite kept reading".into()),
        detail: String::new(),
    }
}

// ----- explaining differences -----

/// A rule a frame breaks, with the class each side would report for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Reported with this class by both.
    Plain(ErrorClass),
    NonMinimal,
    HighBit,
    CloseCode,
}

/// What the oracle's own lenient parser found at the first frame that matters.
#[derive(Debug, Default)]
struct Decisive {
    rules: Vec<Rule>,
    truncated: bool,
    close: bool,
    index: usize,
}

/// Walks the frames like a lenient decoder (accepting every length form) and describes the first
/// frame that breaks a rule, is cut off, or closes the stream.
fn decisive_frame(stream: &[u8], limits: Limits) -> Option<Decisive> {
    let mut pos = 0;
    // The open data message: is it text, its size so far, its text bytes so far.
    let mut open: Option<(bool, u64, Vec<u8>)> = None;
    let mut index = 0;
    while pos < stream.len() {
        let buf = &stream[pos..];
        let mut d = Decisive {
            index,
            ..Decisive::default()
        };
        let b0 = buf[0];
        let opcode = b0 & 0x0F;
        let fin = b0 & 0x80 != 0;
        let control = opcode >= 8;
        if b0 & 0x70 != 0 {
            d.rules.push(Rule::Plain(ErrorClass::Protocol));
        }
        if !matches!(opcode, 0 | 1 | 2 | 8 | 9 | 10) {
            d.rules.push(Rule::Plain(ErrorClass::Protocol));
        }
        if control && !fin {
            d.rules.push(Rule::Plain(ErrorClass::Protocol));
        }
        let Some(&b1) = buf.get(1) else {
            d.truncated = true;
            return Some(d);
        };
        if b1 & 0x80 != 0 {
            d.rules.push(Rule::Plain(ErrorClass::Protocol));
        }
        let (len, mut header) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(b) => {
                    let len = u64::from(u16::from_be_bytes([b[0], b[1]]));
                    if len < 126 {
                        d.rules.push(Rule::NonMinimal);
                    }
                    (len, 4)
                }
                None => {
                    d.truncated = true;
                    return Some(d);
                }
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let len = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                    if len >> 63 != 0 {
                        d.rules.push(Rule::HighBit);
                    } else if len <= 0xFFFF {
                        d.rules.push(Rule::NonMinimal);
                    }
                    (len, 10)
                }
                None => {
                    if buf.get(2).is_some_and(|b| b & 0x80 != 0) {
                        d.rules.push(Rule::HighBit);
                    }
                    d.truncated = true;
                    return Some(d);
                }
            },
            n => (u64::from(n), 2),
        };
        if control && len > 125 {
            d.rules.push(Rule::Plain(ErrorClass::Protocol));
        }
        if len > limits.max_frame as u64 {
            d.rules.push(Rule::Plain(ErrorClass::Size));
        }
        if b1 & 0x80 != 0 {
            header += 4;
        }
        match (opcode, &open) {
            (0, None) => d.rules.push(Rule::Plain(ErrorClass::Protocol)),
            (1 | 2, Some(_)) => d.rules.push(Rule::Plain(ErrorClass::Protocol)),
            _ => {}
        }
        let data_frame = matches!(opcode, 0..=2);
        let size_before = open.as_ref().map_or(0, |(_, size, _)| *size);
        if data_frame && size_before.saturating_add(len) > limits.max_message as u64 {
            d.rules.push(Rule::Plain(ErrorClass::Size));
        }
        let available = buf
            .len()
            .saturating_sub(header)
            .min(usize::try_from(len).unwrap_or(usize::MAX));
        let payload = buf.get(header..header + available).unwrap_or_default();
        let complete = buf.len() >= header && (available as u64) == len;
        d.truncated = !complete;
        // Text validity so far (and at the end of a final frame).
        let is_text = match (opcode, &open) {
            (1, _) => true,
            (0, Some((text, _, _))) => *text,
            _ => false,
        };
        let mut text = open.as_ref().map(|(_, _, t)| t.clone()).unwrap_or_default();
        if is_text && data_frame {
            if opcode == 1 {
                text.clear();
            }
            text.extend_from_slice(payload);
            match std::str::from_utf8(&text) {
                Ok(_) => {}
                Err(e) if e.error_len().is_some() || (complete && fin) => {
                    d.rules.push(Rule::Plain(ErrorClass::Utf8));
                }
                Err(_) => {}
            }
        }
        if opcode == 8 {
            d.close = complete;
            match payload.len() {
                1 if complete => d.rules.push(Rule::Plain(ErrorClass::Protocol)),
                n if n >= 2 => {
                    if !ResockCloseCode(u16::from_be_bytes([payload[0], payload[1]])).is_sendable() {
                        d.rules.push(Rule::CloseCode);
                    }
                    if complete && std::str::from_utf8(&payload[2..]).is_err() {
                        d.rules.push(Rule::Plain(ErrorClass::Utf8));
                    }
                }
                _ => {}
            }
        }
        if !d.rules.is_empty() || d.truncated || d.close {
            return Some(d);
        }
        if data_frame {
            open = if fin {
                None
            } else {
                let is_text = opcode == 1 || open.as_ref().is_some_and(|(t, _, _)| *t);
                Some((is_text, size_before + len, if is_text { text } else { Vec::new() }))
            };
        }
        pos += header + len as usize;
        index += 1;
    }
    None
}

/// Decides whether two outcomes differ only in a documented way.
pub fn judge(stream: &[u8], limits: Limits, r: &Outcome, t: &Outcome) -> Verdict {
    if r == t || (r.messages == t.messages && r.end == t.end) {
        return Verdict::Same;
    }
    let mismatch = |why: &str| {
        Verdict::Mismatch(format!(
            "{why}\n  stream ({} bytes): {:02x?}\n  resock:      {} messages, {:?} ({})\n  tungstenite: {} messages, {:?} ({})",
            stream.len(),
            &stream[..stream.len().min(64)],
            r.messages.len(),
            r.end,
            r.detail,
            t.messages.len(),
            t.end,
            t.detail
        ))
    };
    let Some(d) = decisive_frame(stream, limits) else {
        return mismatch("no frame explains the difference");
    };
    let same_messages = r.messages == t.messages;
    let classes: Vec<ErrorClass> = d
        .rules
        .iter()
        .map(|rule| match rule {
            Rule::Plain(c) => *c,
            Rule::NonMinimal | Rule::HighBit | Rule::CloseCode => ErrorClass::Protocol,
        })
        .collect();
    let explains = |end: &End| match end {
        End::Error(c) => classes.contains(c),
        _ => false,
    };
    // Each rule the decisive frame breaks, in the order resock checks them.
    if d.rules.contains(&Rule::NonMinimal)
        && r.end == End::Error(ErrorClass::Protocol)
        && t.messages.starts_with(&r.messages)
    {
        return Verdict::ExpectedDifference(NON_MINIMAL);
    }
    if d.rules.contains(&Rule::HighBit)
        && same_messages
        && r.end == End::Error(ErrorClass::Protocol)
        && matches!(t.end, End::Error(ErrorClass::Size) | End::Pending)
    {
        return Verdict::ExpectedDifference(HIGH_BIT);
    }
    if d.truncated && same_messages && t.end == End::Pending && explains(&r.end) {
        return Verdict::ExpectedDifference(EARLY_VALIDATION);
    }
    if d.rules.contains(&Rule::CloseCode)
        && same_messages
        && r.end == End::Error(ErrorClass::Protocol)
        && matches!(t.end, End::PeerClosed | End::Error(ErrorClass::Utf8))
    {
        return Verdict::ExpectedDifference(CLOSE_CODE);
    }
    if same_messages && explains(&r.end) && explains(&t.end) {
        return Verdict::ExpectedDifference(CHECK_ORDER);
    }
    mismatch(&format!("unexplained (decisive frame #{}: {:?})", d.index, d))
}
