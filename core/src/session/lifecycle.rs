//! The session's transitions: attempts, inputs from the transport, timers, disconnects.

use std::time::Instant;

use crate::close::CloseCode;
use crate::connection::{CloseInfo, Connection, Event, Input};
use crate::error::{ConnectionError, ProtocolError};
use crate::frame::FrameError;
use crate::handshake::HandshakeError;
use crate::rng::Rng;
use crate::url::WsUrl;

use super::Agreed;
use super::event::{ClosedReason, HandBackReason, Output, SessionEvent, SessionState, TransportId};
use super::heartbeat::Action;
use super::policy::{Decision, DisconnectReason, TransportError, TransportErrorKind, backoff_delay};
use super::{Session, TransportInput};

impl Session {
    /// Feeds what the driver saw on transport `id`; inputs about an older transport are ignored.
    pub fn handle_transport(&mut self, now: Instant, id: TransportId, input: TransportInput<'_>) {
        self.now = now;
        if self.transport != Some(id) {
            return;
        }
        match input {
            TransportInput::Connected => self.on_transport_up(now),
            TransportInput::Data(data) => {
                self.counters.bytes_in = self.counters.bytes_in.saturating_add(data.len() as u64);
                if let Some(conn) = self.conn.as_mut() {
                    conn.handle_input(now, Input::Data(data));
                }
            }
            TransportInput::Eof => match self.conn.as_mut() {
                Some(conn) => conn.handle_input(now, Input::Eof),
                None => self.disconnect(now, DisconnectReason::Reset),
            },
            TransportInput::Failed(error) => match self.conn.as_mut() {
                Some(conn) => {
                    self.pending_failure = Some(DisconnectReason::Transport(error.clone()));
                    conn.handle_input(now, Input::TransportError(&error.message));
                }
                None => self.disconnect(now, DisconnectReason::Transport(error.clone())),
            },
        }
    }

    /// Acts on every deadline that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.open_deadline.is_some_and(|d| now >= d) {
            self.open_deadline = None;
            self.drop_connection();
            self.disconnect(now, DisconnectReason::OpenTimeout);
        }
        if self.retry_at.is_some_and(|d| now >= d) {
            self.retry_at = None;
            self.start_attempt(now);
        }
        if self.healthy_at.is_some_and(|d| now >= d) {
            self.healthy_at = None;
            self.healthy = true;
            self.failures = 0;
            self.retries = 0;
            self.first_failure_at = None;
        }
        if self.conn.as_ref().is_some_and(|c| c.is_open()) {
            match self.heartbeat.on_timeout(now) {
                Some(Action::Ping(payload)) => {
                    let app = self.heartbeat.config().app_message.clone();
                    if let Some(conn) = self.conn.as_mut() {
                        conn.ping(&payload).ok();
                        if let Some(message) = app {
                            conn.send(&message).ok();
                        }
                    }
                }
                Some(Action::Dead) => self.fail_dead_peer(now),
                None => {}
            }
        }
        if let Some(conn) = self.conn.as_mut() {
            if conn.poll_timeout().is_some_and(|d| now >= d) {
                conn.handle_timeout(now);
            }
        }
    }

    /// Asks the driver for a new transport: a new attempt, at the configured URL.
    pub(super) fn start_attempt(&mut self, now: Instant) {
        // Bytes of an older transport never reach this one, even if a driver did not drain them.
        self.final_tx.clear();
        self.hops.clear();
        self.open_deadline = now.checked_add(self.config.open_timeout);
        self.set_state(SessionState::Connecting {
            attempt: self.failures + 1,
            reconnect: self.counters.connections > 0,
        });
        self.request_transport(self.config.url.clone());
    }

    /// Emits `Connect` for a new transport to `url`.
    fn request_transport(&mut self, url: WsUrl) {
        let id = TransportId(self.next_transport);
        self.next_transport += 1;
        self.transport = Some(id);
        self.outputs.push_back(Output::Connect { id, url });
    }

    /// Follows a redirect within the current attempt: the old transport goes, a new one to
    /// `to` is asked for at once, and the attempt's open deadline stays as it was.
    fn follow_redirect(&mut self, status: u16, to: WsUrl) {
        let deadline = self.open_deadline;
        self.drop_connection();
        self.open_deadline = deadline;
        self.pending_failure = None;
        self.hops.push(to.clone());
        self.emit(SessionEvent::Redirected { status, to: to.clone() });
        self.request_transport(to);
    }

    fn on_transport_up(&mut self, now: Instant) {
        if self.conn.is_some() {
            return;
        }
        let config = self
            .config
            .connection
            .clone()
            .handshake_timeout(self.config.open_timeout)
            .close_timeout(self.config.close_timeout);
        let seed = self.with_rng(Rng::fork_seed);
        let extra = self
            .attempt_headers
            .take()
            .filter(|(id, _)| self.transport == Some(*id));
        let url = self.hops.current(&self.config.url);
        // Credentials go only to the configured origin, never to where a redirect pointed.
        let crossed = self.hops.crossed_origin(&self.config.url);
        let opened = if extra.is_none() && !crossed {
            Connection::client(url, &self.config.client, config, seed, now)
        } else {
            let mut options = self.config.client.clone();
            if let Some((_, headers)) = extra {
                options.headers.extend(headers);
            }
            if crossed {
                let policy = &self.config.redirects;
                options.headers.retain(|(name, _)| !policy.is_sensitive(name));
            }
            Connection::client(url, &options, config, seed, now)
        };
        match opened {
            Ok(mut conn) => {
                conn.keep_buffers(self.keep_buffers);
                self.conn = Some(conn);
            }
            Err(e) => {
                // Local misuse (a bad header in the options): retrying cannot help.
                self.drop_connection();
                self.close_for_good(
                    ClosedReason::Fatal(DisconnectReason::Handshake(e.clone())),
                    DisconnectReason::Handshake(e),
                );
            }
        }
    }

    /// Turns the connection's events into session events and transitions.
    pub(super) fn drain_connection_events(&mut self) {
        while self.outputs.is_empty() {
            let Some(event) = self.conn.as_mut().and_then(|c| c.poll_event()) else {
                return;
            };
            self.on_connection_event(event);
        }
    }

    /// The hot path of [`poll_output`](Session::poll_output): with nothing queued, a received
    /// message goes straight to the caller instead of through the output queue. Anything else
    /// takes the general path. Returns `None` when the caller should pop the queue.
    #[inline]
    pub(super) fn next_direct_output(&mut self) -> Option<Output> {
        if let Some(message) = self.conn.as_mut().and_then(|c| c.poll_message()) {
            self.heartbeat.on_frame(self.now);
            self.counters.messages_in += 1;
            #[cfg(feature = "json")]
            if self.config.envelope.is_some() {
                self.deliver(message);
                return None;
            }
            return Some(Output::Event(SessionEvent::Message(message)));
        }
        self.drain_connection_events();
        None
    }

    /// Applies one connection event: session events and transitions.
    fn on_connection_event(&mut self, event: Event) {
        let now = self.now;
        match event {
            Event::Opened(accepted) => {
                self.open_deadline = None;
                self.healthy_at = now.checked_add(self.config.reconnect.healthy_after);
                self.heartbeat.on_open(now);
                self.counters.connections += 1;
                if let Some(conn) = self.conn.as_mut() {
                    for message in &self.config.open_messages {
                        // Only a message bigger than the frame limit of our own encoder could
                        // fail, and a fresh connection has no message in progress.
                        if conn.send(message).is_ok() {
                            self.counters.messages_out += 1;
                        }
                    }
                }
                // Allocated only when something was agreed: a plain connection holds nothing.
                self.agreed = (accepted.subprotocol.is_some() || accepted.deflate.is_some()).then(|| {
                    Box::new(Agreed {
                        subprotocol: accepted.subprotocol.clone(),
                        deflate: accepted.deflate,
                    })
                });
                self.set_state(SessionState::Open);
                self.emit(SessionEvent::Opened {
                    subprotocol: accepted.subprotocol,
                    deflate: accepted.deflate,
                });
            }
            Event::Message(message) => {
                self.heartbeat.on_frame(now);
                self.counters.messages_in += 1;
                self.deliver(message);
            }
            Event::Ping(_) => self.heartbeat.on_frame(now),
            Event::Pong(payload) => {
                self.heartbeat.on_frame(now);
                if let Some(rtt) = self.heartbeat.on_pong(now, &payload) {
                    self.emit(SessionEvent::pong(rtt));
                }
            }
            Event::CloseReceived { .. } => {
                self.heartbeat.stop();
                self.set_state(SessionState::Closing {
                    for_good: self.user_close.is_some(),
                });
            }
            Event::Closed(info) => self.on_connection_closed(now, info),
            Event::Request(_) => {}
        }
    }

    /// Hands a received message to the application, decoded when an envelope is configured.
    fn deliver(&mut self, message: crate::message::Message) {
        #[cfg(feature = "json")]
        if let Some(envelope) = &self.config.envelope {
            let event = match envelope.decode_envelope(&message) {
                Ok(typed) => SessionEvent::Typed(typed),
                Err(error) => SessionEvent::Error(super::Error::Decode(error)),
            };
            return self.emit(event);
        }
        self.emit(SessionEvent::Message(message));
    }

    fn on_connection_closed(&mut self, now: Instant, info: CloseInfo) {
        // A complete 3xx answer decides, whatever the transport did after it.
        let redirect = match &info.error {
            Some(ConnectionError::Handshake(HandshakeError::Rejected(rejection))) if self.user_close.is_none() => self
                .hops
                .next(&self.config.url, &self.config.redirects, rejection)
                .map(|next| (rejection.status, next)),
            _ => None,
        };
        match redirect {
            Some((status, Ok(to))) => return self.follow_redirect(status, to),
            Some((_, Err(error))) => {
                self.pending_failure = None;
                self.drop_connection();
                return self.disconnect(now, DisconnectReason::Redirect(error));
            }
            None => {}
        }
        if info.code != CloseCode::ABNORMAL {
            self.emit(SessionEvent::Closed {
                code: info.code,
                reason: info.reason.clone(),
                initiator: info.initiator,
            });
        }
        let pending_failure = self.pending_failure.take();
        // A close frame from the server says why it ended, whatever the transport did after it
        // (a reset, a TLS EOF without close_notify): 1006 is never in a frame, so any other
        // code means one was received.
        let close_received = info.code != CloseCode::ABNORMAL;
        let reason = if self.user_close.is_some() {
            pending_failure.unwrap_or(DisconnectReason::UserClosed)
        } else if close_received {
            DisconnectReason::ServerClosed {
                code: info.code,
                reason: info.reason,
            }
        } else if let Some(reason) = pending_failure {
            reason
        } else {
            match info.error {
                Some(ConnectionError::Handshake(e)) => DisconnectReason::Handshake(e),
                Some(ConnectionError::HandshakeTimeout) => DisconnectReason::OpenTimeout,
                Some(ConnectionError::Protocol(ProtocolError::MessageTooLarge { size, limit })) => {
                    DisconnectReason::MessageTooLarge {
                        size,
                        limit: limit as u64,
                        setting: "max_message_size",
                    }
                }
                Some(ConnectionError::Protocol(ProtocolError::Frame(FrameError::FrameTooLarge { size, limit }))) => {
                    // Builders set both limits to `max_message_size`: name the one the user set.
                    let setting = if limit == self.config.connection.max_message_size as u64 {
                        "max_message_size"
                    } else {
                        "max_frame_size"
                    };
                    DisconnectReason::MessageTooLarge { size, limit, setting }
                }
                Some(ConnectionError::Protocol(e)) => DisconnectReason::Protocol(e),
                Some(ConnectionError::CloseTimeout) => DisconnectReason::CloseTimeout,
                Some(ConnectionError::Transport(message)) => {
                    DisconnectReason::Transport(TransportError::new(TransportErrorKind::Io, message))
                }
                // No error and no close frame (one would have decided above): the transport
                // ended under an open connection.
                Some(ConnectionError::ResetWithoutClose) | None => DisconnectReason::Reset,
            }
        };
        self.drop_connection();
        self.disconnect(now, reason);
    }

    /// No pong in time: send 1011 if the transport takes it, and drop the transport at once.
    fn fail_dead_peer(&mut self, now: Instant) {
        if let Some(conn) = self.conn.as_mut() {
            conn.close(now, CloseCode::INTERNAL_ERROR, "pong timeout").ok();
        }
        self.drop_connection();
        self.disconnect(now, DisconnectReason::PongTimeout);
    }

    /// Forgets the connection: its last bytes (a close frame) go out before the `Disconnect`,
    /// and messages it had encoded but not transmitted go back to the front of the queue.
    pub(super) fn drop_connection(&mut self) {
        self.open_deadline = None;
        self.healthy_at = None;
        self.heartbeat.stop();
        self.agreed = None;
        if let Some(mut conn) = self.conn.take() {
            if self.in_flight.is_empty() {
                while conn.poll_transmit(&mut self.final_tx).is_some() {}
            }
        }
        let unsent = std::mem::take(&mut self.in_flight);
        self.queue.requeue_front(unsent.into_iter());
        if let Some(id) = self.transport.take() {
            self.outputs.push_back(Output::Disconnect { id });
        }
    }

    /// Decides between retrying and closing for good after the connection is gone.
    pub(super) fn disconnect(&mut self, now: Instant, reason: DisconnectReason) {
        if self.transport.is_some() {
            self.drop_connection();
        }
        let policy = &self.config.reconnect;
        let mut decision = reason.default_decision(policy);
        if let Some(hook) = &policy.classify {
            decision = hook(&reason, decision);
        }
        let (max_attempts, max_elapsed) = (policy.max_attempts, policy.max_elapsed);
        if !policy.enabled || self.user_close.is_some() {
            decision = Decision::Stop;
        }
        if let Some(error) = super::Error::from_disconnect(&reason) {
            self.emit(SessionEvent::Error(error));
        }
        let minimum = match decision {
            Decision::Stop => {
                let closed = if self.user_close.is_some() {
                    ClosedReason::User
                } else {
                    ClosedReason::Fatal(reason.clone())
                };
                return self.close_for_good(closed, reason);
            }
            Decision::Retry => None,
            Decision::RetryAfter(minimum) => Some(minimum),
        };
        // The drop of a healthy connection is not a failed attempt; anything else is.
        if !std::mem::take(&mut self.healthy) {
            self.failures += 1;
        }
        let first_failure = *self.first_failure_at.get_or_insert(now);
        let exhausted_attempts = max_attempts.is_some_and(|max| self.failures >= max);
        let mut rng = Rng::from_seed(self.seed);
        let mut delay = backoff_delay(&self.config.reconnect, self.retries, &mut rng);
        self.seed = rng.fork_seed();
        if let Some(minimum) = minimum {
            delay = delay.max(minimum);
        }
        let exhausted_time =
            max_elapsed.is_some_and(|limit| now.saturating_duration_since(first_failure).saturating_add(delay) > limit);
        if exhausted_attempts || exhausted_time {
            return self.close_for_good(ClosedReason::RetriesExhausted(reason.clone()), reason);
        }
        self.retries += 1;
        let until = crate::util::saturating_later(now, delay);
        // The delay as scheduled: `delay` itself unless a huge one was cut to fit an `Instant`.
        let retry_in = until.saturating_duration_since(now);
        self.retry_at = Some(until);
        self.emit(SessionEvent::Disconnected {
            reason,
            retry_at: Some(until),
            retry_in: Some(retry_in),
        });
        self.set_state(SessionState::WaitingToRetry {
            until,
            retry_in,
            attempt: self.failures + 1,
        });
    }

    /// Closed for good: every unsent message is handed back.
    pub(super) fn close_for_good(&mut self, closed: ClosedReason, reason: DisconnectReason) {
        self.agreed = None;
        self.retry_at = None;
        self.open_deadline = None;
        self.healthy_at = None;
        // Nothing is pending any more, so no backpressure is left to report.
        self.above_high_water = false;
        let unsent: Vec<_> = self.queue.drain().collect();
        for item in unsent {
            self.hand_back(item, HandBackReason::Closed);
        }
        self.emit(SessionEvent::Disconnected {
            reason,
            retry_at: None,
            retry_in: None,
        });
        self.set_state(SessionState::Closed(closed));
    }
}
