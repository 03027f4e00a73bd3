//! The simulator: a client [`Session`] and a scriptable [`Server`] joined by a [`Link`], on a
//! virtual [`Clock`] that jumps from deadline to deadline.

use std::time::{Duration, Instant};

use std::ops::{Deref, DerefMut};

use super::clock::Clock;
use super::network::{Arrival, Network};
use super::scenarios::Simulation;
use crate::rng::Rng;
use crate::session::{Output, SessionEvent, TransportInput};
use crate::{
    DisconnectReason, Message, MessageId, Session, SessionConfig, SessionSendError, SessionState, TransportError,
    TransportErrorKind, TransportId, WsUrl, saturating_later,
};

/// A bound on the work done at one run, so a session that never settles fails loudly instead
/// of spinning forever.
const MAX_STEPS: u64 = 50_000_000;

/// A session, a server and a link on a virtual clock: the simulator.
///
/// Nothing moves until asked: [`run_for`](Self::run_for), [`run_to`](Self::run_to),
/// [`run_until`](Self::run_until) and [`run_until_open`](Self::run_until_open) handle every
/// delivery and timer in order, jumping the clock from one deadline to the next, so hours of
/// virtual time take milliseconds; [`advance`](Self::advance) jumps the clock without running
/// anything in between (a suspended laptop). Everything the client did is recorded in the
/// public fields; script the server through [`sim.server`](Network::server) and the network through
/// [`sim.link`](Network::link) (`Sim` dereferences to its [`Network`]). Every run with the same seed and the same script is the same run.
#[derive(Debug)]
pub struct Sim {
    /// The client session under test.
    pub session: Session,
    /// The server and the link; `Sim` dereferences to it, so `sim.server` and `sim.link` are
    /// its fields.
    pub network: Network,
    /// Every event the session reported, with its time.
    pub events: Vec<(Instant, SessionEvent)>,
    /// When the session asked for a transport (`Output::Connect`).
    pub connects: Vec<Instant>,
    /// `Output::Connect` requests with their transport.
    pub connect_ids: Vec<(Instant, TransportId)>,
    /// The URL of each `Output::Connect`, in order (the server answers every one of them).
    pub connect_urls: Vec<WsUrl>,
    /// `Output::Disconnect` requests with their transport.
    pub disconnect_ids: Vec<(Instant, TransportId)>,
    /// Ids of messages handed to the transport (`SessionEvent::Sent`), in order.
    pub sent: Vec<MessageId>,
    /// Ids of messages handed back (`SessionEvent::HandedBack`), in order.
    pub handed_back: Vec<MessageId>,
    /// Data messages the session received.
    pub received: Vec<Message>,
    /// When bytes from the server reached the client (each delivery on the link).
    pub client_reads: Vec<Instant>,
    clock: Clock,
    live: Option<TransportId>,
    buf: Vec<u8>,
    steps: u64,
}

impl Sim {
    /// A simulator starting at `start`: a session with `config` seeded with `seed`, a server
    /// that accepts and echoes, and a [`Link`](super::Link) whose random draws derive from the same seed.
    /// The session is idle: call `sim.session.connect(sim.now())` to start it.
    pub fn new(config: SessionConfig, seed: [u8; 32], start: Instant) -> Self {
        let link_seed = Rng::from_seed(seed).fork_seed();
        Sim {
            session: Session::new(config, seed, start),
            network: Network::new(link_seed),
            events: Vec::new(),
            connects: Vec::new(),
            connect_ids: Vec::new(),
            connect_urls: Vec::new(),
            disconnect_ids: Vec::new(),
            sent: Vec::new(),
            handed_back: Vec::new(),
            received: Vec::new(),
            client_reads: Vec::new(),
            clock: Clock::new(start),
            live: None,
            buf: Vec::new(),
            steps: 0,
        }
    }

    /// The virtual now.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The instant the simulation started at.
    pub fn start(&self) -> Instant {
        self.clock.start()
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// The transport the session is using, if any.
    pub fn live_transport(&self) -> Option<TransportId> {
        self.live
    }

    /// Whether the session currently has a transport.
    pub fn has_transport(&self) -> bool {
        self.live.is_some()
    }

    /// How many deliveries are in flight on the link.
    pub fn pending(&self) -> usize {
        self.link.pending()
    }

    /// Records bytes the client wrote to `id` and puts them on the link.
    fn write(&mut self, id: TransportId, bytes: Vec<u8>) {
        let now = self.clock.now();
        self.network.write(now, id, bytes);
    }

    /// Handles everything that needs no time to pass (session outputs, server replies) until
    /// nothing moves. The run methods call it; call it yourself after poking the session
    /// directly if you read the records before the next run.
    pub fn settle(&mut self) {
        loop {
            self.steps += 1;
            assert!(self.steps < MAX_STEPS, "the simulation does not settle");
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
            moved |= self.network.settle(self.clock.now());
            if !moved {
                return;
            }
        }
    }

    fn on_output(&mut self, output: Output) {
        let now = self.clock.now();
        match output {
            Output::Connect { id, url } => {
                self.connect_urls.push(url);
                self.connects.push(now);
                self.connect_ids.push((now, id));
                self.live = Some(id);
                self.network.open(now, id);
            }
            Output::Disconnect { id } => {
                self.disconnect_ids.push((now, id));
                while self.session.poll_transmit(&mut self.buf).is_some() {
                    let bytes = std::mem::take(&mut self.buf);
                    self.write(id, bytes);
                }
                self.network.finish(now, id);
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
                self.events.push((now, event));
            }
        }
    }

    fn arrive(&mut self, arrival: Arrival) {
        let now = self.clock.now();
        match arrival {
            Arrival::Connected(id) => self.session.handle_transport(now, id, TransportInput::Connected),
            Arrival::Failed(id, kind) => {
                let message = match kind {
                    TransportErrorKind::Refused => "connection refused",
                    TransportErrorKind::Reset => "connection reset by peer",
                    _ => "simulated transport failure",
                };
                let error = TransportError::new(kind, message);
                self.session.handle_transport(now, id, TransportInput::Failed(&error));
            }
            Arrival::Data(id, bytes) => {
                self.client_reads.push(now);
                self.session.handle_transport(now, id, TransportInput::Data(&bytes));
            }
            Arrival::Eof(id) => self.session.handle_transport(now, id, TransportInput::Eof),
        }
    }

    /// The next instant anything is due: a session timer, a server timer or a delivery.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.session.poll_timeout(), self.network.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// One step: settles, then, if the next deadline is not after `until`, moves the clock to it
    /// and handles everything due. Returns false (the clock unmoved) when nothing is due by
    /// `until`.
    pub fn step(&mut self, until: Instant) -> bool {
        self.settle();
        match self.next_deadline() {
            Some(next) if next <= until => {
                self.clock.advance_to(next);
                self.handle_due();
                true
            }
            _ => false,
        }
    }

    /// Handles everything due at the current instant.
    fn handle_due(&mut self) {
        let now = self.clock.now();
        while let Some(arrival) = self.network.poll_arrival(now) {
            self.arrive(arrival);
            self.settle();
        }
        if self.session.poll_timeout().is_some_and(|d| d <= now) {
            self.session.handle_timeout(now);
        }
        self.network.handle_timeout(now);
    }

    /// Runs everything due up to `at`, jumping from deadline to deadline, and leaves the clock
    /// at `at` (or where it is, if that is later).
    pub fn run_to(&mut self, at: Instant) {
        while self.step(at) {}
        self.clock.advance_to(at);
    }

    /// Runs for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        Simulation::run_for(self, duration);
    }

    /// Runs until `condition` holds (checked whenever nothing more is due at an instant), at most
    /// `limit` of virtual time; returns whether it holds. On false the clock stands at the limit.
    pub fn run_until(&mut self, limit: Duration, mut condition: impl FnMut(&Sim) -> bool) -> bool {
        let until = saturating_later(self.clock.now(), limit);
        loop {
            self.settle();
            if condition(self) {
                return true;
            }
            if !self.step(until) {
                self.clock.advance_to(until);
                self.settle();
                return condition(self);
            }
        }
    }

    /// Runs until the session is open, at most `limit`; returns whether it is.
    pub fn run_until_open(&mut self, limit: Duration) -> bool {
        let until = saturating_later(self.clock.now(), limit);
        while self.clock.now() < until {
            self.settle();
            if *self.session.state() == SessionState::Open {
                return true;
            }
            let Some(next) = self.next_deadline() else { break };
            self.run_to(next.min(until));
        }
        *self.session.state() == SessionState::Open
    }

    /// Jumps the clock forward by `by` without running anything in between (a suspended
    /// laptop, a stopped VM), then lets the session see the new time.
    pub fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        self.session.handle_timeout(self.clock.now());
        self.settle();
    }

    /// Sends a message from the application and settles.
    pub fn send(&mut self, message: Message) -> Result<MessageId, SessionSendError> {
        let id = self.session.send(message)?;
        self.settle();
        Ok(id)
    }

    /// Cuts every connection (the server drops its sockets): the bytes in flight are lost and
    /// the client sees EOF without a close frame (`DisconnectReason::Reset`, close code 1006).
    pub fn cut(&mut self) {
        let now = self.clock.now();
        self.network.cut(now);
    }

    /// Resets every connection with a TCP reset (a killed server process, a middlebox dropping
    /// state): the bytes in flight are lost, the server forgets its connections, and the client
    /// sees a transport failure of kind [`TransportErrorKind::Reset`] rather than an EOF.
    pub fn reset(&mut self) {
        let now = self.clock.now();
        self.network.reset(now);
    }

    /// Stops the server: every connection is cut (EOF without a close frame) and connects are
    /// refused until [`start_server`](Self::start_server).
    pub fn stop_server(&mut self) {
        Simulation::stop_server(self);
    }

    /// The server comes back on the same address.
    pub fn start_server(&mut self) {
        Simulation::start_server(self);
    }

    /// Ends the live transport right now, before anything more is written: bytes on the link
    /// are lost, the server's side is gone, and the session sees EOF (`failure: None`) or a
    /// transport failure of that kind at once. Returns whether there was a live transport.
    pub fn end_transport_now(&mut self, failure: Option<TransportErrorKind>) -> bool {
        let Some(id) = self.live else { return false };
        self.network.forget(id);
        let now = self.clock.now();
        match failure {
            None => self.session.handle_transport(now, id, TransportInput::Eof),
            Some(kind) => {
                let error = TransportError::new(kind, "simulated transport failure");
                self.session.handle_transport(now, id, TransportInput::Failed(&error));
            }
        }
        true
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

    /// The first event matching `pred`, with its time.
    pub fn find_event(&self, mut pred: impl FnMut(&SessionEvent) -> bool) -> Option<(Instant, &SessionEvent)> {
        self.events.iter().find(|(_, e)| pred(e)).map(|(t, e)| (*t, e))
    }

    /// Every `Disconnected` event: when, why, and when the next attempt starts (`None`: for good).
    pub fn disconnects(&self) -> Vec<(Instant, DisconnectReason, Option<Instant>)> {
        self.events
            .iter()
            .filter_map(|(t, e)| match e {
                SessionEvent::Disconnected { reason, retry_at, .. } => Some((*t, reason.clone(), *retry_at)),
                _ => None,
            })
            .collect()
    }

    /// When the first heartbeat failure (`DisconnectReason::PongTimeout`) was reported.
    pub fn pong_timeout_at(&self) -> Option<Instant> {
        self.disconnects()
            .into_iter()
            .find(|(_, reason, _)| *reason == DisconnectReason::PongTimeout)
            .map(|(t, _, _)| t)
    }
}

impl Deref for Sim {
    type Target = Network;

    fn deref(&self) -> &Network {
        &self.network
    }
}

impl DerefMut for Sim {
    fn deref_mut(&mut self) -> &mut Network {
        &mut self.network
    }
}

impl Simulation for Sim {
    fn now(&self) -> Instant {
        Sim::now(self)
    }

    fn run_to(&mut self, at: Instant) {
        Sim::run_to(self, at);
    }

    fn network(&mut self) -> &mut Network {
        &mut self.network
    }
}
