//! A scriptable in-memory WebSocket server made of core's server-role [`Connection`]s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::connection::{Connection, Event, Input};
use crate::session::TransportId;
use crate::{CloseCode, Config, Message, OpCode, Request, saturating_later};

/// How the server answers an opening request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// 101, choosing this subprotocol.
    Accept(Option<String>),
    /// An HTTP error with extra headers (e.g. 429 with `Retry-After`), then the transport closes.
    Reject {
        /// The HTTP status, e.g. 401, 429 or 503.
        status: u16,
        /// Extra response headers, e.g. `("Retry-After", "30")`.
        headers: Vec<(String, String)>,
    },
    /// Never answer (a slowloris or hung server).
    Silent,
    /// A 101 whose `Sec-WebSocket-Accept` does not match the key (a broken proxy or server);
    /// the server then stops reading and writing on that connection.
    BadAccept,
}

impl Answer {
    /// A rejection with `status` and no extra header.
    pub fn reject(status: u16) -> Self {
        Answer::Reject {
            status,
            headers: Vec::new(),
        }
    }

    /// A redirect: `status` (301, 302, 303, 307 or 308) with `Location: <location>`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Answer::Reject {
            status,
            headers: vec![("Location".to_owned(), location.to_owned())],
        }
    }

    /// A 429 Too Many Requests carrying `Retry-After: <seconds>`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Answer::Reject {
            status: 429,
            headers: vec![("Retry-After".to_owned(), retry_after_secs.to_string())],
        }
    }
}

/// One server-side connection.
#[derive(Debug)]
pub(crate) struct ServerConn {
    /// The protocol state machine (server role).
    pub(crate) conn: Connection,
    /// Set when the server stopped reading and writing on it (a stalled or silent peer).
    pub(crate) stalled: bool,
    /// Bytes for the link, taken by the simulator.
    pub(crate) outbox: Vec<u8>,
    /// The transport closes once the outbox is delivered.
    pub(crate) hang_up: bool,
    /// When the server drops this connection without a close frame (see [`Server::cut_after`]).
    pub(crate) cut_at: Option<Instant>,
}

/// The scriptable server: how it answers, what it sends, and everything it received.
///
/// The simulator ([`Sim`](super::Sim)) moves bytes between it and the client; scripting methods
/// that send take `now` (use [`Sim::now`](super::Sim::now)).
#[derive(Debug)]
pub struct Server {
    /// Accepts TCP connections at all (false: connects are refused, see [`stop`](Self::stop)).
    pub up: bool,
    /// How to answer opening requests.
    pub answer: Answer,
    /// Answers by request path (path and query, as the request line has it), taking
    /// precedence over [`answer`](Self::answer): a redirect at `/old`, a chain, a loop.
    pub routes: BTreeMap<String, Answer>,
    /// Echo every data message back (default true).
    pub echo: bool,
    /// Answer pings (false: a peer whose pongs never arrive).
    pub answer_pings: bool,
    /// Every data message received, in arrival order, over all connections.
    pub received: Vec<Message>,
    /// The same messages, each with the transport it arrived on.
    pub received_on: Vec<(TransportId, Message)>,
    /// Every opening request, in arrival order, with its transport.
    pub requests: Vec<(TransportId, Request)>,
    /// Open connections by transport.
    pub(crate) conns: BTreeMap<TransportId, ServerConn>,
    /// How many opening requests were accepted.
    pub accepted: u32,
    /// Connection attempts that reached the server (accepted TCP), refused ones excluded.
    pub tcp_accepts: u32,
    /// Drop every accepted connection (EOF without a close frame) this long after its 101.
    pub cut_after: Option<Duration>,
    config: Config,
    seed: u8,
}

impl Server {
    /// A server that is up, accepts without a subprotocol and echoes.
    pub fn new() -> Self {
        Server {
            up: true,
            answer: Answer::Accept(None),
            routes: BTreeMap::new(),
            echo: true,
            answer_pings: true,
            received: Vec::new(),
            received_on: Vec::new(),
            requests: Vec::new(),
            conns: BTreeMap::new(),
            accepted: 0,
            tcp_accepts: 0,
            cut_after: None,
            config: Config::default().max_fragments(1 << 20),
            seed: 0,
        }
    }

    /// How many connections the server holds open.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Whether the server holds connection `id` open.
    pub fn has_connection(&self, id: TransportId) -> bool {
        self.conns.contains_key(&id)
    }

    /// A TCP connection arrived.
    pub(crate) fn open(&mut self, id: TransportId, now: Instant) {
        self.seed = self.seed.wrapping_add(1);
        self.tcp_accepts += 1;
        self.conns.insert(
            id,
            ServerConn {
                conn: Connection::server(self.config.clone(), [self.seed; 32], now),
                stalled: false,
                outbox: Vec::new(),
                hang_up: false,
                cut_at: None,
            },
        );
    }

    /// Bytes from the client on connection `id`, as if they had crossed the link: the
    /// simulator delivers the client's writes this way, and a test can inject raw bytes.
    pub fn data(&mut self, id: TransportId, now: Instant, bytes: &[u8]) {
        if let Some(c) = self.conns.get_mut(&id).filter(|c| !c.stalled) {
            c.conn.handle_input(now, Input::Data(bytes));
        }
        self.pump(id, now);
    }

    /// The client closed its side.
    pub(crate) fn eof(&mut self, id: TransportId, now: Instant) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.conn.handle_input(now, Input::Eof);
        }
        self.pump(id, now);
        self.conns.remove(&id);
    }

    /// Runs a connection's events: answers requests, echoes, records messages.
    pub(crate) fn pump(&mut self, id: TransportId, now: Instant) {
        let Some(c) = self.conns.get_mut(&id) else { return };
        if c.stalled {
            return;
        }
        loop {
            while c.conn.poll_transmit(&mut c.outbox).is_some() {}
            let Some(event) = c.conn.poll_event() else { break };
            match event {
                Event::Request(request) => {
                    self.requests.push((id, request.clone()));
                    match self.routes.get(&request.path).unwrap_or(&self.answer) {
                        Answer::Accept(subprotocol) => {
                            self.accepted += 1;
                            c.conn.accept(now, &request, subprotocol.as_deref(), &[]);
                            c.cut_at = self.cut_after.map(|after| saturating_later(now, after));
                        }
                        Answer::Reject { status, headers } => {
                            let mut head = format!("HTTP/1.1 {status} Refused\r\nContent-Length: 0\r\n");
                            for (name, value) in headers {
                                head.push_str(&format!("{name}: {value}\r\n"));
                            }
                            head.push_str("\r\n");
                            c.outbox.extend_from_slice(head.as_bytes());
                            c.hang_up = true;
                            c.stalled = true;
                            return;
                        }
                        Answer::Silent => {
                            c.stalled = true;
                            return;
                        }
                        Answer::BadAccept => {
                            let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                                        Connection: Upgrade\r\nSec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
                            c.outbox.extend_from_slice(head.as_bytes());
                            c.stalled = true;
                            return;
                        }
                    }
                }
                Event::Message(message) => {
                    if self.echo {
                        c.conn.send(&message).ok();
                    }
                    self.received_on.push((id, message.clone()));
                    self.received.push(message);
                }
                Event::Ping(_) if !self.answer_pings => {
                    // Swallow the pong: the client sees a silent peer.
                    let mut discard = Vec::new();
                    while c.conn.poll_transmit(&mut discard).is_some() {}
                }
                Event::Closed(_) => c.hang_up = true,
                _ => {}
            }
        }
    }

    fn each(&mut self, now: Instant, mut action: impl FnMut(&mut Connection)) {
        let ids: Vec<TransportId> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.conns.get_mut(&id) {
                action(&mut c.conn);
            }
            self.pump(id, now);
        }
    }

    /// Sends a message on every open connection.
    pub fn broadcast(&mut self, message: &Message, now: Instant) {
        self.each(now, |conn| {
            conn.send(message).ok();
        });
    }

    /// Sends one binary message split into `fragments` on every open connection.
    pub fn send_fragments(&mut self, fragments: &[&[u8]], now: Instant) {
        self.each(now, |conn| {
            for (i, fragment) in fragments.iter().enumerate() {
                let opcode = if i == 0 { OpCode::Binary } else { OpCode::Continuation };
                conn.send_fragment(opcode, fragment, i + 1 == fragments.len()).ok();
            }
        });
    }

    /// Sends a ping with `payload` on every open connection.
    pub fn ping_all(&mut self, payload: &[u8], now: Instant) {
        self.each(now, |conn| {
            conn.ping(payload).ok();
        });
    }

    /// Starts a close handshake on every connection with `code` (a graceful restart uses 1001).
    pub fn close_all(&mut self, code: CloseCode, now: Instant) {
        self.close_all_with_reason(code, "server going away", now);
    }

    /// Starts a close handshake on every connection with `code` and `reason`.
    pub fn close_all_with_reason(&mut self, code: CloseCode, reason: &str, now: Instant) {
        self.each(now, |conn| {
            conn.close(now, code, reason).ok();
        });
    }

    /// Goes silent on every open connection: no reads, no writes, no pongs, no close.
    pub fn stall_all(&mut self) {
        for c in self.conns.values_mut() {
            c.stalled = true;
        }
    }

    /// Stops: refuses new connects until [`start`](Self::start). Open connections stay as they
    /// are; [`Sim::stop_server`](super::Sim::stop_server) also resets them.
    pub fn stop(&mut self) {
        self.up = false;
    }

    /// Comes back on the same address: accepts connects again.
    pub fn start(&mut self) {
        self.up = true;
    }

    /// The earliest deadline of any server connection (its own timers and its cut).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .values()
            .flat_map(|c| [c.conn.poll_timeout(), c.cut_at.filter(|_| !c.hang_up)])
            .flatten()
            .min()
    }

    /// Runs the server connections' timers.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let ids: Vec<TransportId> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.conns.get_mut(&id) {
                if c.cut_at.is_some_and(|d| d <= now) && !c.hang_up {
                    // Drop the transport without a close frame: the client sees EOF (1006).
                    c.cut_at = None;
                    c.stalled = true;
                    c.hang_up = true;
                    continue;
                }
                if c.conn.poll_timeout().is_some_and(|d| d <= now) {
                    c.conn.handle_timeout(now);
                }
            }
            self.pump(id, now);
        }
    }
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}
