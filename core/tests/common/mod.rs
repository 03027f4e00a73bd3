//! Shared sans-IO harness for the scenario tests: open a client or server `Connection` against
//! a hand-written peer, build frames as that peer would send them, decode what the connection
//! transmits with an independent parser, and `assert_failing` for the RFC 6455 checklist rows.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use resock_core::{
    ClientOptions, CloseCode, CloseInfo, Config, Connection, ConnectionError, Event, Initiator, Input, Message, Role,
    WsUrl,
};
use sha1::{Digest, Sha1};

/// The GUID of RFC 6455 §1.3.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The RFC 6455 §1.3 sample key and its accept value.
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The masking key of the RFC 6455 §5.7 examples; used for every frame a test client sends.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub const FIN: u8 = 0x80;
pub const CONT: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// A fixed base instant; tests only ever add durations to it and never sleep.
#[allow(clippy::disallowed_methods)] // tests need one real Instant to start from
pub fn t0() -> Instant {
    Instant::now()
}

/// base64(SHA-1(key + GUID)), computed here independently of the crate.
pub fn accept_for(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// A minimal opening request, as a browser would send it, with the RFC sample key.
pub fn opening_request() -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// The 101 answer to an opening request whose bytes are `request`.
pub fn switching_response(request: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(request).expect("the opening request is ASCII");
    let key = text
        .split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key").then(|| value.trim())
        })
        .expect("the opening request carries Sec-WebSocket-Key");
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_for(key)
    )
    .into_bytes()
}

/// An unmasked frame (server to client) with first byte `b0` and the minimal length encoding.
pub fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![b0];
    push_len(&mut out, 0, payload.len());
    out.extend_from_slice(payload);
    out
}

/// A frame masked with `key` (client to server).
pub fn masked_frame(b0: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![b0];
    push_len(&mut out, 0x80, payload.len());
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn push_len(out: &mut Vec<u8>, mask_bit: u8, len: usize) {
    match len {
        0..=125 => out.push(mask_bit | len as u8),
        126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// A close frame body: the code, big-endian, then the reason.
pub fn close_body(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason);
    body
}

/// One frame as transmitted by the connection under test, already unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl WireFrame {
    /// The close code of a close frame (`None` for an empty body).
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, CLOSE, "not a close frame: {self:?}");
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// Decodes every frame in `bytes`, which must hold whole frames only. Frames sent by a client
/// must be masked and frames sent by a server must not (§5.1); RSV bits must be clear, control
/// frames unfragmented and at most 125 bytes, and lengths minimally encoded.
pub fn parse_frames(mut bytes: &[u8], sender: Role) -> Vec<WireFrame> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 2, "truncated frame header: {bytes:02x?}");
        let (b0, b1) = (bytes[0], bytes[1]);
        assert_eq!(b0 & 0x70, 0, "RSV bits set in a transmitted frame");
        let opcode = b0 & 0x0F;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        assert_eq!(masked, sender == Role::Client, "masking of a frame sent by {sender:?}");
        let mut pos = 2;
        let len = match b1 & 0x7F {
            126 => {
                let n = u16::from_be_bytes([bytes[2], bytes[3]]) as usize;
                assert!(n >= 126, "non-minimal 16-bit length {n}");
                pos = 4;
                n
            }
            127 => {
                let n = u64::from_be_bytes(bytes[2..10].try_into().unwrap());
                assert!(n > 0xFFFF && n >> 63 == 0, "bad 64-bit length {n}");
                pos = 10;
                n as usize
            }
            n => n as usize,
        };
        if opcode >= 0x8 {
            assert!(fin && len <= 125, "bad control frame {b0:02x} len {len}");
        }
        let key = masked.then(|| {
            let key: [u8; 4] = bytes[pos..pos + 4].try_into().unwrap();
            pos += 4;
            key
        });
        assert!(bytes.len() >= pos + len, "truncated frame payload");
        let mut payload = bytes[pos..pos + len].to_vec();
        if let Some(key) = key {
            payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= key[i % 4]);
        }
        frames.push(WireFrame { fin, opcode, payload });
        bytes = &bytes[pos + len..];
    }
    frames
}

/// A connection under test plus its clock.
pub struct Peer {
    pub conn: Connection,
    pub now: Instant,
    pub role: Role,
}

impl Peer {
    /// A client opened against a fixed 101 response built from the request it transmitted.
    pub fn client(config: Config) -> Self {
        let mut peer = Self::client_connecting(config);
        let request = peer.transmit();
        let response = switching_response(&request);
        peer.feed(&response);
        let events = peer.events();
        assert!(
            matches!(events.as_slice(), [Event::Opened(_)]),
            "expected Opened, got {events:?}"
        );
        assert!(peer.conn.is_open());
        peer
    }

    /// A client whose opening request is queued and not yet answered.
    pub fn client_connecting(config: Config) -> Self {
        let url = WsUrl::parse("ws://server.example.com/chat").expect("valid URL");
        let now = t0();
        let conn = Connection::client(&url, &ClientOptions::default(), config, [7; 32], now).expect("client");
        Peer {
            conn,
            now,
            role: Role::Client,
        }
    }

    /// A server that received a hand-written opening request and accepted it.
    pub fn server(config: Config) -> Self {
        let now = t0();
        let conn = Connection::server(config, [9; 32], now);
        let mut peer = Peer {
            conn,
            now,
            role: Role::Server,
        };
        peer.feed(&opening_request());
        let request = match peer.events().as_slice() {
            [Event::Request(r)] => r.clone(),
            other => panic!("expected Request, got {other:?}"),
        };
        assert_eq!(request.key, SAMPLE_KEY);
        let now = peer.now;
        peer.conn.accept(now, &request, None, &[]);
        let response = String::from_utf8(peer.transmit()).expect("ASCII response");
        assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
        assert!(response.contains(SAMPLE_ACCEPT), "{response}");
        assert!(response.ends_with("\r\n\r\n"), "{response}");
        let events = peer.events();
        assert!(
            matches!(events.as_slice(), [Event::Opened(_)]),
            "expected Opened, got {events:?}"
        );
        peer
    }

    /// An opened connection of `role`.
    pub fn open(role: Role, config: Config) -> Self {
        match role {
            Role::Client => Self::client(config),
            Role::Server => Self::server(config),
        }
    }

    /// A frame as the other endpoint would send it to us: masked with [`KEY`] when we are the
    /// server, unmasked when we are the client.
    pub fn frame_in(&self, b0: u8, payload: &[u8]) -> Vec<u8> {
        to(self.role, b0, payload)
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        let now = self.now;
        self.conn.handle_input(now, Input::Data(bytes));
    }

    /// Feeds `bytes` one at a time, draining events after each; returns every event.
    pub fn feed_bytewise(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for b in bytes {
            self.feed(std::slice::from_ref(b));
            events.extend(self.events());
        }
        events
    }

    pub fn eof(&mut self) {
        let now = self.now;
        self.conn.handle_input(now, Input::Eof);
    }

    /// Moves the clock forward by `d` and lets the connection act on its deadline.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        let now = self.now;
        self.conn.handle_timeout(now);
    }

    /// Drains `poll_event` until it is empty.
    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }

    /// Drains `poll_transmit` until it is empty.
    pub fn transmit(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(n) = self.conn.poll_transmit(&mut buf) {
            assert_eq!(n, buf.len(), "poll_transmit returned a wrong count");
            out.append(&mut buf);
        }
        out
    }

    /// Drains `poll_transmit` and decodes the frames.
    pub fn sent_frames(&mut self) -> Vec<WireFrame> {
        parse_frames(&self.transmit(), self.role)
    }
}

/// A frame as the peer of a connection in `role` would send it (see [`Peer::frame_in`]).
pub fn to(role: Role, b0: u8, payload: &[u8]) -> Vec<u8> {
    match role {
        Role::Client => frame(b0, payload),
        Role::Server => masked_frame(b0, payload, KEY),
    }
}

/// The data messages among `events`.
pub fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// The one `Closed` event, which must be the last event.
pub fn closed_info(events: &[Event]) -> CloseInfo {
    let closed: Vec<_> = events.iter().filter(|e| matches!(e, Event::Closed(_))).collect();
    assert_eq!(closed.len(), 1, "expected exactly one Closed in {events:?}");
    match events.last() {
        Some(Event::Closed(info)) => info.clone(),
        _ => panic!("Closed is not the last event: {events:?}"),
    }
}

/// The payload of the frame fed after a failure; it must never come out as a message.
const SENTINEL: &[u8] = b"AFTER-FAILURE";

/// Runs `input` against a fresh opened client with the default config and checks that the
/// connection fails with `code`. See [`assert_failing_with`].
pub fn assert_failing(input: &[u8], code: CloseCode) -> Vec<Event> {
    assert_failing_with(Role::Client, Config::default(), input, code)
}

/// Like [`assert_failing`] for a server; `input` must hold masked frames.
pub fn assert_failing_server(input: &[u8], code: CloseCode) -> Vec<Event> {
    assert_failing_with(Role::Server, Config::default(), input, code)
}

/// Feeds `input` to fresh opened connections of `role` three ways (whole; whole followed by a
/// valid frame in the same read; one byte at a time) and checks each time that by the end of
/// `input` the connection failed (§7.1.7): it transmitted one close frame carrying `code` as its
/// last frame, reported `Closed` with a protocol error of that code, is finished, and surfaces
/// nothing for later frames, EOF or timeouts. All three runs must report the same events, which
/// are returned.
pub fn assert_failing_with(role: Role, config: Config, input: &[u8], code: CloseCode) -> Vec<Event> {
    let sentinel = to(role, FIN | TEXT, SENTINEL);
    let whole = run_failing(role, &config, &[input], code, "whole");
    let with_tail = [input, &sentinel[..]].concat();
    let tail = run_failing(role, &config, &[&with_tail], code, "whole + trailing frame");
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let bytewise = run_failing(role, &config, &bytes, code, "byte at a time");
    assert_eq!(whole, tail, "a trailing frame in the same read changed the outcome");
    assert_eq!(whole, bytewise, "byte-at-a-time feeding changed the outcome");
    whole.0
}

fn run_failing(
    role: Role,
    config: &Config,
    chunks: &[&[u8]],
    code: CloseCode,
    how: &str,
) -> (Vec<Event>, Vec<WireFrame>) {
    let mut peer = Peer::open(role, config.clone());
    let mut events = Vec::new();
    let mut wire = Vec::new();
    for chunk in chunks {
        peer.feed(chunk);
        events.extend(peer.events());
        wire.extend(peer.transmit());
    }
    let frames = parse_frames(&wire, role);

    let info = closed_info(&events);
    match &info.error {
        Some(ConnectionError::Protocol(e)) => {
            assert_eq!(e.close_code(), code, "{how}: protocol error {e:?} has the wrong code")
        }
        other => panic!("{how}: expected a protocol error with {code}, got {other:?}"),
    }
    assert_eq!(
        info.code,
        CloseCode::ABNORMAL,
        "{how}: no valid close frame was received"
    );
    assert_eq!(info.initiator, Initiator::Local, "{how}");
    assert!(!info.clean, "{how}: a failed connection is not clean");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Message(m) if m.as_bytes() == SENTINEL)),
        "{how}: a frame after the failure was surfaced"
    );

    let closes: Vec<_> = frames.iter().filter(|f| f.opcode == CLOSE).collect();
    assert_eq!(closes.len(), 1, "{how}: expected one close frame in {frames:?}");
    let last = frames.last().unwrap();
    assert_eq!(last.opcode, CLOSE, "{how}: something was sent after the close frame");
    assert_eq!(last.close_code(), Some(code.0), "{how}: wrong code in the close frame");
    let reason = &last.payload[2..];
    assert!(
        std::str::from_utf8(reason).is_ok() && reason.len() <= 123,
        "{how}: bad reason"
    );

    assert!(peer.conn.is_finished(), "{how}: not finished after failing");
    assert!(!peer.conn.is_open(), "{how}");
    assert_eq!(
        peer.conn.poll_timeout(),
        None,
        "{how}: a finished connection has no deadline"
    );

    let later = to(role, FIN | TEXT, SENTINEL);
    peer.feed(&later);
    peer.eof();
    peer.advance(Duration::from_secs(3600));
    assert_eq!(peer.events(), [], "{how}: events after Closed");
    assert_eq!(peer.transmit(), Vec::<u8>::new(), "{how}: bytes sent after Closed");
    assert!(peer.conn.is_finished());

    (events, frames)
}
