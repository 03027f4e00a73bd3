//! Inputs and runners shared by the `compare` and `codec` benches: identical payloads and
//! frame streams for resock-core and tungstenite, and one "decode N messages" / "encode N
//! messages" step per library. The async peers (fastwebsockets, tokio-websockets) have their
//! adapters in their own files, over the in-memory IO of `mem_io`.
#![allow(dead_code)]
#![allow(clippy::disallowed_methods)] // benches read the clock

pub mod mem_io;
pub mod peer_fastwebsockets;
pub mod peer_tokio_websockets;

use std::hint::black_box;
use std::io::{self, Cursor, Read, Write};
use std::time::Instant;

use resock_core::frame::{OpCode, encode_frame, encoded_len};
use resock_core::{ClientOptions, Config, Connection, Event, Input, Message, WsUrl};

/// The kinds of payload measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ASCII JSON-like text.
    Text,
    /// Text with about half of its bytes in 2-4 byte UTF-8 sequences.
    TextMb,
    /// Binary.
    Binary,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Text, Kind::TextMb, Kind::Binary];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::TextMb => "textmb",
            Kind::Binary => "binary",
        }
    }

    pub fn is_text(self) -> bool {
        self != Kind::Binary
    }
}

/// The payload sizes measured, in bytes.
pub const SIZES: [usize; 5] = [16, 128, 1024, 65536, 1048576];

/// A payload of exactly `size` bytes of the given kind (valid UTF-8 for the text kinds).
pub fn payload(kind: Kind, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 4);
    match kind {
        Kind::Text => {
            let mut seq = 0u64;
            while out.len() < size {
                let item = format!("{{\"type\":\"tick\",\"seq\":{seq},\"px\":\"101.{:02}\"}},", seq % 100);
                out.extend_from_slice(item.as_bytes());
                seq += 1;
            }
            out.truncate(size);
        }
        Kind::TextMb => {
            // ASCII and multibyte characters in turn, so about half the bytes are multibyte.
            let pieces = ["ab", "é", "cde", "€", "fghi", "😀", "j", "ß"];
            let mut i = 0;
            while out.len() < size {
                let piece = pieces[i % pieces.len()].as_bytes();
                if out.len() + piece.len() > size {
                    out.resize(size, b'z');
                    break;
                }
                out.extend_from_slice(piece);
                i += 1;
            }
        }
        Kind::Binary => {
            let mut x: u32 = 0x9E37_79B9;
            while out.len() < size {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                out.push(x as u8);
            }
        }
    }
    debug_assert_eq!(out.len(), size);
    if kind.is_text() {
        debug_assert!(std::str::from_utf8(&out).is_ok());
    }
    out
}

/// How many messages one decode or encode pass handles: about 4 MiB of payload, at least 4,
/// at most 65 536 messages.
pub fn messages_per_pass(size: usize) -> usize {
    ((4 << 20) / size.max(1)).clamp(4, 65_536)
}

/// `count` unmasked single-frame server messages back to back.
pub fn server_frames(kind: Kind, payload: &[u8], count: usize) -> Vec<u8> {
    let opcode = if kind.is_text() { OpCode::Text } else { OpCode::Binary };
    let mut one = Vec::new();
    encode_frame(&mut one, true, opcode, payload, None);
    let mut out = Vec::with_capacity(one.len() * count);
    for _ in 0..count {
        out.extend_from_slice(&one);
    }
    out
}

/// Read size a driver would use: the bytes handed to resock per `handle_input` call, and the
/// most tungstenite's stream returns per read.
pub const READ_CHUNK: usize = 64 * 1024;

/// A bench clock: `Instant::now()` once, since core itself never reads the clock.
pub fn now() -> Instant {
    Instant::now()
}

/// An open client-role connection, handshake done against resock's own server role.
pub fn open_client(config: Config) -> Connection {
    let now = now();
    let url = WsUrl::parse("ws://bench.invalid/").unwrap();
    let mut client = Connection::client(&url, &ClientOptions::default(), config.clone(), [7; 32], now).unwrap();
    let mut server = Connection::server(config, [9; 32], now);
    let mut wire = Vec::new();
    while client.poll_transmit(&mut wire).is_some() {}
    server.handle_input(now, Input::Data(&wire));
    let Some(Event::Request(request)) = server.poll_event() else {
        panic!("the server saw no request")
    };
    server.accept(now, &request, None, &[]);
    wire.clear();
    while server.poll_transmit(&mut wire).is_some() {}
    client.handle_input(now, Input::Data(&wire));
    match client.poll_event() {
        Some(Event::Opened(_)) => client,
        other => panic!("handshake failed: {other:?}"),
    }
}

/// Config large enough for the 1 MiB case in both libraries (the defaults already are), with
/// permessage-deflate off: the peers here do not compress, so neither may resock (with the
/// default config both resock ends would agree on it and compress every message of 256 bytes
/// or more). Compression has its own bench, `deflate`.
pub fn config() -> Config {
    Config::default().deflate(None)
}

/// resock: feeds `wire` in `READ_CHUNK` pieces and takes every message; returns the count.
pub fn resock_decode(conn: &mut Connection, wire: &[u8]) -> usize {
    let now = now();
    let mut messages = 0;
    for chunk in wire.chunks(READ_CHUNK) {
        conn.handle_input(now, Input::Data(chunk));
        while let Some(event) = conn.poll_event() {
            if let Event::Message(message) = event {
                black_box(&message);
                messages += 1;
            }
        }
    }
    messages
}

/// An in-memory stream for tungstenite: reads come from a buffer in `READ_CHUNK` pieces,
/// writes are kept (pongs) or discarded.
pub struct MemStream {
    pub input: Cursor<Vec<u8>>,
    pub output: Vec<u8>,
}

impl Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(READ_CHUNK);
        self.input.read(&mut buf[..n])
    }
}

impl Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub type TungClient = tungstenite::WebSocket<MemStream>;

/// A tungstenite client over an in-memory stream holding `wire`.
pub fn tung_client(wire: Vec<u8>) -> TungClient {
    let stream = MemStream {
        input: Cursor::new(wire),
        output: Vec::new(),
    };
    tungstenite::WebSocket::from_raw_socket(stream, tungstenite::protocol::Role::Client, None)
}

/// tungstenite: rewinds the stream and reads `count` messages; returns their payload bytes.
pub fn tung_decode(ws: &mut TungClient, count: usize) -> usize {
    ws.get_mut().input.set_position(0);
    let mut bytes = 0;
    for _ in 0..count {
        let message = ws.read().expect("tungstenite read");
        bytes += message.len();
        black_box(&message);
    }
    bytes
}

/// A message to send, prepared once per library so the pass measures only the send.
pub enum Outgoing {
    Text(String),
    Binary(Vec<u8>),
}

impl Outgoing {
    pub fn new(kind: Kind, payload: &[u8]) -> Self {
        if kind.is_text() {
            Outgoing::Text(String::from_utf8(payload.to_vec()).unwrap())
        } else {
            Outgoing::Binary(payload.to_vec())
        }
    }

    pub fn tungstenite(&self) -> tungstenite::Message {
        match self {
            Outgoing::Text(s) => tungstenite::Message::Text(s.as_str().into()),
            Outgoing::Binary(b) => tungstenite::Message::Binary(b.clone().into()),
        }
    }

    pub fn resock(&self) -> Message {
        match self {
            Outgoing::Text(s) => Message::text(s.as_str()),
            Outgoing::Binary(b) => Message::binary(b.clone()),
        }
    }
}

/// resock: sends `count` masked client messages, each followed by `poll_transmit` into a
/// reused buffer, as a driver would write after every send.
pub fn resock_encode(conn: &mut Connection, out: &mut Vec<u8>, message: &Outgoing, count: usize) -> usize {
    let mut bytes = 0;
    for _ in 0..count {
        match message {
            Outgoing::Text(s) => conn.send_text(s).unwrap(),
            Outgoing::Binary(b) => conn.send_binary(b).unwrap(),
        }
        out.clear();
        bytes += conn.poll_transmit(out).unwrap_or(0);
        black_box(&out);
    }
    bytes
}

/// tungstenite: `send`s `count` messages into an in-memory sink that is cleared each time.
pub fn tung_encode(ws: &mut TungClient, message: &tungstenite::Message, count: usize) -> usize {
    let mut bytes = 0;
    for _ in 0..count {
        ws.send(message.clone()).expect("tungstenite send");
        let out = &mut ws.get_mut().output;
        bytes += out.len();
        black_box(&out);
        out.clear();
    }
    bytes
}

/// Checks once, before timing, that both libraries decode the same messages from `wire`.
pub fn check_same_decode(kind: Kind, payload: &[u8], wire: &[u8], count: usize) {
    let mut conn = open_client(config());
    let now = now();
    conn.handle_input(now, Input::Data(wire));
    let mut ws = tung_client(wire.to_vec());
    for i in 0..count {
        let ours = loop {
            match conn.poll_event() {
                Some(Event::Message(m)) => break m,
                Some(_) => continue,
                None => panic!("resock delivered {i} of {count} messages"),
            }
        };
        let theirs = ws.read().unwrap();
        assert_eq!(ours.as_bytes(), payload);
        assert_eq!(&theirs.into_data()[..], payload);
        assert_eq!(ours.is_text(), kind.is_text());
    }
}

/// The bytes resock writes for one client `message`, for checking before timing.
pub fn resock_one_frame(message: &Outgoing) -> Vec<u8> {
    let mut conn = open_client(config());
    let mut out = Vec::new();
    resock_encode(&mut conn, &mut out, message, 1);
    out
}

/// The bytes tungstenite writes for one client `message`, for checking before timing.
pub fn tung_one_frame(message: &Outgoing) -> Vec<u8> {
    let mut ws = tung_client(Vec::new());
    ws.send(message.tungstenite()).expect("tungstenite send");
    std::mem::take(&mut ws.get_mut().output)
}

/// Checks that `frame` is exactly one masked client frame carrying `payload` as a `kind`
/// message, read back by tungstenite in the server role (which refuses unmasked frames).
pub fn check_client_frame(library: &str, kind: Kind, payload: &[u8], frame: &[u8]) {
    assert_eq!(frame.len(), encoded_len(payload.len(), true), "{library}: frame length");
    let stream = MemStream {
        input: Cursor::new(frame.to_vec()),
        output: Vec::new(),
    };
    let mut ws = tungstenite::WebSocket::from_raw_socket(stream, tungstenite::protocol::Role::Server, None);
    let message = ws
        .read()
        .unwrap_or_else(|e| panic!("{library}: its frame does not decode: {e}"));
    assert_eq!(message.is_text(), kind.is_text(), "{library}: message type");
    assert_eq!(&message.into_data()[..], payload, "{library}: payload");
}

/// An open session (heartbeat, queue and reconnect bookkeeping on, as by default), its
/// handshake done against resock's own server role; returns it with its transport id.
pub fn open_session() -> (resock_core::session::Session, resock_core::session::TransportId) {
    use resock_core::session::{Output, Session, SessionConfig, TransportInput};
    let now = now();
    let url = WsUrl::parse("ws://bench.invalid/").unwrap();
    let mut session = Session::new(SessionConfig::new(url), [3; 32], now);
    session.connect(now);
    let id = loop {
        match session.poll_output() {
            Some(Output::Connect { id, .. }) => break id,
            Some(_) => continue,
            None => panic!("the session asked for no transport"),
        }
    };
    session.handle_transport(now, id, TransportInput::Connected);
    let mut wire = Vec::new();
    while session.poll_transmit(&mut wire).is_some() {}
    let mut server = Connection::server(config(), [9; 32], now);
    server.handle_input(now, Input::Data(&wire));
    let Some(Event::Request(request)) = server.poll_event() else {
        panic!("the server saw no request")
    };
    server.accept(now, &request, None, &[]);
    wire.clear();
    while server.poll_transmit(&mut wire).is_some() {}
    session.handle_transport(now, id, TransportInput::Data(&wire));
    while session.poll_output().is_some() {}
    assert_eq!(session.state(), &resock_core::session::SessionState::Open);
    (session, id)
}

/// The session: feeds `wire` in `READ_CHUNK` pieces and takes every output, as a driver does
/// (outputs, then transmit); returns the number of messages.
pub fn session_decode(
    session: &mut resock_core::session::Session,
    id: resock_core::session::TransportId,
    wire: &[u8],
    out: &mut Vec<u8>,
) -> usize {
    use resock_core::session::{Output, SessionEvent, TransportInput};
    let now = now();
    let mut messages = 0;
    for chunk in wire.chunks(READ_CHUNK) {
        session.handle_transport(now, id, TransportInput::Data(chunk));
        while let Some(output) = session.poll_output() {
            if let Output::Event(SessionEvent::Message(message)) = output {
                black_box(&message);
                messages += 1;
            }
        }
        out.clear();
        while session.poll_transmit(out).is_some() {}
    }
    messages
}
