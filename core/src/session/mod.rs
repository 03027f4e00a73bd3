//! The session: a connection that stays up. It owns at most one [`Connection`] at a time and
//! adds reconnection with backoff and jitter, a heartbeat, a bounded outbound queue that
//! survives reconnects, and events a UI can show. It follows redirects of the opening handshake
//! ([`RedirectPolicy`]) by asking for the next transport at the new URL. Still sans-IO: the
//! driver opens transports when asked ([`Output::Connect`]), and time and randomness come in
//! from outside.

mod certificate;
mod config;
mod error;
mod event;
pub(crate) mod heartbeat;
#[cfg(test)]
mod heartbeat_tests;
mod lifecycle;
mod metrics;
mod policy;
mod queue;
mod redirect;
#[cfg(feature = "json")]
mod typed;
mod validate;

pub use certificate::{CertificateError, CertificateErrorKind};
pub use config::{ClassifyHook, HeartbeatConfig, OverflowPolicy, QueueConfig, ReconnectPolicy, SessionConfig};
pub use error::{ConnectError, Error, SessionSendError, TimeoutKind};
pub use event::{ClosedReason, HandBackReason, HandedBack, Output, SessionEvent, SessionState, TransportId};
pub use heartbeat::Rtt;
pub use metrics::Metrics;
pub use policy::{Decision, DisconnectReason, TransportError, TransportErrorKind, backoff_delay, retry_after};
pub use queue::{MessageId, Queued};
pub use redirect::{RedirectChain, RedirectError, RedirectErrorKind, RedirectPolicy};
#[cfg(feature = "json")]
pub use typed::TypedSendError;
pub use validate::ConfigError;

use std::collections::VecDeque;
use std::time::Instant;

use crate::close::CloseCode;
use crate::connection::Connection;
use crate::message::Message;
use crate::rng::Rng;

use heartbeat::Heartbeat;
use metrics::Counters;
use queue::{OutboundQueue, Refusal};

/// What the driver observed on the transport it opened for an [`Output::Connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportInput<'a> {
    /// The transport (TCP, plus TLS for `wss`) is up.
    Connected,
    /// Bytes read from it.
    Data(&'a [u8]),
    /// The peer closed it.
    Eof,
    /// Opening, reading or writing failed.
    Failed(&'a TransportError),
}

/// Bytes of queued messages encoded per `poll_transmit` call, so one call never builds an
/// unbounded buffer; the driver calls it until it returns `None`.
const TRANSMIT_BATCH: usize = 64 * 1024;

/// A WebSocket client session that stays connected.
///
/// # Run loop
/// Call [`connect`](Self::connect) once. Then, after every input (`handle_transport`,
/// `handle_timeout`) and command (`send`, `close`), drain until nothing is left:
/// 1. [`poll_output`](Self::poll_output): events for the application, and `Connect` /
///    `Disconnect` for the driver (on `Disconnect`, drain `poll_transmit` first, then close);
/// 2. [`poll_transmit`](Self::poll_transmit): bytes for the current transport;
/// 3. [`poll_timeout`](Self::poll_timeout): when to call `handle_timeout` next.
///
/// # Guarantees
/// Every message accepted by `send` gets an id and ends in exactly one of
/// [`SessionEvent::Sent`] (its bytes were taken by `poll_transmit`) or
/// [`SessionEvent::HandedBack`]. Messages wait in the queue, in order, while disconnected.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    /// The seed of the session's randomness (jitter, connection seeds). A generator is built
    /// from it when needed and the seed ratcheted forward, so an idle session holds 32 bytes
    /// instead of a whole ChaCha state (each connection has its own generator).
    seed: [u8; 32],
    state: SessionState,
    conn: Option<Connection>,
    transport: Option<TransportId>,
    next_transport: u64,
    queue: OutboundQueue,
    /// Messages encoded into the connection but not yet taken by `poll_transmit`.
    in_flight: Vec<Queued>,
    /// Last bytes of a dropped connection (a close frame), written before its `Disconnect`.
    final_tx: Vec<u8>,
    heartbeat: Heartbeat,
    outputs: VecDeque<Output>,
    open_deadline: Option<Instant>,
    retry_at: Option<Instant>,
    healthy_at: Option<Instant>,
    /// Consecutive attempts that did not reach a healthy connection (bounded by `max_attempts`).
    failures: u32,
    /// Retries scheduled since the last healthy connection: the backoff exponent.
    retries: u32,
    /// The current connection stayed open `healthy_after`; its drop is not a failed attempt.
    healthy: bool,
    first_failure_at: Option<Instant>,
    user_close: Option<(CloseCode, String)>,
    pending_failure: Option<DisconnectReason>,
    above_high_water: bool,
    /// Extra handshake headers for one transport, set by the driver for that attempt.
    attempt_headers: Option<(TransportId, Vec<(String, String)>)>,
    /// The redirects followed in the current attempt (cleared when an attempt starts).
    hops: RedirectChain,
    /// What the server agreed for the current connection, from its opening until it is
    /// dropped (boxed: a session without an open connection holds one pointer).
    agreed: Option<Box<Agreed>>,
    counters: Counters,
    now: Instant,
    /// Drained buffers keep their allocations (see [`keep_buffers`](Self::keep_buffers)).
    keep_buffers: bool,
    /// `SessionEvent::Sent` is reported (see [`report_sent`](Self::report_sent)).
    reports_sent: bool,
}

/// What the server agreed for a connection in its handshake.
#[derive(Debug)]
struct Agreed {
    subprotocol: Option<String>,
    deflate: Option<crate::extension::DeflateParams>,
}

impl Session {
    /// A session in [`SessionState::Idle`]; `seed` feeds its CSPRNG (take it from the OS).
    pub fn new(config: SessionConfig, seed: [u8; 32], now: Instant) -> Self {
        let heartbeat = Heartbeat::new(config.heartbeat.clone());
        let queue = OutboundQueue::new(config.queue.clone());
        Session {
            config,
            seed,
            state: SessionState::Idle,
            conn: None,
            agreed: None,
            transport: None,
            next_transport: 0,
            queue,
            in_flight: Vec::new(),
            final_tx: Vec::new(),
            heartbeat,
            outputs: VecDeque::new(),
            open_deadline: None,
            retry_at: None,
            healthy_at: None,
            failures: 0,
            retries: 0,
            healthy: false,
            first_failure_at: None,
            user_close: None,
            pending_failure: None,
            above_high_water: false,
            attempt_headers: None,
            hops: RedirectChain::default(),
            counters: Counters::default(),
            now,
            keep_buffers: false,
            reports_sent: true,
        }
    }

    // ----- getters -----

    /// The current state.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Latest and smoothed round-trip times of heartbeat pings.
    pub fn rtt(&self) -> Option<Rtt> {
        self.heartbeat.rtt()
    }

    /// The subprotocol the server agreed for the current connection, from its opening until
    /// it is dropped; `None` without an open connection or when none was agreed.
    pub fn subprotocol(&self) -> Option<&str> {
        self.agreed.as_ref()?.subprotocol.as_deref()
    }

    /// permessage-deflate as agreed for the current connection, from its opening until it is
    /// dropped; `None` without an open connection or when its messages go uncompressed. Its
    /// `Display` is the `Sec-WebSocket-Extensions` value.
    pub fn deflate(&self) -> Option<crate::extension::DeflateParams> {
        self.agreed.as_ref()?.deflate
    }

    /// Whether [`poll_output`](Self::poll_output) reports [`SessionEvent::Sent`] (see
    /// [`report_sent`](Self::report_sent)).
    pub fn reports_sent(&self) -> bool {
        self.reports_sent
    }

    /// Messages waiting in the outbound queue.
    pub fn queued_messages(&self) -> usize {
        self.queue.len() + self.in_flight.len()
    }

    /// Bytes accepted but not yet taken by `poll_transmit` (queued payloads plus encoded bytes).
    pub fn buffered_amount(&self) -> usize {
        self.queue.bytes() + self.final_tx.len() + self.conn.as_ref().map_or(0, |c| c.buffered_amount())
    }

    /// False while more than the high-water mark is waiting; a `Writable` event follows.
    pub fn is_writable(&self) -> bool {
        !self.above_high_water
    }

    /// The transport the session currently wants, if any.
    pub fn transport(&self) -> Option<TransportId> {
        self.transport
    }

    /// The number of consecutive failed attempts since the last healthy connection.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// What the session has done so far: messages and bytes each way, connections and
    /// reconnects, and the queue and RTT now.
    pub fn metrics(&self) -> Metrics {
        let c = self.counters;
        Metrics {
            messages_in: c.messages_in,
            bytes_in: c.bytes_in,
            messages_out: c.messages_out,
            bytes_out: c.bytes_out,
            connections: c.connections,
            reconnects: c.connections.saturating_sub(1),
            queue_depth: self.queue.len(),
            queued_bytes: self.buffered_amount(),
            rtt: self.heartbeat.rtt().map(|rtt| rtt.smoothed),
            events_skipped: 0,
            messages_dropped: 0,
        }
    }

    // ----- commands -----

    /// Adds `headers` to the opening handshake of transport `id` only, after the configured
    /// ones: per-attempt values such as a fresh auth token. Call it after
    /// [`Output::Connect`] names `id` and before reporting `Connected`; for any other
    /// transport it does nothing.
    pub fn set_attempt_headers(&mut self, id: TransportId, headers: Vec<(String, String)>) {
        if self.transport == Some(id) && self.conn.is_none() {
            self.attempt_headers = Some((id, headers));
        }
    }

    /// Tells the session whether the driver reads the transport. A driver that stops reading
    /// because its application is behind (backpressure on received messages) says `false`:
    /// silence then proves nothing about the peer, so the heartbeat suspends its pong deadline
    /// (pings still go out). With `true` again the peer gets a full pong timeout from `now`.
    /// Reading is assumed from the start; the setting holds across reconnects.
    pub fn set_reading(&mut self, now: Instant, reading: bool) {
        self.now = now;
        self.heartbeat.set_reading(now, reading);
    }

    /// Whether [`poll_output`](Self::poll_output) reports a [`SessionEvent::Sent`] for each
    /// message written (by default `true`). A driver whose application has nobody listening
    /// for it says `false`, which spares an output per message on the hot path, and `true`
    /// again as soon as someone listens: messages taken by
    /// [`poll_transmit`](Self::poll_transmit) from then on are reported. Counters count either
    /// way, and messages never written are handed back either way
    /// ([`SessionEvent::HandedBack`]). The setting holds across reconnects.
    pub fn report_sent(&mut self, report: bool) {
        self.reports_sent = report;
    }

    /// Whether drained buffers keep their allocations for the next batch. By default (`false`)
    /// each buffer is freed as soon as it is drained (the frames being written, the list of
    /// messages in flight, the queue of outputs, the receive buffer), so an idle connection
    /// holds none; a busy one then allocates them again for every batch of messages. A driver
    /// that sees the connection busy may say `true` for a while, and `false` once it has gone
    /// quiet, which frees every drained buffer at once. Kept buffers are bounded: one that grew
    /// past 256 KiB is freed as usual. The setting holds across reconnects.
    pub fn keep_buffers(&mut self, keep: bool) {
        self.keep_buffers = keep;
        if let Some(conn) = self.conn.as_mut() {
            conn.keep_buffers(keep);
        }
        if !keep {
            crate::util::release_if_drained(&mut self.outputs);
            if self.in_flight.is_empty() {
                self.in_flight = Vec::new();
            }
        }
    }

    /// Replaces the messages written first on every following connection
    /// ([`SessionConfig::open_messages`]). A connection already open keeps what it sent.
    pub fn set_open_messages(&mut self, messages: Vec<Message>) {
        self.config.open_messages = messages;
    }

    /// Starts connecting (from `Idle`, or again from `Closed`).
    pub fn connect(&mut self, now: Instant) {
        self.now = now;
        match self.state {
            SessionState::Idle => self.start_attempt(now),
            SessionState::Closed(_) => {
                self.failures = 0;
                self.retries = 0;
                self.healthy = false;
                self.first_failure_at = None;
                self.user_close = None;
                self.start_attempt(now);
            }
            _ => {}
        }
    }

    /// Accepts a message for sending in any state but closed-for-good. While not open it waits
    /// in the bounded queue; it is written in order after the next handshake.
    pub fn send(&mut self, message: Message) -> Result<MessageId, SessionSendError> {
        if matches!(self.state, SessionState::Closed(_)) || self.user_close.is_some() {
            return Err(SessionSendError::Closed(message));
        }
        match self.queue.push(message) {
            Ok((id, evicted)) => {
                for old in evicted {
                    self.hand_back(old, HandBackReason::Dropped);
                }
                self.update_water_marks();
                Ok(id)
            }
            Err((Refusal::Full, message)) => Err(SessionSendError::QueueFull(message)),
            Err((Refusal::TooLarge, message)) => Err(SessionSendError::TooLarge(message)),
        }
    }

    /// Closes for good: queued messages are written first when open, then the close handshake
    /// runs; when not open, the session closes at once. Unsent messages are handed back.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) {
        self.now = now;
        if matches!(self.state, SessionState::Closed(_)) || self.user_close.is_some() {
            return;
        }
        let code = if code.is_sendable() { code } else { CloseCode::NORMAL };
        let reason = crate::close::fit_close_reason(reason).to_owned();
        self.user_close = Some((code, reason.clone()));
        let open = self.conn.as_ref().is_some_and(|c| c.is_open());
        if open {
            self.pump_queue(usize::MAX);
            if let Some(conn) = self.conn.as_mut() {
                conn.close(now, code, &reason).ok();
            }
            // No pings after our close frame; a stale ping deadline would never be cleared.
            self.heartbeat.stop();
            self.set_state(SessionState::Closing { for_good: true });
        } else {
            self.drop_connection();
            self.close_for_good(ClosedReason::User, DisconnectReason::UserClosed);
        }
    }

    // ----- outputs -----

    /// The next output for the driver or the application.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.outputs.is_empty() {
            if let Some(output) = self.next_direct_output() {
                return Some(output);
            }
        }
        let output = self.outputs.pop_front();
        crate::util::release_if_drained_unless_kept(&mut self.outputs, self.keep_buffers);
        output
    }

    /// Appends bytes to write to the current transport into `buf`; returns how many.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        if !self.final_tx.is_empty() {
            let n = self.final_tx.len();
            buf.append(&mut self.final_tx);
            self.counters.bytes_out = self.counters.bytes_out.saturating_add(n as u64);
            return Some(n);
        }
        self.pump_queue(TRANSMIT_BATCH);
        let n = self.conn.as_mut()?.poll_transmit(buf)?;
        self.counters.bytes_out = self.counters.bytes_out.saturating_add(n as u64);
        self.counters.messages_out += self.in_flight.len() as u64;
        let mut in_flight = std::mem::take(&mut self.in_flight);
        if self.reports_sent {
            self.outputs.reserve(in_flight.len());
            for item in in_flight.drain(..) {
                self.outputs.push_back(Output::Event(SessionEvent::Sent(item.id)));
            }
        } else {
            in_flight.clear();
        }
        if crate::util::keeps::<Queued>(self.keep_buffers, in_flight.capacity()) {
            // Its allocation serves the next batch.
            self.in_flight = in_flight;
        }
        self.update_water_marks();
        Some(n)
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    ///
    /// Valid once [`poll_output`](Self::poll_output) has returned `None` and
    /// [`poll_transmit`](Self::poll_transmit) has been drained: received bytes are decoded
    /// while outputs are pulled, and a decoded close frame or ping sets timers and queues
    /// replies.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.open_deadline,
            self.retry_at,
            self.healthy_at,
            self.heartbeat.poll_timeout(),
            self.conn.as_ref().and_then(|c| c.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Encodes queued messages into the open connection, up to `budget` bytes (at least one).
    fn pump_queue(&mut self, budget: usize) {
        let Some(conn) = self.conn.as_mut() else { return };
        if !conn.is_open() {
            return;
        }
        // One allocation each for the batch's frames and its in-flight list, rather than a
        // series of doublings (the buffers go to the transport and are let go after it).
        let (count, bytes) = self.queue.batch(budget);
        self.in_flight.reserve(count);
        conn.reserve_transmit(bytes.saturating_add(count.saturating_mul(crate::frame::MAX_HEADER_LEN)));
        let mut written = 0usize;
        while written < budget {
            let Some(item) = self.queue.pop_front() else { break };
            if conn.send(&item.message).is_err() {
                self.queue.requeue_front(std::iter::once(item));
                break;
            }
            written += item.message.len().max(1);
            self.in_flight.push(item);
        }
    }

    fn update_water_marks(&mut self) {
        let pending = self.buffered_amount();
        let config = self.queue.config();
        if pending > config.high_water {
            self.above_high_water = true;
        } else if self.above_high_water && pending <= config.low_water {
            self.above_high_water = false;
            self.emit(SessionEvent::Writable);
        }
    }

    fn hand_back(&mut self, item: Queued, reason: HandBackReason) {
        self.emit(SessionEvent::HandedBack {
            id: item.id,
            message: item.message,
            reason,
        });
    }

    /// Runs `f` with a generator from the current seed, then moves the seed forward.
    fn with_rng<R>(&mut self, f: impl FnOnce(&mut Rng) -> R) -> R {
        let mut rng = Rng::from_seed(self.seed);
        let result = f(&mut rng);
        self.seed = rng.fork_seed();
        result
    }

    fn emit(&mut self, event: SessionEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    fn set_state(&mut self, state: SessionState) {
        if self.state != state {
            self.state = state.clone();
            self.emit(SessionEvent::StateChanged(state));
        }
    }
}
