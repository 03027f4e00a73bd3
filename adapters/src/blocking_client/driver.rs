//! The run loop of [`Client`]: drain the session's outputs and transmissions, then wait in one
//! socket read (or, without a socket, on the sender inbox) until the next deadline.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use resock_core::session::{Output, SessionEvent, TransportError, TransportErrorKind, TransportInput};

use super::{Client, Transport};
use crate::blocking::WRITE_TIMEOUT;
use crate::net;
use crate::read_buf::with_read_buf;

/// Shortest read timeout set on the socket (zero would mean "block forever").
const MIN_READ_TIMEOUT: Duration = Duration::from_millis(1);

/// How long to wait when the session names no deadline and nothing can be read; a guard, as
/// every state that waits has a deadline or a socket.
const IDLE_WAIT: Duration = Duration::from_secs(1);

impl Client {
    /// Drains the session until it has nothing left: outputs (opening and closing transports,
    /// events) and bytes to write. `force` makes room in a full event buffer (used by close).
    pub(super) fn pump(&mut self, force: bool) {
        loop {
            self.shared.absorb(&mut self.session);
            let mut busy = false;
            while let Some(output) = self.session.poll_output() {
                busy = true;
                self.on_output(output, force);
            }
            self.out.clear();
            while self.session.poll_transmit(&mut self.out).is_some() {
                busy = true;
                self.write_out();
            }
            if !busy {
                break;
            }
        }
        if self.is_closed() {
            self.shared.close();
        }
    }

    fn on_output(&mut self, output: Output, force: bool) {
        match output {
            Output::Connect { id, url } => {
                if let Some(mut old) = self.transport.take() {
                    old.stream.shutdown();
                }
                if self.hooks.any() {
                    let attempt = match self.session.state() {
                        resock_core::SessionState::Connecting { attempt } => *attempt,
                        _ => 1,
                    };
                    self.hooks.prepare(attempt).apply(&mut self.session, id);
                }
                let now = Instant::now();
                let deadline = self
                    .session
                    .poll_timeout()
                    .unwrap_or_else(|| resock_core::saturating_later(now, self.session.config().open_timeout));
                let opened = match &self.tls {
                    Ok(tls) => net::connect(&url, deadline, tls.as_ref(), WRITE_TIMEOUT),
                    Err(error) => Err(error.clone()),
                };
                match opened {
                    Ok(stream) => {
                        self.transport = Some(Transport {
                            id,
                            stream,
                            readable: true,
                            writable: true,
                        });
                        self.session
                            .handle_transport(Instant::now(), id, TransportInput::Connected);
                    }
                    Err(error) => {
                        self.session
                            .handle_transport(Instant::now(), id, TransportInput::Failed(&error));
                    }
                }
            }
            Output::Disconnect { id } => {
                // The connection's last bytes (a close frame) go out before the transport closes.
                self.out.clear();
                while self.session.poll_transmit(&mut self.out).is_some() {
                    self.write_out();
                }
                if self.transport.as_ref().is_some_and(|t| t.id == id) {
                    if let Some(mut transport) = self.transport.take() {
                        transport.stream.shutdown();
                    }
                }
            }
            Output::Event(event) => self.push_event(event, force),
            _ => {}
        }
    }

    /// Buffers an event for the application, within the capacity as far as possible.
    fn push_event(&mut self, event: SessionEvent, force: bool) {
        if self.events.len() >= self.capacity {
            if matches!(
                event,
                SessionEvent::Sent(_) | SessionEvent::Pong { .. } | SessionEvent::Writable
            ) {
                self.dropped_events += 1;
                return;
            }
            if force {
                let oldest = self
                    .events
                    .iter()
                    .position(|e| !matches!(e, SessionEvent::HandedBack { .. }));
                if let Some(at) = oldest {
                    self.events.remove(at);
                    self.dropped_events += 1;
                }
            }
        }
        self.events.push_back(event);
    }

    /// Writes `self.out` to the current transport, reporting a failure to the session.
    fn write_out(&mut self) {
        if let Some(transport) = self.transport.as_mut().filter(|t| t.writable) {
            let written = transport
                .stream
                .write_all(&self.out)
                .and_then(|()| transport.stream.flush());
            if let Err(e) = written {
                transport.writable = false;
                let error = net::transport_error("writing to the server", &e);
                self.session
                    .handle_transport(Instant::now(), transport.id, TransportInput::Failed(&error));
            }
        }
        // Bytes for a transport that is gone or broken have nowhere to go; the session already
        // knows (it asked to disconnect, or was told of the failure).
        self.out.clear();
    }

    /// Waits for one thing to happen: data on the socket, a sender's message, or the earlier
    /// of the session's next deadline and `until`; then handles the deadline if it is due.
    /// `read` is false while the event buffer is full, so no more input is taken.
    pub(super) fn wait(&mut self, until: Option<Instant>, read: bool) {
        let now = Instant::now();
        let timer = self.session.poll_timeout();
        if timer.is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
            return;
        }
        let mut deadline = match (timer, until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let can_read = read && self.transport.as_ref().is_some_and(|t| t.readable);
        if can_read {
            if self.shared.has_senders() {
                deadline = Some(deadline.map_or(now + super::SENDER_POLL, |d| d.min(now + super::SENDER_POLL)));
            }
            self.read_once(deadline);
        } else {
            self.shared.wait(deadline.unwrap_or(now + IDLE_WAIT));
        }
        let now = Instant::now();
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
        }
    }

    /// One socket read, blocking at most until `deadline`.
    fn read_once(&mut self, deadline: Option<Instant>) {
        let Some(transport) = self.transport.as_mut() else {
            return;
        };
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()).max(MIN_READ_TIMEOUT));
        if let Err(e) = transport.stream.set_read_timeout(timeout) {
            // Without a read timeout the deadlines could not be kept.
            transport.readable = false;
            let error = net::transport_error("setting the read timeout", &e);
            self.session
                .handle_transport(Instant::now(), transport.id, TransportInput::Failed(&error));
            return;
        }
        let id = transport.id;
        let session = &mut self.session;
        let result = with_read_buf(|buf| {
            let result = transport.stream.read(buf);
            if let Ok(n @ 1..) = result {
                session.handle_transport(Instant::now(), id, TransportInput::Data(&buf[..n]));
            }
            result
        });
        match result {
            Ok(0) => {
                transport.readable = false;
                self.session.handle_transport(Instant::now(), id, TransportInput::Eof);
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                transport.readable = false;
                let error = net::transport_error("reading from the server", &e);
                self.session
                    .handle_transport(Instant::now(), id, TransportInput::Failed(&error));
            }
        }
    }

    /// Gives up on the current transport (close took too long): the session hears of a
    /// timeout failure and moves on.
    pub(super) fn abandon_transport(&mut self, why: &str) {
        if let Some(mut transport) = self.transport.take() {
            transport.stream.shutdown();
            let error = TransportError::new(TransportErrorKind::TimedOut, why);
            self.session
                .handle_transport(Instant::now(), transport.id, TransportInput::Failed(&error));
        }
    }
}
