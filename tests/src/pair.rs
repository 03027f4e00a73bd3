//! The virtual-time harness: a [`Session`], an in-memory [`Server`] and a link with latency
//! between them. Time jumps to the next deadline, so hours of simulated time run in
//! milliseconds; nothing sleeps.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use resock_core::session::{Output, SessionEvent, TransportInput};
use resock_core::{
    DisconnectReason, Message, MessageId, Session, SessionConfig, SessionState, TransportError, TransportErrorKind,
    TransportId,
};

use crate::server::Server;
use crate::wire::{self, ClientStream, Frame};

/// Something in flight on the link, due at an instant.
#[derive(Debug)]
enum Delivery {
    /// The TCP handshake finished (or was refused) for the client.
    ClientConnect(TransportId, Result<(), TransportErrorKind>),
    /// Bytes for the client.
    ToClient(TransportId, Vec<u8>),
    /// The server closed the transport.
    ClientEof(TransportId),
    /// A new TCP connection reaches the server.
    ServerOpen(TransportId),
    /// Bytes for the server.
    ToServer(TransportId, Vec<u8>),
    /// The client closed the transport.
    ServerEof(TransportId),
}

/// A session and a server joined by a link, on a virtual clock.
pub struct Pair {
    /// The virtual now.
    pub now: Instant,
    /// The time the pair started.
    pub start: Instant,
    /// The client session under test.
    pub session: Session,
    /// The in-memory server.
    pub server: Server,
    /// One-way latency of the link.
    pub latency: Duration,
    /// When false, bytes in both directions are silently lost (a black hole).
    pub link_up: bool,
    /// What a connect to a server that is down reports, after 2x latency (default
    /// `Refused`; e.g. `TlsCertificate` for a server with an untrusted certificate).
    pub refusal: TransportErrorKind,
    /// Every event and state the session reported, with its time.
    pub events: Vec<(Instant, SessionEvent)>,
    /// `Connect` outputs seen, with their time.
    pub connects: Vec<Instant>,
    /// Ids of messages handed to the transport, in order.
    pub sent: Vec<MessageId>,
    /// Ids of messages handed back.
    pub handed_back: Vec<MessageId>,
    /// Data messages the session received.
    pub received: Vec<Message>,
    /// Every frame the client wrote, decoded independently of resock-core, with its transport.
    pub frames: Vec<(Instant, TransportId, Frame)>,
    /// `Connect` outputs with their transport.
    pub connect_ids: Vec<(Instant, TransportId)>,
    /// `Disconnect` outputs with their transport.
    pub disconnect_ids: Vec<(Instant, TransportId)>,
    /// When bytes from the server reached the client (each delivery on the link).
    pub client_reads: Vec<Instant>,
    streams: BTreeMap<TransportId, ClientStream>,
    in_flight: BTreeMap<(Instant, u64), Delivery>,
    seq: u64,
    live: Option<TransportId>,
    buf: Vec<u8>,
    steps: u64,
}

impl Pair {
    /// A pair whose session connects to a default echo server, with 5 ms latency.
    pub fn new(config: SessionConfig) -> Self {
        Self::with_seed(config, [7; 32])
    }

    /// Like [`new`](Self::new) with a chosen seed for the session's CSPRNG.
    pub fn with_seed(config: SessionConfig, seed: [u8; 32]) -> Self {
        let now = Instant::now();
        let mut pair = Pair {
            now,
            start: now,
            session: Session::new(config, seed, now),
            server: Server::new(),
            latency: Duration::from_millis(5),
            link_up: true,
            refusal: TransportErrorKind::Refused,
            events: Vec::new(),
            connects: Vec::new(),
            sent: Vec::new(),
            handed_back: Vec::new(),
            received: Vec::new(),
            frames: Vec::new(),
            connect_ids: Vec::new(),
            disconnect_ids: Vec::new(),
            client_reads: Vec::new(),
            streams: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            seq: 0,
            live: None,
            buf: Vec::new(),
            steps: 0,
        };
        pair.session.connect(now);
        pair
    }

    /// The default config for `ws://server.test/`.
    pub fn config() -> SessionConfig {
        SessionConfig::new("ws://server.test/".parse().unwrap())
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn schedule(&mut self, after: Duration, delivery: Delivery) {
        self.seq += 1;
        self.in_flight.insert((self.now + after, self.seq), delivery);
    }

    /// Logs the frames in `bytes` the client wrote to `id` and puts the bytes on the link.
    fn write(&mut self, id: TransportId, bytes: Vec<u8>) {
        for frame in self.streams.entry(id).or_default().feed(&bytes) {
            self.frames.push((self.now, id, frame));
        }
        if self.link_up {
            self.schedule(self.latency, Delivery::ToServer(id, bytes));
        }
    }

    /// Handles everything due now until nothing moves.
    fn settle(&mut self) {
        loop {
            self.steps += 1;
            assert!(self.steps < 50_000_000, "the pair does not settle");
            let mut moved = false;
            while let Some(output) = self.session.poll_output() {
                moved = true;
                self.on_output(output);
            }
            while self.session.poll_transmit(&mut self.buf).is_some() {
                moved = true;
                let bytes = std::mem::take(&mut self.buf);
                if let Some(id) = self.live {
                    self.write(id, bytes);
                }
            }
            let ids: Vec<TransportId> = self.server.conns.keys().copied().collect();
            for id in ids {
                self.server.pump(id, self.now);
                let Some(c) = self.server.conns.get_mut(&id) else {
                    continue;
                };
                if !c.outbox.is_empty() {
                    moved = true;
                    let bytes = std::mem::take(&mut c.outbox);
                    if self.link_up {
                        self.schedule(self.latency, Delivery::ToClient(id, bytes));
                    }
                }
                let c = &self.server.conns[&id];
                if c.hang_up || c.conn.is_finished() {
                    moved = true;
                    self.server.conns.remove(&id);
                    self.schedule(self.latency, Delivery::ClientEof(id));
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn on_output(&mut self, output: Output) {
        match output {
            Output::Connect { id, .. } => {
                self.connects.push(self.now);
                self.connect_ids.push((self.now, id));
                self.live = Some(id);
                if self.server.up && self.link_up {
                    self.schedule(self.latency, Delivery::ServerOpen(id));
                    self.schedule(self.latency * 2, Delivery::ClientConnect(id, Ok(())));
                } else if self.server.up {
                    // A black-holed SYN: nothing ever answers; the open timeout must fire.
                } else {
                    self.schedule(self.latency * 2, Delivery::ClientConnect(id, Err(self.refusal)));
                }
            }
            Output::Disconnect { id } => {
                self.disconnect_ids.push((self.now, id));
                while self.session.poll_transmit(&mut self.buf).is_some() {
                    let bytes = std::mem::take(&mut self.buf);
                    self.write(id, bytes);
                }
                self.streams.remove(&id);
                self.schedule(self.latency, Delivery::ServerEof(id));
                if self.live == Some(id) {
                    self.live = None;
                }
            }
            Output::Event(event) => {
                match &event {
                    SessionEvent::Sent(id) => self.sent.push(*id),
                    SessionEvent::HandedBack { id, .. } => self.handed_back.push(*id),
                    SessionEvent::Message(m) => self.received.push(m.clone()),
                    _ => {}
                }
                self.events.push((self.now, event));
            }
            _ => {}
        }
    }

    fn deliver(&mut self, delivery: Delivery) {
        let now = self.now;
        match delivery {
            Delivery::ClientConnect(id, Ok(())) => self.session.handle_transport(now, id, TransportInput::Connected),
            Delivery::ClientConnect(id, Err(kind)) => {
                let message = match kind {
                    TransportErrorKind::Refused => "connection refused",
                    _ => "simulated transport failure",
                };
                let error = TransportError::new(kind, message);
                self.session.handle_transport(now, id, TransportInput::Failed(&error));
            }
            Delivery::ToClient(id, bytes) => {
                self.client_reads.push(now);
                self.session.handle_transport(now, id, TransportInput::Data(&bytes));
            }
            Delivery::ClientEof(id) => self.session.handle_transport(now, id, TransportInput::Eof),
            Delivery::ServerOpen(id) => self.server.open(id, now),
            Delivery::ToServer(id, bytes) => self.server.data(id, now, &bytes),
            Delivery::ServerEof(id) => self.server.eof(id, now),
        }
    }

    /// The next instant anything is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.session.poll_timeout(),
            self.server.poll_timeout(),
            self.in_flight.keys().next().map(|(t, _)| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs until `until` (virtual), jumping from deadline to deadline.
    pub fn run_until(&mut self, until: Instant) {
        loop {
            self.settle();
            let Some(next) = self.next_deadline() else {
                self.now = self.now.max(until);
                return;
            };
            if next > until {
                self.now = self.now.max(until);
                return;
            }
            self.now = self.now.max(next);
            self.step_due();
        }
    }

    /// Runs for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        let until = self.now + duration;
        self.run_until(until);
    }

    /// Handles everything due at the current instant.
    fn step_due(&mut self) {
        let now = self.now;
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let delivery = entry.remove();
            self.deliver(delivery);
            self.settle();
        }
        if self.session.poll_timeout().is_some_and(|d| d <= now) {
            self.session.handle_timeout(now);
        }
        if self.server.poll_timeout().is_some_and(|d| d <= now) {
            self.server.handle_timeout(now);
        }
    }

    /// Jumps the clock forward without running anything in between (a suspended laptop),
    /// then lets the session see the new time.
    pub fn jump(&mut self, by: Duration) {
        self.now += by;
        self.session.handle_timeout(self.now);
        self.settle();
    }

    /// Runs until the session is open, at most `limit`.
    pub fn run_until_open(&mut self, limit: Duration) -> bool {
        let until = self.now + limit;
        while self.now < until {
            self.settle();
            if *self.session.state() == SessionState::Open {
                return true;
            }
            let Some(next) = self.next_deadline() else { break };
            self.run_until(next.min(until));
        }
        *self.session.state() == SessionState::Open
    }

    /// Runs until `cond` holds (checked whenever nothing is left to do at an instant), at
    /// most `limit` of virtual time; returns whether it holds.
    pub fn run_until_cond(&mut self, limit: Duration, mut cond: impl FnMut(&Pair) -> bool) -> bool {
        let until = self.now + limit;
        loop {
            self.settle();
            if cond(self) {
                return true;
            }
            match self.next_deadline() {
                Some(next) if next <= until => {
                    self.now = self.now.max(next);
                    self.step_due();
                }
                _ => {
                    self.now = self.now.max(until);
                    self.settle();
                    return cond(self);
                }
            }
        }
    }

    /// When the first heartbeat failure (`DisconnectReason::PongTimeout`) was reported.
    pub fn pong_timeout_at(&self) -> Option<Instant> {
        self.find_event(|e| {
            matches!(
                e,
                SessionEvent::Disconnected {
                    reason: DisconnectReason::PongTimeout,
                    ..
                }
            )
        })
        .map(|(t, _)| t)
    }

    /// Every `Disconnected` event: when, why, and when the next attempt starts (`None`: for good).
    /// Checks on the way that the scheduled delay it carries is `retry_at` minus its instant.
    pub fn disconnects(&self) -> Vec<(Instant, DisconnectReason, Option<Instant>)> {
        self.events
            .iter()
            .filter_map(|(t, e)| match e {
                SessionEvent::Disconnected {
                    reason,
                    retry_at,
                    retry_in,
                } => {
                    assert_eq!(*retry_in, retry_at.map(|at| at - *t), "{reason:?} at {t:?}");
                    Some((*t, reason.clone(), *retry_at))
                }
                _ => None,
            })
            .collect()
    }

    /// The attempt numbers of the `Connecting` states, in order.
    pub fn attempts(&self) -> Vec<u32> {
        self.states()
            .into_iter()
            .filter_map(|s| match s {
                SessionState::Connecting { attempt, .. } => Some(attempt),
                _ => None,
            })
            .collect()
    }

    /// Cuts the transport abruptly: both sides see EOF, in-flight bytes are lost.
    pub fn cut(&mut self) {
        self.in_flight
            .retain(|_, d| !matches!(d, Delivery::ToClient(..) | Delivery::ToServer(..)));
        let ids: Vec<TransportId> = self.server.conns.keys().copied().collect();
        for id in ids {
            self.server.conns.remove(&id);
            self.schedule(Duration::ZERO, Delivery::ClientEof(id));
        }
    }

    /// Ends the live transport right now, before the driver writes anything more (no
    /// `poll_transmit` in between): bytes on the link are lost, the server's side is gone, and
    /// the session sees EOF (`failure: None`) or a transport failure of that kind at once.
    /// Returns whether there was a live transport to end.
    pub fn end_transport_now(&mut self, failure: Option<TransportErrorKind>) -> bool {
        let Some(id) = self.live else { return false };
        self.in_flight
            .retain(|_, d| !matches!(d, Delivery::ToClient(on, _) | Delivery::ToServer(on, _) if *on == id));
        self.server.conns.remove(&id);
        let now = self.now;
        match failure {
            None => self.session.handle_transport(now, id, TransportInput::Eof),
            Some(kind) => {
                let error = TransportError::new(kind, "simulated transport failure");
                self.session.handle_transport(now, id, TransportInput::Failed(&error));
            }
        }
        true
    }

    /// Sends a message from the application; panics if the session refuses it.
    pub fn send(&mut self, message: Message) -> MessageId {
        let id = self.session.send(message).expect("send refused");
        self.settle();
        id
    }

    /// The state changes the session reported, in order.
    pub fn states(&self) -> Vec<SessionState> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                SessionEvent::StateChanged(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// Times at which the client wrote frames with `opcode`.
    pub fn frame_times(&self, opcode: u8) -> Vec<Instant> {
        self.frames
            .iter()
            .filter(|(_, _, f)| f.opcode == opcode)
            .map(|(t, _, _)| *t)
            .collect()
    }

    /// Times at which the client wrote pings.
    pub fn pings(&self) -> Vec<Instant> {
        self.frame_times(wire::PING)
    }

    /// The close frames the client wrote: time, transport and frame.
    pub fn close_frames(&self) -> Vec<(Instant, TransportId, Frame)> {
        self.frames
            .iter()
            .filter(|(_, _, f)| f.opcode == wire::CLOSE)
            .cloned()
            .collect()
    }

    /// The first event matching `pred`, with its time.
    pub fn find_event(&self, mut pred: impl FnMut(&SessionEvent) -> bool) -> Option<(Instant, &SessionEvent)> {
        self.events.iter().find(|(_, e)| pred(e)).map(|(t, e)| (*t, e))
    }

    /// Messages the server received, as text.
    pub fn server_texts(&self) -> Vec<String> {
        texts(&self.server.received)
    }

    /// Pending deliveries (for assertions about a quiet link).
    pub fn pending(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether the session currently has a transport.
    pub fn has_transport(&self) -> bool {
        self.live.is_some()
    }
}

/// The texts of text messages.
pub fn texts(messages: &[Message]) -> Vec<String> {
    messages.iter().filter_map(|m| m.as_text().map(str::to_owned)).collect()
}

/// Delays between consecutive `Connect` outputs.
pub fn gaps(instants: &[Instant]) -> VecDeque<Duration> {
    instants.windows(2).map(|w| w[1] - w[0]).collect()
}
