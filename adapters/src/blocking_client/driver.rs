//! The run loop of [`Client`]: drain the session's outputs and transmissions, then wait once
//! for the socket, the session's next deadline and the senders together (on the poller, or by
//! running a simulated world: the seam is `io.rs`).

use std::time::Instant;

use resock_core::session::{Output, TransportError, TransportErrorKind, TransportInput};

use super::{Client, Transport};
use crate::blocking::WRITE_TIMEOUT;
use crate::net;
use crate::read_buf::with_read_buf;

impl Client {
    /// Drains the session until it has nothing left: a close or messages from senders,
    /// outputs (opening and closing transports, events) and bytes to write.
    pub(super) fn pump(&mut self) {
        loop {
            if let Some((code, reason)) = self.shared.take_close() {
                self.inbox.closing = true;
                self.session.close(self.clock.now(), code, &reason);
            }
            self.shared.absorb(&mut self.session);
            let mut busy = false;
            while let Some(output) = self.session.poll_output() {
                busy = true;
                self.on_output(output);
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
        self.update_reading();
        if self.is_closed() {
            self.shared.close();
            self.hub.end();
        }
    }

    fn on_output(&mut self, output: Output) {
        self.tracer.on_output(&output, self.session.state());
        match output {
            Output::Connect { id, url } => {
                if let Some(mut old) = self.transport.take() {
                    old.socket.shutdown();
                }
                if self.hooks.any() {
                    let attempt = match self.session.state() {
                        resock_core::SessionState::Connecting { attempt, .. } => *attempt,
                        _ => 1,
                    };
                    self.hooks.prepare(attempt).apply(&mut self.session, id);
                }
                let now = self.clock.now();
                let deadline = self
                    .session
                    .poll_timeout()
                    .unwrap_or_else(|| resock_core::saturating_later(now, self.session.config().open_timeout));
                let opened = self.io.open(&url, deadline, &self.shared);
                match opened {
                    Ok(socket) => {
                        self.transport = Some(Transport {
                            id,
                            socket,
                            readable: true,
                            writable: true,
                            maybe_readable: true,
                        });
                        self.session
                            .handle_transport(self.clock.now(), id, TransportInput::Connected);
                    }
                    Err(error) => {
                        self.session
                            .handle_transport(self.clock.now(), id, TransportInput::Failed(&error));
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
                        transport.socket.shutdown();
                    }
                }
            }
            Output::Event(event) => self.deliver(event),
            _ => {}
        }
    }

    /// Writes `self.out` to the current transport, reporting a failure to the session.
    fn write_out(&mut self) {
        if let Some(transport) = self.transport.as_mut().filter(|t| t.writable) {
            if let Err(e) = transport.socket.write_all(&self.out, WRITE_TIMEOUT) {
                transport.writable = false;
                let error = net::transport_error("writing to the server", &e);
                self.session
                    .handle_transport(self.clock.now(), transport.id, TransportInput::Failed(&error));
            }
        }
        // Bytes for a transport that is gone or broken have nowhere to go; the session already
        // knows (it asked to disconnect, or was told of the failure).
        self.out.clear();
    }

    /// Makes progress on one thing: a due deadline, one read of data already waiting, or else
    /// one wait on the poller for the socket (while reading), a sender, or the earlier of the
    /// session's next deadline and `until`; a deadline due after the wait is handled too.
    pub(super) fn wait(&mut self, until: Option<Instant>) {
        let now = self.clock.now();
        let timer = self.session.poll_timeout();
        if timer.is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
            return;
        }
        let read = self.reading && self.transport.as_ref().is_some_and(|t| t.readable);
        if read && self.transport.as_ref().is_some_and(|t| t.maybe_readable) && self.read_once() {
            return;
        }
        let deadline = match (timer, until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let registered = self.transport.as_ref().map(|t| (&t.socket, read));
        match self.io.wait(&self.shared, registered, deadline, now) {
            Ok(ready) => {
                if let Some(transport) = self.transport.as_mut() {
                    transport.maybe_readable |= ready.readable;
                }
            }
            Err(e) => self.fail_transport("waiting for the server", &e),
        }
        let now = self.clock.now();
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
        }
    }

    /// One non-blocking read into the session. Returns false when nothing was there.
    fn read_once(&mut self) -> bool {
        let Some(transport) = self.transport.as_mut() else {
            return false;
        };
        let id = transport.id;
        let session = &mut self.session;
        let socket = &mut transport.socket;
        let result = with_read_buf(|buf| {
            let result = socket.read(buf);
            if let Ok(n @ 1..) = result {
                session.handle_transport(self.clock.now(), id, TransportInput::Data(&buf[..n]));
            }
            result
        });
        match result {
            Ok(0) => {
                transport.readable = false;
                self.session.handle_transport(self.clock.now(), id, TransportInput::Eof);
            }
            Ok(_) => {
                if transport.socket.wants_write() {
                    // TLS answered something while reading (an alert, a key update).
                    if let Err(e) = transport.socket.write_all(&[], WRITE_TIMEOUT) {
                        self.fail_transport("writing to the server", &e);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                transport.maybe_readable = false;
                return false;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                transport.readable = false;
                let error = net::transport_error("reading from the server", &e);
                self.session
                    .handle_transport(self.clock.now(), id, TransportInput::Failed(&error));
            }
        }
        true
    }

    /// Reports an IO failure of the current transport to the session.
    fn fail_transport(&mut self, doing: &str, e: &std::io::Error) {
        if let Some(transport) = self.transport.as_mut() {
            transport.readable = false;
            transport.writable = false;
            let error = net::transport_error(doing, e);
            self.session
                .handle_transport(self.clock.now(), transport.id, TransportInput::Failed(&error));
        }
    }

    /// Gives up on the current transport (close took too long): the session hears of a
    /// timeout failure and moves on.
    pub(super) fn abandon_transport(&mut self, why: &str) {
        if let Some(mut transport) = self.transport.take() {
            transport.socket.shutdown();
            let error = TransportError::new(TransportErrorKind::TimedOut, why);
            self.session
                .handle_transport(self.clock.now(), transport.id, TransportInput::Failed(&error));
        }
    }
}
