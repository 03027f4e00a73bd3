//! `session_script`: a whole [`Session`] driven by an [`Arbitrary`] script of time advances,
//! transport inputs, commands and actions of a real server-role [`Connection`] on the other end.
//!
//! After every step the harness drains the session the way a driver must (outputs, then
//! transmit, until both are empty) and asserts:
//! * nothing panics and no loop runs away;
//! * `queued_messages() <= max_messages`, and `buffered_amount()` stays within the queue's byte
//!   bound once transmit is drained (plus a fixed allowance for control frames before);
//! * after `handle_timeout(now)` and a drain, `poll_timeout()` is not in the past, and a due
//!   deadline is cleared within a few rounds (a driver would otherwise spin);
//! * every `MessageId` returned by `send` shows up exactly once, as `Sent` or `HandedBack`, and
//!   no other id ever does; once the session is closed for good all of them have;
//! * inputs for an old transport change nothing;
//! * at the end, `close(now)` followed by the close handshake or its timeout ends in `Closed`.
//!
//! Input layout: a [`Setup`], then [`Step`]s until the data runs out (at most [`MAX_STEPS`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use resock_core::session::{HeartbeatConfig, OverflowPolicy, QueueConfig, ReconnectPolicy};
use resock_core::{
    CloseCode, Config, Connection, Event, Message, Output, Session, SessionConfig, SessionEvent, SessionSendError,
    SessionState, TransportError, TransportErrorKind, TransportId, TransportInput, WsUrl,
};

/// Most steps read from one input.
pub const MAX_STEPS: usize = 400;
/// The queue bounds of the fuzzed session.
pub const MAX_MESSAGES: usize = 8;
/// The queue's byte bound.
pub const MAX_BYTES: usize = 4096;
/// Bytes a session may hold for the transport before a drain beyond its queue: pongs, a close
/// frame, the opening request, a heartbeat ping and the encoding overhead of queued messages.
const CONTROL_ALLOWANCE: usize = 16 * 131 + 131 + 1024 + 131 + MAX_MESSAGES * 14;

/// Bytes with a one-byte length prefix (simpler for seeds than `Vec`'s length encoding).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl<'a> Arbitrary<'a> for Bytes {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = usize::from(u8::arbitrary(u)?).min(u.len());
        Ok(Bytes(u.bytes(n)?.to_vec()))
    }
}

/// Session settings chosen by the input.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Setup {
    /// Overflow policy drop-oldest instead of reject.
    pub drop_oldest: bool,
    /// Heartbeat on (500 ms interval, 300 ms timeout) with an application heartbeat message.
    pub heartbeat: bool,
    /// Reconnect on (100 ms to 2 s backoff).
    pub reconnect: bool,
    /// Attempt limit when not 0 (taken modulo 8).
    pub max_attempts: u8,
    /// Full jitter on the backoff.
    pub jitter: bool,
    /// Timer and queue settings over their whole range (all zero: the fixed defaults above).
    pub timers: Timers,
}

/// Settings drawn by the input: each duration picks from [`DURATIONS`] (index 0 keeps the
/// harness's fixed value), so tiny, huge and `Duration::MAX` values meet in every combination,
/// such as a pong timeout longer than the ping interval.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timers {
    /// `open_timeout`.
    pub open_timeout: u8,
    /// `close_timeout`.
    pub close_timeout: u8,
    /// `heartbeat.interval`.
    pub interval: u8,
    /// `heartbeat.timeout`.
    pub timeout: u8,
    /// `reconnect.initial_delay`.
    pub initial_delay: u8,
    /// Added to the initial delay to make `reconnect.max_delay`.
    pub max_delay: u8,
    /// `reconnect.healthy_after`.
    pub healthy_after: u8,
    /// `reconnect.max_elapsed` (index 0: none).
    pub max_elapsed: u8,
    /// `queue.max_messages`: 0 keeps [`MAX_MESSAGES`], else `1 + n % MAX_MESSAGES`.
    pub queue_messages: u8,
}

/// The durations settings are drawn from; `None` keeps the harness's fixed value.
pub const DURATIONS: [Option<Duration>; 8] = [
    None,
    Some(Duration::from_millis(1)),
    Some(Duration::from_millis(7)),
    Some(Duration::from_millis(300)),
    Some(Duration::from_secs(2)),
    Some(Duration::from_secs(3600)),
    Some(Duration::from_secs(1 << 40)),
    Some(Duration::MAX),
];

fn pick(index: u8, fixed: Duration) -> Duration {
    DURATIONS[usize::from(index) % DURATIONS.len()].unwrap_or(fixed)
}

/// How a transport failed.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailKind {
    /// DNS.
    Dns,
    /// Refused or reset.
    Refused,
    /// Timed out.
    TimedOut,
    /// TLS.
    Tls,
    /// Untrusted certificate (fatal).
    TlsCertificate,
    /// Other IO.
    Io,
}

/// Something the server peer does.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum PeerAction {
    /// Sends a text message (binary if the bytes are not UTF-8).
    Text(Bytes),
    /// Sends a binary message of `len % 20000` bytes (the session's limit is 16 KiB).
    Binary {
        /// Length seed.
        len: u16,
    },
    /// Pings.
    Ping(Bytes),
    /// Starts the close handshake with this code (refused codes are ignored).
    Close {
        /// The code.
        code: u16,
    },
    /// Answers the next opening request with this HTTP status instead of 101.
    RejectNext {
        /// The status.
        status: u16,
    },
    /// Delivers everything it sent, then closes the transport (EOF at the session).
    Hangup,
}

/// One step of a script.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Time passes; with `wake`, the driver then handles due deadlines.
    Advance {
        /// Milliseconds.
        ms: u16,
        /// Handle due deadlines.
        wake: bool,
    },
    /// Time jumps to the next deadline, which is handled.
    Timeout,
    /// `Session::connect`.
    Connect,
    /// The wanted transport is up (a fresh server peer starts).
    Connected,
    /// Delivers up to `max` pending bytes to the server peer (0: all).
    ToServer {
        /// Byte budget.
        max: u16,
    },
    /// Delivers up to `max` pending bytes from the server peer to the session (0: all).
    ToClient {
        /// Byte budget.
        max: u16,
    },
    /// Arbitrary bytes to the session's current transport.
    Raw(Bytes),
    /// Arbitrary bytes to an old transport; must change nothing.
    Stale(Bytes),
    /// EOF on the current transport.
    Eof,
    /// The current transport failed.
    Failed(FailKind),
    /// `Session::send` of `len % 6000` bytes (the queue's byte bound is 4096).
    Send {
        /// Length seed.
        len: u16,
        /// Text or binary.
        text: bool,
    },
    /// `Session::close` with this code and a reason of `reason` bytes (over 123 are cut).
    Close {
        /// The code.
        code: u16,
        /// Reason length.
        reason: u8,
    },
    /// The server peer acts.
    Peer(PeerAction),
}

/// Decodes a script: the setup, then steps while bytes remain.
pub fn parse(data: &[u8]) -> (Setup, Vec<Step>) {
    let mut u = Unstructured::new(data);
    let setup = Setup::arbitrary(&mut u).unwrap_or_default();
    let mut steps = Vec::new();
    while !u.is_empty() && steps.len() < MAX_STEPS {
        match Step::arbitrary(&mut u) {
            Ok(step) => steps.push(step),
            Err(_) => break,
        }
    }
    (setup, steps)
}

/// The session settings for `setup`.
pub fn session_config(setup: &Setup) -> SessionConfig {
    let url: WsUrl = "ws://example.com/chat".parse().expect("fixed URL");
    let mut config = SessionConfig::new(url);
    config.connection = Config::default()
        .max_frame_size(8192)
        .max_message_size(16384)
        .max_fragments(16);
    let t = &setup.timers;
    config.reconnect = if setup.reconnect {
        let initial = pick(t.initial_delay, Duration::from_millis(100));
        let cap = initial.saturating_add(pick(t.max_delay, Duration::from_secs(2).saturating_sub(initial)));
        let mut policy =
            ReconnectPolicy::exponential(initial, cap).healthy_after(pick(t.healthy_after, Duration::from_secs(1)));
        if t.max_elapsed % 8 != 0 {
            policy = policy.max_elapsed(pick(t.max_elapsed, Duration::MAX));
        }
        policy.jitter = setup.jitter;
        if setup.max_attempts % 8 != 0 {
            policy = policy.max_attempts(u32::from(setup.max_attempts % 8));
        }
        policy
    } else {
        ReconnectPolicy::disabled()
    };
    config.heartbeat = if setup.heartbeat {
        let mut hb = HeartbeatConfig::default();
        hb.interval = Some(pick(t.interval, Duration::from_millis(500)));
        hb.timeout = pick(t.timeout, Duration::from_millis(300));
        hb.app_message = Some(Message::text(r#"{"type":"ping"}"#));
        hb
    } else {
        HeartbeatConfig::disabled()
    };
    let mut queue = QueueConfig::default();
    queue.max_messages = match t.queue_messages {
        0 => MAX_MESSAGES,
        n => 1 + usize::from(n) % MAX_MESSAGES,
    };
    queue.max_bytes = MAX_BYTES;
    queue.overflow = if setup.drop_oldest {
        OverflowPolicy::DropOldest
    } else {
        OverflowPolicy::Reject
    };
    queue.high_water = 2048;
    queue.low_water = 512;
    config.queue = queue;
    config.open_timeout = pick(t.open_timeout, Duration::from_secs(1));
    config.close_timeout = pick(t.close_timeout, Duration::from_millis(500));
    config
        .validate()
        .unwrap_or_else(|e| panic!("the drawn settings are refused: {e}"));
    config
}

/// Where an accepted message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Sent,
    HandedBack,
}

struct Harness {
    now: Instant,
    session: Session,
    /// The transport of the last `Connect`, until its `Disconnect`.
    wanted: Option<TransportId>,
    /// `Connected` was reported for `wanted`.
    up: bool,
    /// Transports already disconnected.
    old: Vec<TransportId>,
    server: Option<Connection>,
    server_seed: u8,
    reject_next: Option<u16>,
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    /// Accepted ids with their payload length.
    issued: BTreeMap<u64, usize>,
    resolved: BTreeMap<u64, Fate>,
    report: Report,
}

/// What a script made the session do (for tests that check the seeds reach deep states).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// `Opened` events.
    pub opened: usize,
    /// `Sent` events.
    pub sent: usize,
    /// `HandedBack` events.
    pub handed_back: usize,
    /// Messages received from the server.
    pub received: usize,
    /// `Disconnected` events with a retry planned.
    pub retries: usize,
    /// `Pong` events (heartbeat RTT samples).
    pub pongs: usize,
    /// The state at the end of the steps, before the final close.
    pub state_before_close: String,
    /// The state at the very end.
    pub final_state: String,
}

impl Harness {
    fn new(setup: &Setup) -> Self {
        let now = Instant::now();
        Harness {
            now,
            session: Session::new(session_config(setup), [9; 32], now),
            wanted: None,
            up: false,
            old: Vec::new(),
            server: None,
            server_seed: 0,
            reject_next: None,
            to_server: Vec::new(),
            to_client: Vec::new(),
            issued: BTreeMap::new(),
            resolved: BTreeMap::new(),
            report: Report::default(),
        }
    }

    fn resolve(&mut self, id: u64, fate: Fate, len: Option<usize>) {
        let Some(&issued_len) = self.issued.get(&id) else {
            panic!("{fate:?} for id {id}, which send never returned");
        };
        if let Some(len) = len {
            assert_eq!(len, issued_len, "id {id} handed back with another payload");
        }
        if let Some(before) = self.resolved.insert(id, fate) {
            panic!("id {id} reported twice: {before:?} then {fate:?}");
        }
    }

    /// Drains outputs and transmit until both are empty, as the run-loop contract says.
    fn drain(&mut self) {
        for _ in 0..10_000 {
            let mut progress = false;
            while let Some(output) = self.session.poll_output() {
                progress = true;
                self.on_output(output);
            }
            let mut buf = Vec::new();
            while let Some(n) = self.session.poll_transmit(&mut buf) {
                progress = true;
                assert!(n > 0, "poll_transmit returned Some(0)");
                assert!(self.up, "bytes to transmit with no transport up");
            }
            if self.up {
                self.to_server.extend_from_slice(&buf);
            }
            if !progress {
                return;
            }
        }
        panic!("outputs never run dry");
    }

    fn on_output(&mut self, output: Output) {
        match output {
            Output::Connect { id, .. } => {
                assert!(
                    self.wanted.is_none(),
                    "Connect {id:?} while {:?} was not disconnected",
                    self.wanted
                );
                assert!(!self.old.contains(&id), "transport id {id:?} reused");
                self.wanted = Some(id);
                self.up = false;
                self.server = None;
                self.to_server.clear();
                self.to_client.clear();
            }
            Output::Disconnect { id } => {
                assert_eq!(self.wanted, Some(id), "Disconnect for a transport we do not have");
                // The contract: write what poll_transmit still returns, then close.
                let mut last = Vec::new();
                while self.session.poll_transmit(&mut last).is_some() {}
                self.wanted = None;
                self.up = false;
                self.server = None;
                self.old.push(id);
            }
            Output::Event(event) => match event {
                SessionEvent::Sent(id) => {
                    self.report.sent += 1;
                    self.resolve(id.0, Fate::Sent, None);
                }
                SessionEvent::HandedBack { id, message, .. } => {
                    self.report.handed_back += 1;
                    self.resolve(id.0, Fate::HandedBack, Some(message.len()));
                }
                SessionEvent::Opened { .. } => self.report.opened += 1,
                SessionEvent::Message(_) => self.report.received += 1,
                SessionEvent::Pong { .. } => self.report.pongs += 1,
                SessionEvent::Disconnected { retry_at: Some(_), .. } => self.report.retries += 1,
                SessionEvent::StateChanged(SessionState::Closed(_)) => {
                    assert_eq!(
                        self.session.queued_messages(),
                        0,
                        "closed for good with messages queued"
                    );
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn check(&self, drained: bool) {
        let s = &self.session;
        assert!(
            s.queued_messages() <= s.config().queue.max_messages,
            "{} messages queued, bound {}",
            s.queued_messages(),
            s.config().queue.max_messages
        );
        let bound = if drained {
            MAX_BYTES
        } else {
            MAX_BYTES + CONTROL_ALLOWANCE
        };
        assert!(
            s.buffered_amount() <= bound,
            "{} bytes buffered, bound {bound}",
            s.buffered_amount()
        );
        if matches!(s.state(), SessionState::Closed(_)) && drained {
            assert_eq!(
                self.issued.len(),
                self.resolved.len(),
                "closed for good with ids unaccounted for"
            );
        }
    }

    /// Handles due deadlines like a driver woken at `now`.
    fn wake(&mut self) {
        for _ in 0..8 {
            match self.session.poll_timeout() {
                Some(deadline) if deadline <= self.now => {
                    self.session.handle_timeout(self.now);
                    self.drain();
                    if let Some(next) = self.session.poll_timeout() {
                        assert!(next >= self.now, "poll_timeout in the past after handle_timeout");
                    }
                }
                _ => {
                    self.server_timeout();
                    return;
                }
            }
        }
        panic!("a deadline stays due after 8 rounds of handle_timeout (the driver would spin)");
    }

    fn server_timeout(&mut self) {
        if let Some(server) = self.server.as_mut() {
            if server.poll_timeout().is_some_and(|d| d <= self.now) {
                server.handle_timeout(self.now);
            }
        }
        self.pump_server();
    }

    /// Answers the server peer's events and collects what it sends.
    fn pump_server(&mut self) {
        let Some(server) = self.server.as_mut() else { return };
        for _ in 0..10_000 {
            let Some(event) = server.poll_event() else { break };
            match event {
                Event::Request(request) => match self.reject_next.take() {
                    Some(status) => server.reject(status, b"fuzz says no"),
                    None => server.accept(
                        self.now,
                        &request,
                        request.subprotocols.first().map(String::as_str),
                        &[],
                    ),
                },
                Event::Message(message) => {
                    let _ = server.send(&message);
                }
                _ => {}
            }
        }
        while server.poll_transmit(&mut self.to_client).is_some() {}
    }

    fn transport_input(&mut self, input: TransportInput<'_>) {
        if let Some(id) = self.wanted {
            self.session.handle_transport(self.now, id, input);
        }
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Advance { ms, wake } => {
                // Past Instant's range (after a jump to a "never" deadline) time stands still.
                self.now = self
                    .now
                    .checked_add(Duration::from_millis(u64::from(*ms)))
                    .unwrap_or(self.now);
                if *wake {
                    self.wake();
                }
            }
            Step::Timeout => {
                if let Some(deadline) = self.session.poll_timeout() {
                    self.now = self.now.max(deadline);
                }
                self.wake();
            }
            Step::Connect => self.session.connect(self.now),
            Step::Connected => match self.wanted {
                Some(id) if !self.up => {
                    self.session.handle_transport(self.now, id, TransportInput::Connected);
                    self.up = true;
                    self.server_seed = self.server_seed.wrapping_add(1);
                    let config = Config::default().max_frame_size(1 << 20).max_message_size(1 << 20);
                    self.server = Some(Connection::server(config, [self.server_seed; 32], self.now));
                }
                _ => self.stale(TransportInput::Connected),
            },
            Step::ToServer { max } => {
                let n = take_len(*max, self.to_server.len());
                let bytes: Vec<u8> = self.to_server.drain(..n).collect();
                if let Some(server) = self.server.as_mut() {
                    server.handle_input(self.now, resock_core::Input::Data(&bytes));
                }
                self.pump_server();
            }
            Step::ToClient { max } => {
                let n = take_len(*max, self.to_client.len());
                let bytes: Vec<u8> = self.to_client.drain(..n).collect();
                if self.up {
                    self.transport_input(TransportInput::Data(&bytes));
                }
            }
            Step::Raw(bytes) => self.transport_input(TransportInput::Data(&bytes.0)),
            Step::Stale(bytes) => self.stale(TransportInput::Data(&bytes.0)),
            Step::Eof => self.transport_input(TransportInput::Eof),
            Step::Failed(kind) => {
                let kind = match kind {
                    FailKind::Dns => TransportErrorKind::Dns,
                    FailKind::Refused => TransportErrorKind::Refused,
                    FailKind::TimedOut => TransportErrorKind::TimedOut,
                    FailKind::Tls => TransportErrorKind::Tls,
                    FailKind::TlsCertificate => TransportErrorKind::TlsCertificate,
                    FailKind::Io => TransportErrorKind::Io,
                };
                let error = TransportError::new(kind, "fuzzed failure");
                self.transport_input(TransportInput::Failed(&error));
            }
            Step::Send { len, text } => self.send(usize::from(*len) % 6000, *text),
            Step::Close { code, reason } => {
                let reason = "r".repeat(usize::from(*reason));
                self.session.close(self.now, CloseCode(*code), &reason);
            }
            Step::Peer(action) => self.peer(action),
        }
    }

    fn send(&mut self, len: usize, text: bool) {
        let message = if text {
            Message::text("t".repeat(len))
        } else {
            Message::binary(vec![0x5A; len])
        };
        let closed = matches!(self.session.state(), SessionState::Closed(_));
        match self.session.send(message) {
            Ok(id) => {
                assert!(!closed, "a closed session accepted a message");
                assert!(len <= MAX_BYTES, "a message over the byte bound was accepted");
                assert!(self.issued.insert(id.0, len).is_none(), "id {} issued twice", id.0);
            }
            Err(SessionSendError::TooLarge(m)) => {
                assert!(len > MAX_BYTES && m.len() == len, "TooLarge for {len} bytes");
            }
            Err(SessionSendError::QueueFull(m)) => {
                assert_eq!(m.len(), len);
                assert!(!matches!(
                    self.session.config().queue.overflow,
                    OverflowPolicy::DropOldest
                ));
            }
            Err(SessionSendError::Closed(m)) => assert_eq!(m.len(), len),
            Err(other) => panic!("unexpected send error {other:?}"),
        }
    }

    fn peer(&mut self, action: &PeerAction) {
        if let PeerAction::RejectNext { status } = action {
            self.reject_next = Some(*status);
            return;
        }
        if let PeerAction::Hangup = action {
            if self.up {
                let bytes = std::mem::take(&mut self.to_client);
                self.transport_input(TransportInput::Data(&bytes));
                self.transport_input(TransportInput::Eof);
            }
            self.server = None;
            return;
        }
        let Some(server) = self.server.as_mut() else { return };
        match action {
            PeerAction::Text(Bytes(b)) => {
                let _ = match std::str::from_utf8(b) {
                    Ok(text) => server.send_text(text),
                    Err(_) => server.send_binary(b),
                };
            }
            PeerAction::Binary { len } => {
                let _ = server.send_binary(&vec![0xA5; usize::from(*len) % 20000]);
            }
            PeerAction::Ping(Bytes(b)) => {
                let _ = server.ping(b);
            }
            PeerAction::Close { code } => {
                let _ = server.close(self.now, CloseCode(*code), "peer closes");
            }
            PeerAction::RejectNext { .. } | PeerAction::Hangup => {}
        }
        self.pump_server();
    }

    /// Input about an old (or never issued) transport: nothing may change.
    fn stale(&mut self, input: TransportInput<'_>) {
        let id = self.old.last().copied().unwrap_or(TransportId(u64::MAX));
        let before = (format!("{:?}", self.session.state()), self.session.poll_timeout());
        self.session.handle_transport(self.now, id, input);
        assert!(
            self.session.poll_output().is_none(),
            "an old transport's input produced output"
        );
        let mut buf = Vec::new();
        assert!(
            self.session.poll_transmit(&mut buf).is_none(),
            "an old transport's input produced bytes"
        );
        let after = (format!("{:?}", self.session.state()), self.session.poll_timeout());
        assert_eq!(before, after, "an old transport's input changed the session");
    }

    /// `close(now)`, then the close handshake or its timeout, until closed for good.
    fn finish(&mut self) {
        self.session.close(self.now, CloseCode::NORMAL, "script over");
        self.drain();
        self.check(true);
        for _ in 0..64 {
            if matches!(self.session.state(), SessionState::Closed(_)) {
                break;
            }
            self.step(&Step::ToServer { max: 0 });
            self.step(&Step::ToClient { max: 0 });
            self.drain();
            if !matches!(self.session.state(), SessionState::Closed(_)) {
                if self.session.poll_timeout().is_none() {
                    // A close timeout of "never" and a server that is gone: the transport ends.
                    self.step(&Step::Eof);
                } else {
                    self.step(&Step::Timeout);
                }
                self.drain();
            }
            self.check(true);
        }
        assert!(
            matches!(self.session.state(), SessionState::Closed(_)),
            "still {:?} after close() and its timeouts (deadline {:?})",
            self.session.state(),
            self.session
                .poll_timeout()
                .map(|d| d.saturating_duration_since(self.now))
        );
        assert_eq!(
            self.issued.len(),
            self.resolved.len(),
            "ids neither sent nor handed back"
        );
    }
}

fn take_len(max: u16, available: usize) -> usize {
    match max {
        0 => available,
        n => usize::from(n).min(available),
    }
}

/// The target body.
pub fn session_script(data: &[u8]) {
    run_script(data);
}

/// Runs a script with every check and reports what happened.
pub fn run_script(data: &[u8]) -> Report {
    let (setup, steps) = parse(data);
    let mut h = Harness::new(&setup);
    for step in &steps {
        h.step(step);
        h.check(false);
        h.drain();
        h.check(true);
    }
    h.report.state_before_close = format!("{:?}", h.session.state());
    h.finish();
    h.report.final_state = format!("{:?}", h.session.state());
    h.report
}
