//! What the blocking client hands out: data messages for `recv` from a bounded buffer with the
//! policy of [`ClientBuilder::recv_capacity`](crate::ClientBuilder::recv_capacity), and every
//! event for `next_event` and subscriptions through the shared ring.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use resock_core::Message;
use resock_core::session::{ClosedReason, SessionEvent, SessionState};

use super::Client;

/// Received data messages waiting for `recv`.
#[derive(Debug)]
pub(super) struct Inbox {
    messages: VecDeque<Message>,
    capacity: usize,
    /// Whether the application has called `recv`; until then only the latest are kept.
    recv_called: bool,
    /// Whether the application closed the client (then a full buffer drops what arrives).
    pub(super) closing: bool,
    /// Messages dropped (before the first `recv`, or while closing with a full buffer).
    dropped: u64,
}

impl Inbox {
    pub(super) fn new(capacity: usize) -> Inbox {
        Inbox {
            messages: VecDeque::new(),
            capacity: capacity.max(1),
            recv_called: false,
            closing: false,
            dropped: 0,
        }
    }

    pub(super) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Takes `message` as the policy says. Otherwise a full buffer overflows only by what was
    /// already read (decoded after reading stopped), and keeps it: nothing may be lost.
    fn push(&mut self, message: Message) {
        if self.messages.len() >= self.capacity {
            if !self.recv_called {
                self.messages.pop_front();
                self.dropped += 1;
            } else if self.closing {
                // The application is closing and not reading: what no longer fits goes.
                self.dropped += 1;
                return;
            }
        }
        self.messages.push_back(message);
    }

    /// Whether the socket may be read: not while `recv` is behind on an open connection.
    fn wants_input(&self, open: bool) -> bool {
        !(self.recv_called && open && self.messages.len() >= self.capacity)
    }

    fn pop(&mut self) -> Option<Message> {
        let message = self.messages.pop_front();
        crate::release_if_drained(&mut self.messages);
        message
    }
}

impl Client {
    /// Drives IO until the next data message, as received (never decoded with the envelope).
    /// Once the session is closed for good, the messages still buffered come first, then
    /// `Err` with the reason (every later call returns it again).
    ///
    /// Messages come from a buffer of [`ClientBuilder::recv_capacity`](crate::ClientBuilder::recv_capacity)
    /// messages; from the first call on, a full buffer pauses reading from the socket, so no
    /// message is lost (see the [module docs](super)). Other events are not taken: they stay
    /// available to [`next_event`](Self::next_event) and subscriptions.
    pub fn recv(&mut self) -> Result<Message, ClosedReason> {
        self.inbox.recv_called = true;
        loop {
            if let Some(message) = self.inbox.pop() {
                self.update_reading();
                return Ok(message);
            }
            self.pump();
            if !self.inbox.messages.is_empty() {
                continue;
            }
            if let SessionState::Closed(reason) = self.session.state() {
                return Err(reason.clone());
            }
            self.wait(None);
        }
    }

    /// Drives IO until the session is open (`Ok`, at once if it is) or closed for good
    /// (`Err` with the reason): the first connection, or the next one after a drop. Events
    /// are not taken.
    pub fn connected(&mut self) -> Result<(), ClosedReason> {
        loop {
            self.pump();
            match self.session.state() {
                SessionState::Open => return Ok(()),
                SessionState::Closed(reason) => return Err(reason.clone()),
                _ => self.wait(None),
            }
        }
    }

    /// Drives IO until the next event; `None` once the session is closed for good and every
    /// event was delivered. Data messages arrive as received (`SessionEvent::Message`, also
    /// with an envelope on the builder: decode them with a `Router`). The events come from a
    /// buffer of [`ClientBuilder::event_capacity`](crate::ClientBuilder::event_capacity)
    /// that never pauses reading: when the owner falls that far behind, the oldest events
    /// are skipped (counted in [`Metrics::events_skipped`](resock_core::session::Metrics)).
    /// While [`recv`](Self::recv)'s buffer is full nothing is read, so this waits for timers,
    /// senders and the connection's end only; taking a message with `recv` resumes reading.
    pub fn next_event(&mut self) -> Option<SessionEvent> {
        self.next_event_until(None)
    }

    /// Like [`next_event`](Self::next_event), but also `None` when `timeout` passes first
    /// ([`is_closed`](Self::is_closed) tells the two apart).
    pub fn next_event_timeout(&mut self, timeout: Duration) -> Option<SessionEvent> {
        self.next_event_until(Some(resock_core::saturating_later(self.clock.now(), timeout)))
    }

    /// Takes data messages with [`recv`](Self::recv) until the session is closed for good,
    /// dispatching each to `router` with this client as the handlers' context (so they can
    /// reply or close), then returns why it closed. A message no handler takes goes to the
    /// router's fallback; without a fallback, one that did not decode is published to
    /// [`next_event`](Self::next_event) and subscriptions as
    /// `SessionEvent::Error(Error::Decode(..))` with its raw text, so none disappears. Other
    /// events stay available to them too.
    #[cfg(feature = "json")]
    pub fn run_router(&mut self, router: &mut resock_core::typed::Router<Client>) -> ClosedReason {
        loop {
            let message = match self.recv() {
                Ok(message) => message,
                Err(reason) => return reason,
            };
            if let Err(error) = router.dispatch(self, &message) {
                self.hub
                    .push(SessionEvent::Error(resock_core::session::Error::Decode(error)));
            }
        }
    }

    /// The envelope of [`send_typed`](Self::send_typed): the builder's, or the default one.
    /// Give a router the same one when the builder set a custom envelope.
    #[cfg(feature = "json")]
    pub fn envelope(&self) -> &resock_core::typed::JsonEnvelope {
        self.shared.envelope()
    }

    fn next_event_until(&mut self, until: Option<Instant>) -> Option<SessionEvent> {
        loop {
            if let Some(event) = self.hub.next_skipping_lag(&self.cursor) {
                return Some(event);
            }
            self.pump();
            if let Some(event) = self.hub.next_skipping_lag(&self.cursor) {
                return Some(event);
            }
            if self.is_closed() || until.is_some_and(|u| self.clock.now() >= u) {
                return None;
            }
            self.wait(until);
        }
    }

    /// Hands an event from the session to its readers: a data message to `recv`'s buffer, and
    /// every event, messages as received, to the listeners (as the async client does).
    pub(super) fn deliver(&mut self, event: SessionEvent) {
        if let SessionEvent::Message(message) = &event {
            self.inbox.push(message.clone());
            self.update_reading();
        }
        self.hub.push(event);
    }

    /// Stops or resumes reading the socket as `recv`'s buffer fills and empties, and tells the
    /// session (whose heartbeat does not count a pause against the server).
    pub(super) fn update_reading(&mut self) {
        let open = matches!(self.session.state(), SessionState::Open);
        let reading = self.inbox.wants_input(open);
        if reading != self.reading {
            self.reading = reading;
            self.session.set_reading(self.clock.now(), reading);
        }
    }
}
