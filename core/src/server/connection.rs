//! One server-side WebSocket connection with the server's limits: the handshake and decision
//! timeouts, the idle timeout, the heartbeat, the bounded outbound queue and the memory close.

use std::time::Instant;

use crate::close::{CloseCode, MAX_CLOSE_REASON};
use crate::connection::{Connection, Event, Input};
use crate::error::{CloseError, ConnectionError};
use crate::handshake::Request;
use crate::message::Message;
use crate::session::HeartbeatConfig;
use crate::session::heartbeat::{Action, Heartbeat};

use super::config::ServerConfig;
use super::event::{ServerClose, ServerCloseReason, ServerEvent, ServerSendError};
use super::outbound::{Outbound, Push};
use super::prepared::PreparedMessage;

/// About this many bytes of queued frames per [`ServerConnection::poll_transmit`] call (at
/// least one frame): the queue, not the driver's buffer, holds what the client has not read.
pub const TRANSMIT_CHUNK: usize = 64 << 10;

/// A close we started: its frame, why, and whether queued messages go out first.
#[derive(Debug, Clone)]
struct LocalClose {
    code: CloseCode,
    reason: String,
    why: ServerCloseReason,
    /// The close frame is not sent yet: queued messages are written first, until this instant
    /// (the close timeout), after which the connection is ended.
    draining_until: Option<Option<Instant>>,
    /// When the close was asked for; the close timeout counts from here.
    at: Instant,
}

/// One server-side connection: a server-role [`Connection`] plus the limits a server needs
/// against clients it does not control.
///
/// # Run loop
/// The same contract as [`Connection`]: after **every** mutating call (`handle_input`,
/// `handle_timeout`, `accept`, `reject`, `send`, `send_prepared`, `close`, `going_away`,
/// `close_for_memory`, `set_reading`), drain [`poll_event`](Self::poll_event), then
/// [`poll_transmit`](Self::poll_transmit) (write **all** of the returned bytes before calling it
/// again: the outbound queue is the backpressure), then read
/// [`poll_timeout`](Self::poll_timeout) and call [`handle_timeout`](Self::handle_timeout) when it
/// is reached. After [`ServerEvent::Closed`], write what `poll_transmit` still returns and drop
/// the transport.
///
/// # Limits
/// * The request must be complete within the handshake timeout (else `408 Request Timeout`),
///   and the application must decide within the same deadline (else `503 Service Unavailable`).
/// * A ping goes out after `ping_interval` without any bytes from the client; a client from
///   which nothing arrives within `pong_timeout` of the oldest unanswered ping is failed with
///   1011 "pong timeout" at once: a silent client is dropped at most interval + timeout after
///   its last bytes.
/// * No data message either way for `idle_timeout`: close 1000 "idle timeout".
/// * [`send`](Self::send) only queues, within `max_queued_messages` and `max_queued_bytes`; a
///   message that does not fit closes the connection with 1008 "slow consumer" (the queue is
///   discarded), so one slow client never holds up a broadcast.
#[derive(Debug)]
pub struct ServerConnection {
    conn: Connection,
    idle_timeout: Option<std::time::Duration>,
    close_timeout: std::time::Duration,
    heartbeat: Heartbeat,
    queue: Outbound,
    request: Option<Request>,
    /// `accept` succeeded: the connection opened (it may have closed since).
    opened: bool,
    /// The last data message either way (the idle timer counts from here).
    last_activity: Instant,
    closing: Option<LocalClose>,
    /// The latest `now` given to any call.
    now: Instant,
}

impl ServerConnection {
    /// A connection waiting for the client's opening request; the handshake timeout starts at
    /// `now`. `seed` feeds the connection's CSPRNG (take it from the OS). Settings are used as
    /// given; check them once with [`ServerConfig::validate`].
    pub fn new(config: &ServerConfig, seed: [u8; 32], now: Instant) -> Self {
        ServerConnection {
            conn: Connection::server(config.connection.clone(), seed, now),
            idle_timeout: config.idle_timeout.filter(|t| !t.is_zero()),
            close_timeout: config.connection.close_timeout,
            heartbeat: Heartbeat::new(HeartbeatConfig {
                interval: config.ping_interval,
                timeout: config.pong_timeout,
                any_frame_is_liveness: true,
                app_message: None,
            }),
            queue: Outbound::new(config.max_queued_messages, config.max_queued_bytes),
            request: None,
            opened: false,
            last_activity: now,
            closing: None,
            now,
        }
    }

    // ----- getters -----

    /// True while messages may be sent: accepted, and no close started.
    pub fn is_open(&self) -> bool {
        self.conn.is_open() && self.closing.is_none()
    }

    /// True once the connection is over.
    pub fn is_finished(&self) -> bool {
        self.conn.is_finished()
    }

    /// The client's opening request, once it arrived.
    pub fn request(&self) -> Option<&Request> {
        self.request.as_ref()
    }

    /// Messages and payload bytes waiting in the outbound queue.
    pub fn queued(&self) -> (usize, usize) {
        self.queue.len()
    }

    /// Bytes held for inbound data not yet delivered: received bytes not yet decoded, the
    /// fragments of the message in progress and the inflated bytes of a compressed one. A
    /// server's memory budget sums this over its connections.
    pub fn inbound_buffered(&self) -> usize {
        self.conn.inbound_buffered()
    }

    // ----- inputs -----

    /// Feeds what the transport produced. Never fails; any bytes from the client prove it
    /// alive for the heartbeat.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.now = now;
        if let Input::Data(data) = input {
            if !data.is_empty() && self.opened {
                self.heartbeat.on_frame(now);
            }
        }
        self.conn.handle_input(now, input);
    }

    /// Acts on every deadline reached at `now`: handshake (408) and decision (503) timeouts,
    /// pings and the pong deadline, the idle timeout, the close timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.conn.is_finished() {
            return;
        }
        if !self.opened && self.conn.poll_timeout().is_some_and(|d| now >= d) {
            let why = if self.request.is_some() {
                ServerCloseReason::DecisionTimeout
            } else {
                ServerCloseReason::HandshakeTimeout
            };
            self.record_close(now, CloseCode::ABNORMAL, "", why, false);
            self.conn.handle_timeout(now);
            return;
        }
        if let Some(until) = self.draining_deadline() {
            if now >= until {
                // The client did not take the queued messages in time: end it.
                let (code, reason) = self.closing_frame();
                self.queue.clear();
                self.conn.abort(code, &reason);
                return;
            }
        }
        if self.conn.poll_timeout().is_some_and(|d| now >= d) {
            self.conn.handle_timeout(now);
        }
        if !self.is_open() {
            return;
        }
        match self.heartbeat.on_timeout(now) {
            Some(Action::Ping(payload)) => {
                self.conn.ping(&payload).ok();
            }
            Some(Action::Dead) => {
                self.end_now(
                    now,
                    CloseCode::INTERNAL_ERROR,
                    "pong timeout",
                    ServerCloseReason::PongTimeout,
                );
                return;
            }
            None => {}
        }
        if self.idle_deadline().is_some_and(|d| now >= d) {
            self.start_close(now, CloseCode::NORMAL, "idle timeout", ServerCloseReason::IdleTimeout);
        }
    }

    // ----- commands -----

    /// Answers the pending request with 101, choosing `subprotocol` (one the client offered)
    /// and adding `extra_headers`; permessage-deflate is agreed when the connection's
    /// [`Config::deflate`](crate::Config::deflate) is set and the client offered it. Does
    /// nothing when no request is pending.
    pub fn accept(&mut self, now: Instant, subprotocol: Option<&str>, extra_headers: &[(String, String)]) {
        self.now = now;
        if self.opened || self.closing.is_some() {
            return;
        }
        let Some(request) = self.request.take() else {
            return;
        };
        self.conn.accept(now, &request, subprotocol, extra_headers);
        self.request = Some(request);
        if self.conn.is_open() {
            self.opened = true;
            self.last_activity = now;
            self.heartbeat.on_open(now);
        }
    }

    /// Answers the pending request with an HTTP error (`status`, `headers` such as
    /// `Retry-After`, `body`) and ends the connection. Does nothing when no request is pending.
    pub fn reject(&mut self, status: u16, headers: &[(String, String)], body: &[u8]) {
        if self.request.is_none() || self.opened || self.closing.is_some() || self.conn.is_finished() {
            return;
        }
        let now = self.now;
        self.record_close(
            now,
            CloseCode::ABNORMAL,
            "",
            ServerCloseReason::Rejected { status },
            false,
        );
        self.conn.reject_with_headers(status, headers, body);
    }

    /// Queues `message` (it is encoded once, here). Never blocks: see
    /// [`send_prepared`](Self::send_prepared).
    pub fn send(&mut self, now: Instant, message: &Message) -> Result<(), ServerSendError> {
        if !self.is_open() {
            return Err(ServerSendError::NotOpen);
        }
        self.send_prepared(now, &PreparedMessage::new(message))
    }

    /// Queues a message encoded once for many connections. Only queues; the bytes go out
    /// through [`poll_transmit`](Self::poll_transmit).
    ///
    /// # Errors
    /// * [`ServerSendError::NotOpen`] before `accept` and once a close started;
    /// * [`ServerSendError::MessageTooLarge`] when the message alone exceeds `max_queued_bytes`
    ///   (nothing changes);
    /// * [`ServerSendError::SlowConsumer`] when the queue is full: the connection is closed
    ///   right here with 1008 "slow consumer", its queued messages discarded (the close frame
    ///   follows any bytes already returned by `poll_transmit`), and the close timeout bounds
    ///   the rest.
    pub fn send_prepared(&mut self, now: Instant, message: &PreparedMessage) -> Result<(), ServerSendError> {
        self.now = now;
        if !self.is_open() {
            return Err(ServerSendError::NotOpen);
        }
        match self.queue.push(message) {
            Push::Queued => {
                self.last_activity = now;
                Ok(())
            }
            Push::TooLarge { size, limit } => Err(ServerSendError::MessageTooLarge { size, limit }),
            Push::Full {
                queued_messages,
                queued_bytes,
            } => {
                self.close_slow_consumer(now);
                Err(ServerSendError::SlowConsumer {
                    queued_messages,
                    queued_bytes,
                })
            }
        }
    }

    /// Closes the connection as a slow consumer, as a full queue in
    /// [`send_prepared`](Self::send_prepared) does: 1008 "slow consumer", the queued messages
    /// discarded, the close frame after any bytes already returned by `poll_transmit`. For a
    /// driver that knows the client fell behind before its queue filled (a message it missed
    /// in a shared broadcast log). Does nothing unless the connection [`is_open`](Self::is_open).
    pub fn close_slow_consumer(&mut self, now: Instant) {
        self.now = now;
        if !self.is_open() {
            return;
        }
        let (queued_messages, queued_bytes) = self.queue.len();
        self.queue.clear();
        self.start_close(
            now,
            CloseCode::POLICY_VIOLATION,
            "slow consumer",
            ServerCloseReason::SlowConsumer {
                queued_messages,
                queued_bytes,
            },
        );
    }

    /// Starts the close handshake with `code` and `reason` (at most 123 bytes). Queued
    /// messages are written first (they were accepted), then the close frame; the close
    /// timeout, counted from now, bounds both. Before the handshake completed, this ends the
    /// connection without an answer.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), CloseError> {
        self.now = now;
        if !code.is_sendable() {
            return Err(CloseError::InvalidCode(code.0));
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(CloseError::ReasonTooLong(reason.len()));
        }
        if self.closing.is_some() || self.conn.is_finished() {
            return Err(CloseError::AlreadyClosing);
        }
        if !self.conn.is_open() {
            if self.conn_closing() {
                return Err(CloseError::AlreadyClosing);
            }
            self.record_close(now, CloseCode::ABNORMAL, "", ServerCloseReason::Local, false);
            self.conn.abort(code, reason);
            return Ok(());
        }
        self.start_close(now, code, reason, ServerCloseReason::Local);
        Ok(())
    }

    /// The server is shutting down: close 1001 "server shutting down" after the queued
    /// messages (bounded by the close timeout); a request still waiting for a decision is
    /// answered 503.
    pub fn going_away(&mut self, now: Instant) {
        self.now = now;
        if self.closing.is_some() || self.conn.is_finished() {
            return;
        }
        if self.conn.is_open() {
            self.start_close(
                now,
                CloseCode::GOING_AWAY,
                "server shutting down",
                ServerCloseReason::GoingAway,
            );
        } else if self.request.is_some() && !self.opened {
            self.record_close(now, CloseCode::ABNORMAL, "", ServerCloseReason::GoingAway, false);
            self.conn.reject(503, b"the server is shutting down");
        } else if !self.opened {
            self.record_close(now, CloseCode::ABNORMAL, "", ServerCloseReason::GoingAway, false);
            self.conn.abort(CloseCode::GOING_AWAY, "");
        }
    }

    /// The server's inbound memory budget is exceeded and this connection is among the
    /// largest holders: close 1009 "inbound memory budget exceeded" and end at once, freeing
    /// its buffers (queued messages are discarded).
    pub fn close_for_memory(&mut self, now: Instant) {
        self.now = now;
        if self.conn.is_finished() {
            return;
        }
        self.end_now(
            now,
            CloseCode::MESSAGE_TOO_BIG,
            "inbound memory budget exceeded",
            ServerCloseReason::MemoryBudget,
        );
    }

    /// The driver stopped (`false`) or resumed (`true`) reading the transport, for example
    /// because the application's inbox is full. While it does not read, silence proves
    /// nothing, so no pong deadline runs; on resume the client gets a full pong timeout.
    pub fn set_reading(&mut self, now: Instant, reading: bool) {
        self.now = now;
        self.heartbeat.set_reading(now, reading);
    }

    // ----- outputs -----

    /// The next event for the application, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        loop {
            let event = self.conn.poll_event()?;
            match event {
                Event::Request(request) => {
                    self.request = Some(request.clone());
                    return Some(ServerEvent::Request(request));
                }
                Event::Opened(accepted) => return Some(ServerEvent::Opened(accepted)),
                Event::Message(message) => {
                    self.last_activity = self.now;
                    return Some(ServerEvent::Message(message));
                }
                Event::Closed(info) => {
                    self.heartbeat.stop();
                    self.queue.clear();
                    return Some(ServerEvent::Closed(self.server_close(info)));
                }
                // Pongs are automatic; a close frame shows in `Closed`.
                _ => {}
            }
        }
    }

    /// Appends the bytes to write to `buf` and returns how many, or `None`: first the
    /// connection's own output (the handshake answer, pongs, pings, a close frame), then
    /// queued messages, whole frames only, about [`TRANSMIT_CHUNK`] bytes per call (at least
    /// one frame). A connection that agreed permessage-deflate compresses each message here.
    /// Write all of `buf` before calling again.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        let start = buf.len();
        let _ = self.conn.poll_transmit(buf);
        if self.conn.is_open() {
            let compress = self.conn.compresses();
            while !self.queue.is_empty() {
                let written = buf.len() - start;
                if written >= TRANSMIT_CHUNK {
                    break;
                }
                let Some(item) = self.queue.pop() else { break };
                if compress {
                    if self.conn.send(item.message()).is_ok() {
                        let _ = self.conn.poll_transmit(buf);
                    }
                } else {
                    buf.extend_from_slice(item.frame());
                }
            }
            if self.queue.is_empty() && self.is_draining() {
                self.send_close_frame();
                let _ = self.conn.poll_transmit(buf);
            }
        }
        let n = buf.len() - start;
        (n > 0).then_some(n)
    }

    /// The instant at which [`handle_timeout`](Self::handle_timeout) must be called: the
    /// earliest of the handshake, ping, pong, idle and close deadlines.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.conn.is_finished() {
            return None;
        }
        let mut deadline = self.conn.poll_timeout();
        let mut consider = |d: Option<Instant>| {
            if let Some(d) = d {
                deadline = Some(deadline.map_or(d, |e| e.min(d)));
            }
        };
        consider(self.draining_deadline());
        if self.is_open() {
            consider(self.heartbeat.poll_timeout());
            consider(self.idle_deadline());
        }
        deadline
    }

    // ----- internals -----

    fn idle_deadline(&self) -> Option<Instant> {
        self.idle_timeout.and_then(|t| self.last_activity.checked_add(t))
    }

    /// While queued messages go out before our close frame: the instant that ends it (`None`
    /// inside when the close timeout is past `Instant`'s range). `None` when not draining.
    fn draining_deadline(&self) -> Option<Instant> {
        self.closing.as_ref()?.draining_until.flatten()
    }

    fn is_draining(&self) -> bool {
        self.closing.as_ref().is_some_and(|c| c.draining_until.is_some())
    }

    /// The inner connection is closing (a close frame went one way) but not finished.
    fn conn_closing(&self) -> bool {
        self.opened && !self.conn.is_open() && !self.conn.is_finished()
    }

    fn closing_frame(&self) -> (CloseCode, String) {
        self.closing
            .as_ref()
            .map_or((CloseCode::NORMAL, String::new()), |c| (c.code, c.reason.clone()))
    }

    fn record_close(&mut self, now: Instant, code: CloseCode, reason: &str, why: ServerCloseReason, drain: bool) {
        self.heartbeat.stop();
        self.closing = Some(LocalClose {
            code,
            reason: reason.to_owned(),
            why,
            draining_until: drain.then(|| now.checked_add(self.close_timeout)),
            at: now,
        });
    }

    /// A close handshake from an open connection: queued messages first, then the frame.
    fn start_close(&mut self, now: Instant, code: CloseCode, reason: &str, why: ServerCloseReason) {
        if self.closing.is_some() || !self.conn.is_open() {
            return;
        }
        let drain = !self.queue.is_empty();
        self.record_close(now, code, reason, why, drain);
        if !drain {
            self.send_close_frame();
        }
    }

    /// Sends our recorded close frame; the close timeout counts from when the close was asked.
    fn send_close_frame(&mut self) {
        let Some(close) = self.closing.as_mut() else {
            return;
        };
        close.draining_until = None;
        let (code, reason, at) = (close.code, close.reason.clone(), close.at);
        if self.conn.close(at, code, &reason).is_err() {
            self.conn.abort(code, &reason);
        }
    }

    /// Ends the connection at once with a close frame (a dead or unwanted client).
    fn end_now(&mut self, now: Instant, code: CloseCode, reason: &str, why: ServerCloseReason) {
        self.queue.clear();
        if self.closing.is_none() {
            self.record_close(now, code, reason, why, false);
        }
        self.conn.abort(code, reason);
    }

    fn server_close(&mut self, info: crate::connection::CloseInfo) -> ServerClose {
        if let Some(close) = self.closing.take() {
            return ServerClose {
                code: close.code,
                reason: close.reason,
                why: close.why,
            };
        }
        match info.error {
            None => ServerClose {
                code: info.code,
                reason: info.reason,
                why: ServerCloseReason::Peer,
            },
            Some(error) => {
                let code = match &error {
                    ConnectionError::Protocol(e) => e.close_code(),
                    _ => info.code,
                };
                ServerClose {
                    code,
                    reason: info.reason,
                    why: ServerCloseReason::Error(error),
                }
            }
        }
    }
}
