//! permessage-deflate (RFC 7692) interop: resock's core [`Connection`] on a blocking loopback
//! socket (the [`Driver`], which keeps the [`Accepted`] of `Event::Opened` and counts the bytes
//! on the wire) against Python `websockets` and Node `ws` in both roles, with and without
//! context takeover, and against tungstenite, which has no compression, to see the
//! negotiation fall back.
//!
//! Each case echoes [`mixed_messages`] (sizes from 0 B to 64 KiB, JSON-like text with and
//! without non-ASCII characters, random binary), one at a time, and compares every echo byte
//! for byte; the agreed parameters are read on both sides (resock's `Opened`, and the peer's
//! report of the `Sec-WebSocket-Extensions` answer), and the wire byte counts show that both
//! directions really travelled compressed.
//!
//! Every wait is bounded by the case's deadline; every process is stopped by its PID (the
//! [`Peer`] and [`PeerClient`] drops) and every thread joined.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use resock_core::{
    Accepted, ClientOptions, CloseCode, CloseInfo, Config, Connection, DeflateConfig, DeflateParams, Event, Input,
    Message, WsUrl,
};

use crate::interop::TungServer;
use crate::peers::{Peer, PeerClient, PeerDeflate, PeerKind, PeerOptions};

/// The bound of one case, handshake to close.
pub const CASE_LIMIT: Duration = Duration::from_secs(60);
/// How long one blocking read may wait before the deadline is looked at again.
const READ_SLICE: Duration = Duration::from_millis(50);

/// resock's core connection driven on a blocking TCP stream.
pub struct Driver {
    stream: TcpStream,
    conn: Connection,
    out: Vec<u8>,
    read_buf: Vec<u8>,
    /// Bytes read from the socket, handshake included.
    pub wire_in: u64,
    /// Bytes written to the socket, handshake included.
    pub wire_out: u64,
    deadline: Instant,
}

impl Driver {
    /// Connects to `url` and completes the client handshake.
    pub fn client(url: &str, config: Config, deadline: Instant) -> (Driver, Accepted) {
        let parsed: WsUrl = url.parse().expect("a ws:// URL");
        let stream = TcpStream::connect((parsed.host.as_str(), parsed.port)).expect("connect to the peer");
        let conn = Connection::client(&parsed, &ClientOptions::default(), config, [7; 32], Instant::now())
            .expect("a valid client");
        let mut driver = Driver::new(stream, conn, deadline);
        match driver.next_event() {
            Event::Opened(accepted) => (driver, accepted),
            other => panic!("the client handshake ended with {other:?}"),
        }
    }

    /// Completes the server handshake on an accepted stream, with no subprotocol.
    pub fn server(stream: TcpStream, config: Config, deadline: Instant) -> (Driver, Accepted) {
        let conn = Connection::server(config, [9; 32], Instant::now());
        let mut driver = Driver::new(stream, conn, deadline);
        let request = match driver.next_event() {
            Event::Request(request) => request,
            other => panic!("the server handshake ended with {other:?}"),
        };
        driver.conn.accept(Instant::now(), &request, None, &[]);
        match driver.next_event() {
            Event::Opened(accepted) => (driver, accepted),
            other => panic!("accepting ended with {other:?}"),
        }
    }

    fn new(stream: TcpStream, conn: Connection, deadline: Instant) -> Driver {
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream.set_read_timeout(Some(READ_SLICE)).expect("read timeout");
        stream.set_write_timeout(Some(CASE_LIMIT)).expect("write timeout");
        let mut driver = Driver {
            stream,
            conn,
            out: Vec::new(),
            read_buf: vec![0; 64 * 1024],
            wire_in: 0,
            wire_out: 0,
            deadline,
        };
        driver.flush();
        driver
    }

    fn flush(&mut self) {
        while self.conn.poll_transmit(&mut self.out).is_some() {
            match self.stream.write_all(&self.out) {
                Ok(()) => self.wire_out += self.out.len() as u64,
                Err(e) => {
                    let why = e.to_string();
                    self.conn.handle_input(Instant::now(), Input::TransportError(&why));
                }
            }
            self.out.clear();
        }
    }

    /// The next event, reading as needed; panics at the deadline.
    pub fn next_event(&mut self) -> Event {
        loop {
            if let Some(event) = self.conn.poll_event() {
                self.flush();
                return event;
            }
            self.flush();
            let now = Instant::now();
            if self.conn.poll_timeout().is_some_and(|t| now >= t) {
                self.conn.handle_timeout(now);
                continue;
            }
            assert!(now < self.deadline, "no event before the case's deadline");
            match self.stream.read(&mut self.read_buf) {
                Ok(0) => self.conn.handle_input(Instant::now(), Input::Eof),
                Ok(n) => {
                    self.wire_in += n as u64;
                    self.conn.handle_input(Instant::now(), Input::Data(&self.read_buf[..n]));
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let why = e.to_string();
                    self.conn.handle_input(Instant::now(), Input::TransportError(&why));
                }
            }
        }
    }

    /// Sends a message and writes it out.
    pub fn send(&mut self, message: &Message) {
        self.conn.send(message).expect("send on an open connection");
        self.flush();
    }

    /// Sends one message in the fragments `parts` (`send_fragment`: `opcode` first, then
    /// continuations, the last with FIN) and writes them out.
    pub fn send_fragments(&mut self, opcode: resock_core::frame::OpCode, parts: &[&[u8]]) {
        let mut opcode = opcode;
        for (i, part) in parts.iter().enumerate() {
            self.conn
                .send_fragment(opcode, part, i + 1 == parts.len())
                .expect("a fragment on an open connection");
            opcode = resock_core::frame::OpCode::Continuation;
        }
        self.flush();
    }

    /// The next data message (pings and pongs skipped); panics when the connection ends.
    pub fn recv(&mut self) -> Message {
        loop {
            match self.next_event() {
                Event::Message(message) => return message,
                Event::Ping(_) | Event::Pong(_) => {}
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// Closes with 1000 and waits for the end of the connection.
    pub fn close(&mut self) -> CloseInfo {
        self.conn
            .close(Instant::now(), CloseCode::NORMAL, "done")
            .expect("close an open connection");
        self.flush();
        loop {
            if let Event::Closed(info) = self.next_event() {
                return info;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// SplitMix64, so every run sends the same messages.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The sizes every run includes: the frame length encodings' edges, resock's (256) and Node
/// ws's (1024) compression thresholds, and 64 KiB.
const EDGE_SIZES: [usize; 14] = [
    0, 1, 125, 126, 255, 256, 257, 1023, 1024, 1025, 4096, 32768, 65535, 65536,
];

/// JSON-like text of about `size` bytes (a little less when a multi-byte character would be
/// cut): trade records with changing numbers, and with `unicode` some non-ASCII text, so
/// characters straddle the inflater's output chunks.
pub fn json_text(rng: &mut Rng, size: usize, unicode: bool) -> String {
    let mut text = String::with_capacity(size + 200);
    text.push('[');
    let symbols = ["BTC-USD", "ETH-USD", "SOL-EUR", "ADA-GBP"];
    while text.len() < size {
        let seq = rng.next_u64() % 1_000_000;
        let _ = fmt::Write::write_fmt(
            &mut text,
            format_args!(
                "{{\"seq\":{seq},\"sym\":\"{}\",\"px\":\"{}.{:02}\",\"qty\":\"0.{:04}\",\"side\":\"{}\"",
                symbols[(seq % 4) as usize],
                20_000 + rng.below(5_000),
                rng.below(100),
                rng.below(10_000),
                if seq.is_multiple_of(2) { "buy" } else { "sell" },
            ),
        );
        if unicode {
            let notes = ["café", "Zürich €", "東京 ⇄ 大阪", "emoji 😀🚀", "Ωμέγα"];
            let _ = fmt::Write::write_fmt(
                &mut text,
                format_args!(",\"note\":\"{}\"", notes[rng.below(notes.len() as u64) as usize]),
            );
        }
        text.push_str("},");
    }
    let mut cut = size.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text
}

/// `n` messages: the [`EDGE_SIZES`] first, then sizes drawn with most below 1 KiB, some up to
/// 8 KiB and one in ten up to 64 KiB; by turns random binary, ASCII JSON-like text and
/// JSON-like text with non-ASCII characters.
pub fn mixed_messages(n: usize, seed: u64) -> Vec<Message> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let size = match EDGE_SIZES.get(i / 3) {
                Some(&edge) if i < EDGE_SIZES.len() * 3 => edge,
                _ => match rng.below(10) {
                    0..=5 => rng.below(1024) as usize,
                    6..=8 => 1024 + rng.below(7 * 1024) as usize,
                    _ => 8192 + rng.below(56 * 1024 + 1) as usize,
                },
            };
            match i % 3 {
                0 => {
                    let bytes: Vec<u8> = (0..size).map(|_| rng.next_u64() as u8).collect();
                    Message::binary(bytes)
                }
                1 => Message::text(json_text(&mut rng, size, false)),
                _ => Message::text(json_text(&mut rng, size, true)),
            }
        })
        .collect()
}

/// Panics with a short description (not the whole payloads) unless `got` is `sent`.
fn assert_echo(i: usize, sent: &Message, got: &Message) {
    if sent == got {
        return;
    }
    let (a, b) = (sent.as_bytes(), got.as_bytes());
    let first = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    panic!(
        "message {i}: sent {} of {} bytes, got {} of {} bytes, first difference at {first}",
        if sent.is_text() { "text" } else { "binary" },
        a.len(),
        if got.is_text() { "text" } else { "binary" },
        b.len(),
    );
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

/// What one case saw.
#[derive(Debug, Clone)]
pub struct Report {
    /// The parameters resock's `Opened` reported.
    pub agreed: Option<DeflateParams>,
    /// The `Sec-WebSocket-Extensions` answer as the peer reported it.
    pub peer_saw: String,
    /// Messages echoed.
    pub messages: usize,
    /// Payload bytes sent (and, echoed, received).
    pub payload: u64,
    /// Bytes resock read from the socket.
    pub wire_in: u64,
    /// Bytes resock wrote to the socket.
    pub wire_out: u64,
    /// Handshake to close.
    pub took: Duration,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ratio = |wire: u64| wire as f64 / self.payload.max(1) as f64;
        write!(
            f,
            "{} messages, {} payload bytes each way, wire out {:.2} in {:.2} of it, agreed [{}], peer saw [{}], {} ms",
            self.messages,
            self.payload,
            ratio(self.wire_out),
            ratio(self.wire_in),
            self.agreed.map(|d| d.to_string()).unwrap_or_default(),
            self.peer_saw,
            self.took.as_millis()
        )
    }
}

/// Echoes every message through the peer, one at a time, checking each echo.
fn echo_all(driver: &mut Driver, messages: &[Message]) -> u64 {
    let mut payload = 0;
    for (i, m) in messages.iter().enumerate() {
        driver.send(m);
        let got = driver.recv();
        assert_echo(i, m, &got);
        payload += m.len() as u64;
    }
    payload
}

/// resock as the client of the peer's server (started with `peer_deflate`), offering `ours`;
/// the peer's `/extensions` path first sends its answer's `Sec-WebSocket-Extensions`.
pub fn resock_client(kind: PeerKind, peer_deflate: PeerDeflate, ours: Option<DeflateConfig>, n: usize) -> Report {
    let start = Instant::now();
    let deadline = start + CASE_LIMIT;
    let peer = Peer::start(
        kind,
        PeerOptions {
            deflate: peer_deflate,
            ..PeerOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("starting the {kind} server: {e}"));
    let config = Config::default().deflate(ours);
    let (mut driver, accepted) = Driver::client(&peer.url("/extensions"), config, deadline);
    let peer_saw = match driver.recv() {
        Message::Text(t) => t.as_str().to_owned(),
        other => panic!("/extensions sent {other:?}"),
    };
    let messages = mixed_messages(n, 15 + kind as u64);
    let (wire_in, wire_out) = (driver.wire_in, driver.wire_out);
    let payload = echo_all(&mut driver, &messages);
    let report = Report {
        agreed: accepted.deflate,
        peer_saw,
        messages: n,
        payload,
        wire_in: driver.wire_in - wire_in,
        wire_out: driver.wire_out - wire_out,
        took: Duration::ZERO,
    };
    let info = driver.close();
    assert!(info.clean && info.error.is_none(), "{info:?}");
    Report {
        took: start.elapsed(),
        ..report
    }
}

/// resock as the server of the peer's echo client (started with `peer_deflate`), accepting
/// with `ours`; resock sends, the client echoes.
pub fn resock_server(kind: PeerKind, peer_deflate: PeerDeflate, ours: Option<DeflateConfig>, n: usize) -> Report {
    let start = Instant::now();
    let deadline = start + CASE_LIMIT;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("ws://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    let mut client =
        PeerClient::start(kind, &url, peer_deflate).unwrap_or_else(|e| panic!("starting the {kind} client: {e}"));
    let stream = accept_until(&listener, deadline)
        .unwrap_or_else(|| panic!("the {kind} client did not connect; its stderr:\n{}", client.stderr()));
    let (mut driver, accepted) = Driver::server(stream, Config::default().deflate(ours), deadline);
    let line = client
        .next_line(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("the {kind} client reported nothing; stderr:\n{}", client.stderr()));
    let peer_saw = line
        .strip_prefix("EXTENSIONS ")
        .or_else(|| (line == "EXTENSIONS").then_some(""))
        .unwrap_or_else(|| panic!("the {kind} client printed {line:?}"))
        .to_owned();
    let messages = mixed_messages(n, 25 + kind as u64);
    let (wire_in, wire_out) = (driver.wire_in, driver.wire_out);
    let payload = echo_all(&mut driver, &messages);
    let report = Report {
        agreed: accepted.deflate,
        peer_saw,
        messages: n,
        payload,
        wire_in: driver.wire_in - wire_in,
        wire_out: driver.wire_out - wire_out,
        took: Duration::ZERO,
    };
    let info = driver.close();
    assert!(info.clean && info.error.is_none(), "{info:?}");
    drop(driver);
    assert_eq!(
        client.next_line(Duration::from_secs(10)).as_deref(),
        Some("CLOSED 1000"),
        "the {kind} client's end; stderr:\n{}",
        client.stderr()
    );
    let status = client.wait(Duration::from_secs(10)).expect("the client exits");
    assert!(status.success(), "the {kind} client exited with {status}");
    Report {
        took: start.elapsed(),
        ..report
    }
}

/// The next connection on `listener`, polling until `deadline`.
fn accept_until(listener: &TcpListener, deadline: Instant) -> Option<TcpStream> {
    listener.set_nonblocking(true).expect("non-blocking listener");
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                return Some(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("accept: {e}"),
        }
    }
    None
}

/// resock (compression offered, the default) as the client of the in-process tungstenite
/// server, which has no compression: nothing is agreed and messages flow uncompressed.
pub fn tungstenite_server_fallback(n: usize) -> Report {
    let start = Instant::now();
    let server = TungServer::start();
    let (mut driver, accepted) = Driver::client(&server.url("/echo"), Config::default(), start + CASE_LIMIT);
    let messages = mixed_messages(n, 35);
    let (wire_in, wire_out) = (driver.wire_in, driver.wire_out);
    let payload = echo_all(&mut driver, &messages);
    let report = Report {
        agreed: accepted.deflate,
        peer_saw: String::new(),
        messages: n,
        payload,
        wire_in: driver.wire_in - wire_in,
        wire_out: driver.wire_out - wire_out,
        took: Duration::ZERO,
    };
    let info = driver.close();
    assert!(info.clean && info.error.is_none(), "{info:?}");
    Report {
        took: start.elapsed(),
        ..report
    }
}

/// resock (compression accepted, the default) as the server of a tungstenite echo client,
/// which offers no extension: nothing is agreed and messages flow uncompressed. `peer_saw` is
/// the extensions header of the 101 as tungstenite received it (none expected).
pub fn tungstenite_client_fallback(n: usize) -> Report {
    let start = Instant::now();
    let deadline = start + CASE_LIMIT;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("ws://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    let client = thread::spawn(move || -> Result<String, String> {
        let stream =
            TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/')).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(CASE_LIMIT)).map_err(|e| e.to_string())?;
        let config = tungstenite::protocol::WebSocketConfig::default()
            .max_frame_size(None)
            .max_message_size(Some(17 << 20));
        let (mut ws, response) =
            tungstenite::client::client_with_config(url.as_str(), stream, Some(config)).map_err(|e| e.to_string())?;
        let saw = response
            .headers()
            .get("sec-websocket-extensions")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        loop {
            match ws.read() {
                Ok(m @ (tungstenite::Message::Text(_) | tungstenite::Message::Binary(_))) => {
                    ws.send(m).map_err(|e| e.to_string())?;
                }
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => return Ok(saw),
                Err(e) => return Err(e.to_string()),
            }
        }
    });
    let stream = accept_until(&listener, deadline).expect("the tungstenite client connects");
    let (mut driver, accepted) = Driver::server(stream, Config::default(), deadline);
    let messages = mixed_messages(n, 45);
    let (wire_in, wire_out) = (driver.wire_in, driver.wire_out);
    let payload = echo_all(&mut driver, &messages);
    let mut report = Report {
        agreed: accepted.deflate,
        peer_saw: String::new(),
        messages: n,
        payload,
        wire_in: driver.wire_in - wire_in,
        wire_out: driver.wire_out - wire_out,
        took: Duration::ZERO,
    };
    let info = driver.close();
    assert!(info.clean && info.error.is_none(), "{info:?}");
    drop(driver);
    report.peer_saw = client
        .join()
        .expect("the tungstenite client thread")
        .unwrap_or_else(|e| panic!("the tungstenite client: {e}"));
    report.took = start.elapsed();
    report
}
