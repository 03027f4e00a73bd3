//! `message_stream`: an arbitrary byte stream, cut into arbitrary chunks, into an open
//! connection of either role.
//!
//! Input: a flags byte, a chunking seed byte (see [`chunks`](crate::util::chunks)), then the
//! stream the peer sends after the handshake.
//!
//! | flags bit | meaning |
//! |---|---|
//! | 0 | role: 0 client (the stream is server frames), 1 server (client frames) |
//! | 1 | the peer closes the transport (EOF) after the stream |
//! | 2-3 | limits profile, see [`config`] |
//! | 4 | after the stream, let the close timeout pass |
//! | 5 | we start the close handshake before the stream arrives |
//! | 6 | we send a message before the stream arrives |

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use resock_core::connection::MAX_PENDING_PONGS;
use resock_core::handshake::headers::accept_key;
use resock_core::{ClientOptions, CloseCode, Config, Connection, Event, Input, WsUrl};

use crate::util::{chunks, digest_bytes, digest_debug, peak_heap};

/// The opening request a client sends in server-role runs.
pub const CLIENT_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Connection limits by profile: 0 small, 1 tiny (control-frame sized), 2 medium, 3 default.
pub fn config(profile: u8) -> Config {
    match profile & 3 {
        0 => Config::default()
            .max_frame_size(4096)
            .max_message_size(16384)
            .max_fragments(64),
        1 => Config::default()
            .max_frame_size(125)
            .max_message_size(256)
            .max_fragments(4),
        2 => Config::default()
            .max_frame_size(65536)
            .max_message_size(1 << 20)
            .max_fragments(4096),
        _ => Config::default(),
    }
}

/// Bytes the connection may hold for the transport before a drain: the pong queue, our close
/// frame and the handshake answer, plus the message of flag bit 6.
const MAX_BUFFERED: usize = MAX_PENDING_PONGS * (125 + 6) + (125 + 6) + 1024;

/// The 101 response a server would send to `conn`'s opening request.
pub fn response_for(request: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(request).expect("request is ASCII");
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("request has a key");
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.trim())
    )
    .into_bytes()
}

/// A client connection that completed its handshake, with the `Opened` event drained.
pub fn open_client(config: Config, now: Instant) -> Connection {
    let url: WsUrl = "ws://example.com/chat".parse().expect("fixed URL");
    let mut conn = Connection::client(&url, &ClientOptions::default(), config, [1; 32], now).expect("valid client");
    let mut request = Vec::new();
    while conn.poll_transmit(&mut request).is_some() {}
    conn.handle_input(now, Input::Data(&response_for(&request)));
    assert!(
        matches!(conn.poll_event(), Some(Event::Opened(_))),
        "handshake did not complete"
    );
    conn
}

/// A server connection that accepted [`CLIENT_REQUEST`], with its events drained.
pub fn open_server(config: Config, now: Instant) -> Connection {
    let mut conn = Connection::server(config, [2; 32], now);
    conn.handle_input(now, Input::Data(CLIENT_REQUEST));
    let Some(Event::Request(request)) = conn.poll_event() else {
        panic!("fixed request refused")
    };
    conn.accept(now, &request, None, &[]);
    assert!(matches!(conn.poll_event(), Some(Event::Opened(_))));
    let mut tx = Vec::new();
    while conn.poll_transmit(&mut tx).is_some() {}
    conn
}

/// What a run reported, as a count and a digest of its events (to compare without keeping them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Summary {
    events: usize,
    digest: u64,
    closed: bool,
}

/// Drives one connection and checks it after every input.
struct Runner<'l> {
    conn: Connection,
    hasher: DefaultHasher,
    events: usize,
    max_events: usize,
    closed: bool,
    tx: Vec<u8>,
    log: Option<&'l mut Vec<String>>,
}

impl Runner<'_> {
    fn step(&mut self, now: Instant, input: Option<Input<'_>>) {
        let conn = &mut self.conn;
        if let Some(input) = input {
            conn.handle_input(now, input);
        }
        while let Some(event) = conn.poll_event() {
            assert!(!self.closed, "event after Closed: {event:?}");
            self.events += 1;
            assert!(self.events <= self.max_events, "more events than input bytes");
            let d = match &event {
                Event::Message(m) => digest_bytes(u8::from(m.is_text()), m.as_bytes()),
                other => digest_debug(other),
            };
            d.hash(&mut self.hasher);
            if let Some(log) = self.log.as_deref_mut() {
                log.push(format!("{event:?}"));
            }
            match event {
                Event::Closed(_) => {
                    self.closed = true;
                    assert!(conn.is_finished());
                    assert_eq!(conn.poll_timeout(), None, "deadline after Closed");
                }
                Event::CloseReceived { .. } => assert!(!conn.is_open()),
                Event::Request(_) | Event::Opened(_) => panic!("handshake event on an open connection"),
                _ => {}
            }
        }
        assert!(
            conn.buffered_amount() <= MAX_BUFFERED,
            "{} bytes buffered for the transport",
            conn.buffered_amount()
        );
        self.tx.clear();
        while conn.poll_transmit(&mut self.tx).is_some() {}
        assert_eq!(conn.buffered_amount(), 0, "poll_transmit left bytes behind");
        if let Some(deadline) = conn.poll_timeout() {
            assert!(deadline >= now, "deadline in the past");
        }
    }
}

/// Feeds `pieces` as the flags say; checks bounds after every piece. With `log`, events are
/// also written out (used to explain a mismatch).
fn run(flags: u8, pieces: &[&[u8]], total: usize, log: Option<&mut Vec<String>>) -> Summary {
    let now = Instant::now();
    let config = config(flags >> 2);
    let mut conn = if flags & 1 == 0 {
        open_client(config, now)
    } else {
        open_server(config, now)
    };
    if flags & 0x40 != 0 {
        conn.send_text("hello from this side")
            .expect("open connection refused a message");
    }
    if flags & 0x20 != 0 {
        conn.close(now, CloseCode::NORMAL, "bye")
            .expect("open connection refused to close");
    }
    let mut r = Runner {
        conn,
        hasher: DefaultHasher::new(),
        events: 0,
        max_events: total + 16,
        closed: false,
        tx: Vec::new(),
        log,
    };
    r.step(now, None);
    for piece in pieces {
        r.step(now, Some(Input::Data(piece)));
    }
    if flags & 2 != 0 {
        r.step(now, Some(Input::Eof));
    }
    if flags & 0x10 != 0 {
        let later = now + Duration::from_secs(11);
        r.conn.handle_timeout(later);
        r.step(later, None);
    }
    if r.closed {
        // Finished connections ignore everything.
        r.step(now, Some(Input::Data(b"\x81\x02hi")));
    }
    Summary {
        events: r.events,
        digest: r.hasher.finish(),
        closed: r.closed,
    }
}

/// The target body.
pub fn message_stream(data: &[u8]) {
    let [flags, seed, stream @ ..] = data else {
        return;
    };
    let pieces = chunks(stream, *seed);
    let (chunked, peak) = peak_heap(|| run(*flags, &pieces, stream.len(), None));
    // Memory follows the bytes received, never the lengths declared in headers.
    let allowed = 256 * 1024 + 4 * stream.len();
    assert!(
        peak <= allowed,
        "peak heap {peak} bytes for a {}-byte stream",
        stream.len()
    );
    let whole = run(*flags, &[stream], stream.len(), None);
    if whole != chunked {
        let mut a = Vec::new();
        let mut b = Vec::new();
        run(*flags, &[stream], stream.len(), Some(&mut a));
        run(*flags, &pieces, stream.len(), Some(&mut b));
        panic!("whole and chunked input gave different events:\nwhole:   {a:?}\nchunked: {b:?}");
    }
}
