//! permessage-deflate (RFC 7692) targets.
//!
//! [`deflate_stream`]: a client [`Connection`] with deflate agreed receives a server stream
//! built from a script: valid compressed messages (fragmented or not, the sync-flush tail
//! kept or removed, ending in a final block), decompression bombs, pings between fragments,
//! and damage: truncated or corrupted compressed data, RSV1 on a continuation or a control
//! frame, RSV2/RSV3, raw frames. Oracle: every message of the valid prefix arrives byte for
//! byte; a message breaking a limit (frame, fragments, compressed or inflated size, UTF-8)
//! ends the connection with a typed protocol error and is never delivered; after damage,
//! whatever arrives is within the limit and any end is typed; and memory stays below the
//! message limit (twice, for the buffer's doubling) plus what the stream itself needs, so a
//! bomb is caught having inflated at most `max_message_size + 1` bytes.
//!
//! [`deflate_roundtrip`](crate::deflate_roundtrip()) (in `deflate_roundtrip.rs`, seeds of both
//! in `deflate_seeds.rs`): whatever resock compresses (any level, window 9 to 15, with and
//! without context takeover, both roles), resock's inflater and a bare flate2 inflater with
//! exactly the agreed window restore byte for byte.
//!
//! Input of `deflate_stream`: a flags byte (bits 0-1 limits profile, see [`limits`]; bit 2
//! the server resets its context after every message; bit 3 EOF after the stream), a chunking
//! seed (see [`chunks`]), then the script, read by [`build`].

use std::sync::OnceLock;
use std::time::Instant;

use flate2::{Compress, Compression, FlushCompress};
use resock_core::handshake::headers::accept_key;
use resock_core::{
    ClientOptions, Config, Connection, ConnectionError, DeflateConfig, Event, Input, Message, ProtocolError, WsUrl,
};

use crate::util::{chunks, peak_heap};

/// The tail a sync flush ends with, which RFC 7692 §7.2.1 has the sender remove.
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// `(max_frame_size, max_message_size, max_fragments)` by profile: tiny, small, medium, large.
pub fn limits(profile: u8) -> (usize, usize, usize) {
    match profile & 3 {
        0 => (125, 256, 4),
        1 => (4096, 16 << 10, 64),
        2 => (64 << 10, 1 << 20, 4096),
        _ => (1 << 20, 4 << 20, 4096),
    }
}

/// The bombs: `size` zero bytes compressed by a fresh compressor (so they refer to nothing
/// before them and are valid at any point of a stream), cached.
fn bomb(selector: u8) -> (usize, &'static [u8]) {
    static BOMBS: OnceLock<Vec<(usize, Vec<u8>)>> = OnceLock::new();
    let bombs = BOMBS.get_or_init(|| {
        [64 << 10, 1 << 20, 16 << 20]
            .into_iter()
            .map(|size| {
                let mut c = Compress::new_with_window_bits(Compression::new(9), false, 15);
                (size, deflate(&mut c, &vec![0; size], FlushCompress::Sync, true))
            })
            .collect()
    });
    let (size, bytes) = &bombs[usize::from(selector) % bombs.len()];
    (*size, bytes)
}

/// Raw DEFLATE of `data` with `flush`, the sync-flush tail removed when `strip`.
fn deflate(c: &mut Compress, data: &[u8], flush: FlushCompress, strip: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let start = c.total_in();
    loop {
        let done = (c.total_in() - start) as usize;
        let status = c.compress_vec(&data[done..], &mut out, flush).expect("raw deflate");
        let all_in = (c.total_in() - start) as usize == data.len();
        if all_in && (out.len() < out.capacity() || status == flate2::Status::StreamEnd) {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    if strip && out.ends_with(&TAIL) {
        out.truncate(out.len() - 4);
    } else if strip && out.is_empty() {
        // zlib writes nothing for empty input right after a flush; RFC 7692 §7.2.1 still
        // appends an empty stored block, which leaves 0x00 once its tail is removed.
        out.push(0x00);
    } else if out.is_empty() {
        out.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
    }
    out
}

/// A message the connection must deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    /// These bytes, as text or binary.
    Bytes { text: bool, bytes: Vec<u8> },
    /// `n` zero bytes (a bomb within the limit), binary.
    Zeros(usize),
}

/// What must follow the expected messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Nothing else: every op was valid and within the limits.
    Open,
    /// A message broke a limit or a rule with a known outcome: the connection fails with a
    /// protocol error, and that message is not delivered.
    Fail,
    /// Damage with no predictable outcome: only the general invariants hold.
    Unknown,
}

/// The stream a script builds and what it must produce.
#[derive(Debug)]
struct Built {
    stream: Vec<u8>,
    expected: Vec<Expected>,
    then: Then,
    /// The failure is a message that inflates past the limit and breaks nothing else: it
    /// must stop at exactly `max_message_size + 1` bytes.
    inflated_too_large: bool,
}

/// An unmasked server frame.
fn frame(out: &mut Vec<u8>, b0: u8, payload: &[u8]) {
    out.push(b0);
    match payload.len() {
        n @ 0..=125 => out.push(n as u8),
        n @ 126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// Reads a script: ops until the input ends or the stream passes 8 MiB.
///
/// | op byte % 8 | bytes after it | what |
/// |---|---|---|
/// | 0, 1 | frag, rep, len, `len` bytes | a compressed message: the bytes repeated `rep % 64 + 1` times; op bit 3 text, bit 4 keep the sync-flush tail (the message is still valid, what follows it with context takeover is not), bit 5 a ping between fragments, bit 6 end with a final block |
/// | 2 | sel, frag | a bomb (64 KiB, 1 MiB or 16 MiB of zeros) |
/// | 3 | frag, how, arg, len, `len` bytes | a compressed message, damaged: cut `arg` bytes off the end, flip bits `arg` of one byte, or append `arg` |
/// | 4 | b0, len, `len` bytes | a raw frame with any first byte |
/// | 5 | which, len, `len` bytes | RSV1 misuse: on a continuation, on a ping, or RSV2/RSV3 on a compressed message |
/// | 6 | len, `len` bytes | a ping (at most 125 bytes) |
/// | 7 | len, `len` bytes | an uncompressed text or binary message (op bit 3 text) |
///
/// `frag` 0 sends one frame; otherwise frames of `frag * 16` compressed bytes.
fn build(script: &[u8], peer_resets: bool, (max_frame, max_message, max_fragments): (usize, usize, usize)) -> Built {
    let mut c = Compress::new_with_window_bits(Compression::new(6), false, 15);
    let mut built = Built {
        stream: Vec::new(),
        expected: Vec::new(),
        then: Then::Open,
        inflated_too_large: false,
    };
    let mut s = script;
    let mut take = |n: usize| -> Option<Vec<u8>> {
        let n = n.min(s.len());
        let (head, tail) = s.split_at(n);
        s = tail;
        Some(head.to_vec())
    };
    while let Some(op) = take(1).and_then(|b| b.first().copied()) {
        if built.stream.len() > 8 << 20 {
            break;
        }
        // Once the outcome is fixed, later ops still go on the wire (the connection must
        // ignore them), but predict nothing more.
        let predicting = built.then == Then::Open;
        let byte = |v: Option<Vec<u8>>| v.and_then(|b| b.first().copied()).unwrap_or(0);
        match op % 8 {
            0 | 1 | 3 => {
                let frag = byte(take(1));
                let (how, arg) = if op % 8 == 3 {
                    (byte(take(1)), byte(take(1)))
                } else {
                    (0, 0)
                };
                let rep = if op % 8 == 3 { 0 } else { byte(take(1)) };
                let len = byte(take(1));
                let chunk = take(usize::from(len)).unwrap_or_default();
                let plain = chunk.repeat(usize::from(rep % 64) + 1);
                let text = op & 0x08 != 0;
                let keep_tail = op & 0x10 != 0;
                let ping_between = op & 0x20 != 0;
                let final_block = op & 0x40 != 0 && op % 8 != 3;
                let flush = if final_block {
                    FlushCompress::Finish
                } else {
                    FlushCompress::Sync
                };
                let mut body = deflate(&mut c, &plain, flush, !keep_tail && !final_block);
                if final_block || peer_resets {
                    c.reset();
                }
                if op % 8 == 3 {
                    match how % 3 {
                        0 => body.truncate(body.len().saturating_sub(usize::from(arg) + 1)),
                        1 => {
                            let at = usize::from(arg) * 7 % body.len().max(1);
                            if let Some(b) = body.get_mut(at) {
                                *b ^= arg | 1;
                            }
                        }
                        _ => body.push(arg),
                    }
                    // The damaged message left the two contexts apart for good.
                    c.reset();
                }
                let frames = push_message(&mut built.stream, text, &body, frag, ping_between, true);
                if predicting {
                    if op % 8 == 3 {
                        built.then = Then::Unknown;
                    } else {
                        let framing_ok = frames.iter().all(|&n| n <= max_frame)
                            && frames.len() <= max_fragments
                            && body.len() <= max_message;
                        let utf8_ok = !text || std::str::from_utf8(&plain).is_ok();
                        if !framing_ok || plain.len() > max_message || !utf8_ok {
                            built.then = Then::Fail;
                            built.inflated_too_large = framing_ok && utf8_ok;
                        } else {
                            built.expected.push(Expected::Bytes { text, bytes: plain });
                            // A payload that kept its 00 00 FF FF ends byte-aligned after a complete empty
                            // stored block, so the 00 00 FF FF the receiver appends opens a stored block
                            // it never finishes: the message itself inflates, but a context carried to the
                            // next message is broken (RFC 7692 §7.2.1 has the sender remove the tail).
                            if keep_tail && !final_block && !peer_resets {
                                built.then = Then::Unknown;
                            }
                        }
                    }
                }
            }
            2 => {
                let (size, body) = bomb(byte(take(1)));
                let frag = byte(take(1));
                let frames = push_message(&mut built.stream, false, body, frag.max(1), false, true);
                // Our own context must not refer to what the inflater saw before the bomb.
                c.reset();
                if predicting {
                    let framing_ok = frames.iter().all(|&n| n <= max_frame)
                        && frames.len() <= max_fragments
                        && body.len() <= max_message;
                    if !framing_ok || size > max_message {
                        built.then = Then::Fail;
                        built.inflated_too_large = framing_ok;
                    } else {
                        built.expected.push(Expected::Zeros(size));
                    }
                }
            }
            4 => {
                let b0 = byte(take(1));
                let len = byte(take(1));
                let payload = take(usize::from(len)).unwrap_or_default();
                frame(&mut built.stream, b0, &payload);
                if predicting {
                    built.then = Then::Unknown;
                }
            }
            5 => {
                let which = byte(take(1));
                let len = byte(take(1));
                let plain = take(usize::from(len)).unwrap_or_default();
                match which % 3 {
                    0 => {
                        // RSV1 on the continuation as well as on the first frame.
                        let body = deflate(&mut c, &plain, FlushCompress::Sync, true);
                        let (a, b) = body.split_at(body.len() / 2);
                        frame(&mut built.stream, 0x42, a);
                        frame(&mut built.stream, 0xC0, b);
                    }
                    1 => frame(&mut built.stream, 0xC9, &plain[..plain.len().min(125)]),
                    _ => {
                        let body = deflate(&mut c, &plain, FlushCompress::Sync, true);
                        let rsv = if which & 0x10 != 0 { 0x20 } else { 0x10 };
                        frame(&mut built.stream, 0xC2 | rsv, &body);
                    }
                }
                c.reset();
                if predicting {
                    built.then = Then::Fail;
                }
            }
            6 => {
                let len = byte(take(1));
                let payload = take(usize::from(len).min(125)).unwrap_or_default();
                frame(&mut built.stream, 0x89, &payload);
            }
            _ => {
                let len = byte(take(1));
                let plain = take(usize::from(len)).unwrap_or_default();
                let text = op & 0x08 != 0;
                frame(&mut built.stream, if text { 0x81 } else { 0x82 }, &plain);
                if predicting {
                    if plain.len() > max_frame.min(max_message) || (text && std::str::from_utf8(&plain).is_err()) {
                        built.then = Then::Fail;
                    } else {
                        built.expected.push(Expected::Bytes { text, bytes: plain });
                    }
                }
            }
        }
    }
    built
}

/// Writes a compressed message as frames of `frag * 16` bytes (one frame when `frag` is 0),
/// RSV1 on the first only, optionally a ping after the first; returns the frame sizes.
fn push_message(out: &mut Vec<u8>, text: bool, body: &[u8], frag: u8, ping_between: bool, rsv1: bool) -> Vec<usize> {
    let size = if frag == 0 {
        body.len().max(1)
    } else {
        usize::from(frag) * 16
    };
    let parts: Vec<&[u8]> = if body.is_empty() {
        vec![body]
    } else {
        body.chunks(size).collect()
    };
    let opcode = if text { 0x1 } else { 0x2 };
    for (i, part) in parts.iter().enumerate() {
        let fin = if i + 1 == parts.len() { 0x80 } else { 0 };
        let b0 = if i == 0 {
            fin | opcode | if rsv1 { 0x40 } else { 0 }
        } else {
            fin
        };
        frame(out, b0, part);
        if i == 0 && ping_between && parts.len() > 1 {
            frame(out, 0x89, b"between");
        }
    }
    parts.iter().map(|p| p.len()).collect()
}

/// The opening request of a client with `config`, and the 101 answer with `extensions`.
fn open_client_with(config: Config, extensions: &str, now: Instant) -> Connection {
    let url: WsUrl = "ws://example.com/chat".parse().expect("fixed URL");
    let mut conn = Connection::client(&url, &ClientOptions::default(), config, [1; 32], now).expect("valid client");
    let mut request = Vec::new();
    while conn.poll_transmit(&mut request).is_some() {}
    let text = std::str::from_utf8(&request).expect("request is ASCII");
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("request has a key");
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n",
        accept_key(key.trim())
    );
    conn.handle_input(now, Input::Data(response.as_bytes()));
    match conn.poll_event() {
        Some(Event::Opened(accepted)) => assert!(accepted.deflate.is_some(), "deflate not agreed"),
        other => panic!("handshake did not complete: {other:?}"),
    }
    conn
}

/// What a run delivered.
#[derive(Debug, Default)]
struct Outcome {
    /// Messages delivered; each of the first `expected.len()` was checked on arrival.
    delivered: usize,
    closed: Option<Option<ConnectionError>>,
}

/// Feeds `pieces` (and EOF) to a client with deflate agreed, checking every message on
/// arrival against `expected` (messages past it are only checked against the limit) without
/// keeping any.
fn run(
    config: Config,
    extensions: &str,
    pieces: &[&[u8]],
    eof: bool,
    max_message: usize,
    expected: &[Expected],
) -> Outcome {
    let now = Instant::now();
    let mut conn = open_client_with(config, extensions, now);
    let mut outcome = Outcome::default();
    let mut tx = Vec::new();
    let mut drain = |conn: &mut Connection, outcome: &mut Outcome| {
        while let Some(event) = conn.poll_event() {
            assert!(outcome.closed.is_none(), "event after Closed: {event:?}");
            match event {
                Event::Message(m) => {
                    assert!(m.len() <= max_message, "a {}-byte message over the limit", m.len());
                    if let Some(want) = expected.get(outcome.delivered) {
                        assert!(
                            matches_expected(&m, want),
                            "message {}: got {} {} bytes, expected {}",
                            outcome.delivered,
                            if m.is_text() { "text" } else { "binary" },
                            m.len(),
                            want_summary(want)
                        );
                    }
                    outcome.delivered += 1;
                }
                Event::Closed(info) => outcome.closed = Some(info.error),
                Event::Request(_) | Event::Opened(_) => panic!("handshake event on an open connection"),
                _ => {}
            }
        }
        tx.clear();
        while conn.poll_transmit(&mut tx).is_some() {}
    };
    for piece in pieces {
        conn.handle_input(now, Input::Data(piece));
        drain(&mut conn, &mut outcome);
    }
    if eof {
        conn.handle_input(now, Input::Eof);
        drain(&mut conn, &mut outcome);
    }
    outcome
}

fn matches_expected(got: &Message, want: &Expected) -> bool {
    match want {
        Expected::Bytes { text, bytes } => got.is_text() == *text && got.as_bytes() == &bytes[..],
        Expected::Zeros(n) => !got.is_text() && got.len() == *n && got.as_bytes().iter().all(|&b| b == 0),
    }
}

/// The `deflate_stream` target body.
pub fn deflate_stream(data: &[u8]) {
    let _ = explain(data);
}

/// Runs `deflate_stream` on `data` and says what happened: `"<expected> expected then
/// <Open|Fail|Unknown>; <n> delivered; peak <bytes>; end <error>"` (for the seed tests).
pub fn explain(data: &[u8]) -> String {
    let [flags, seed, script @ ..] = data else {
        return String::new();
    };
    let (max_frame, max_message, max_fragments) = limits(*flags);
    let peer_resets = flags & 4 != 0;
    let eof = flags & 8 != 0;
    let built = build(script, peer_resets, (max_frame, max_message, max_fragments));
    let config = Config::default()
        .max_frame_size(max_frame)
        .max_message_size(max_message)
        .max_fragments(max_fragments)
        .deflate(Some(DeflateConfig::default()));
    let extensions = if peer_resets {
        "permessage-deflate; server_no_context_takeover"
    } else {
        "permessage-deflate"
    };
    let pieces = chunks(&built.stream, *seed);
    let (outcome, peak) = peak_heap(|| run(config, extensions, &pieces, eof, max_message, &built.expected));
    // The inflated buffer stops at the limit plus one byte: with its doubling, at most about
    // twice the limit is live at once, plus the inflater and what the stream itself needs.
    let allowed = 512 * 1024 + 4 * built.stream.len() + 2 * (max_message + 1);
    assert!(
        peak <= allowed,
        "peak heap {peak} bytes for a {}-byte stream and a {max_message}-byte limit",
        built.stream.len()
    );
    let n = built.expected.len();
    if outcome.delivered < n {
        panic!(
            "message {} of {n} expected was not delivered ({}); the end: {:?}",
            outcome.delivered,
            want_summary(&built.expected[outcome.delivered]),
            outcome.closed
        );
    }
    let typed = |error: &Option<ConnectionError>| match error {
        Some(ConnectionError::Protocol(_)) => true,
        Some(ConnectionError::ResetWithoutClose) => eof,
        None => false,
        Some(_) => false,
    };
    match built.then {
        Then::Open => {
            assert_eq!(outcome.delivered, n, "more messages than the script sent");
            match &outcome.closed {
                None => assert!(!eof),
                Some(error) => assert!(
                    eof && matches!(error, Some(ConnectionError::ResetWithoutClose)),
                    "a valid stream failed: {error:?}"
                ),
            }
        }
        Then::Fail => {
            assert_eq!(
                outcome.delivered, n,
                "a message breaking a limit or a rule was delivered"
            );
            match &outcome.closed {
                Some(Some(ConnectionError::Protocol(ProtocolError::MessageTooLarge { size, limit })))
                    if built.inflated_too_large =>
                {
                    // Inflating stops one byte past the limit, however far the data would go.
                    assert_eq!((*size, *limit), (max_message as u64 + 1, max_message));
                }
                _ if built.inflated_too_large => {
                    panic!(
                        "a message inflating past the limit ended otherwise: {:?}",
                        outcome.closed
                    )
                }
                Some(Some(ConnectionError::Protocol(_))) => {}
                other => panic!("a stream breaking a limit or a rule did not fail: {other:?}"),
            }
        }
        Then::Unknown => {
            if let Some(error) = &outcome.closed {
                assert!(typed(error), "an untyped end: {error:?}");
            }
        }
    }
    format!(
        "{n} expected then {:?}; {} delivered; peak {peak}; end {:?}",
        built.then, outcome.delivered, outcome.closed
    )
}

fn want_summary(want: &Expected) -> String {
    match want {
        Expected::Bytes { text, bytes } => format!("{} {} bytes", if *text { "text" } else { "binary" }, bytes.len()),
        Expected::Zeros(n) => format!("{n} zeros"),
    }
}
