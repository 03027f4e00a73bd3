//! The state a driver task shares with every [`Client`](crate::Client) handle and
//! [`Subscription`](crate::Subscription): the session itself, the broadcast ring of events, the
//! bounded inbox of data messages for `recv`, and the two notifications that connect them.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use event_listener::Event;
use resock_core::Message;
use resock_core::session::{
    ClosedReason, DisconnectReason, Session, SessionEvent, SessionState, TransportError, TransportErrorKind,
};

use super::DriverWake;
use crate::broadcast::{Cursor, Ring};

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Handles to the driver: a command was given, `recv` made room in a full inbox, or the
    /// last handle went away.
    pub(crate) wake_driver: DriverWake,
    /// Driver to handles and subscriptions: events or messages arrived, the queue took
    /// messages, the state changed, or the driver ended. Waiters re-check their own condition.
    pub(crate) changed: Event,
    /// Where the driver and the handles read the time.
    pub(crate) clock: crate::clock::Clock,
    /// Driver to `recv`: data messages went into the inbox, the session ended, or the driver
    /// did. `recv` waits on this alone, so a round that only wrote or took messages from the
    /// queue does not wake a reader for nothing.
    pub(crate) received: Event,
    /// Live `Client` handles; the driver closes the session when it drops to zero.
    pub(crate) handles: AtomicUsize,
    /// Most data messages held for `recv` (see [`State::inbox`]).
    pub(crate) recv_capacity: usize,
    /// The run loop, for `recv` to poll when its inbox is empty.
    pub(crate) slot: std::sync::Arc<super::RunSlot>,
    /// The codec of `send_typed` (the builder's envelope, or the default one). The session
    /// itself never decodes: `recv` and subscriptions get raw messages.
    #[cfg(feature = "json")]
    pub(crate) envelope: resock_core::typed::JsonEnvelope,
}

pub(crate) struct State {
    pub(crate) session: Session,
    /// Every session event for every subscription; bounded, and pushing never waits.
    pub(crate) events: Ring<SessionEvent>,
    /// Data messages for `recv`, oldest first. Until `recv` is first called it keeps the
    /// latest `recv_capacity`; afterwards a full inbox stops the driver reading (while open),
    /// so it holds at most `recv_capacity` plus the messages of the one read that filled it.
    pub(crate) inbox: VecDeque<Message>,
    /// `recv` was called: received messages must not be lost from now on.
    pub(crate) receiving: bool,
    /// Received messages dropped from the inbox (before the first `recv`, or while closing).
    pub(crate) messages_dropped: u64,
    /// The application asked to close for good: reads go on whatever the inbox holds.
    pub(crate) closing: bool,
    /// The session closed for good and the driver moved every output it had out of it: no
    /// message will follow what the inbox holds.
    pub(crate) ended: bool,
    /// The driver task ended; nothing more will happen.
    pub(crate) finished: bool,
    /// The connection is busy (see `keep.rs`): the drained inbox keeps its allocation.
    pub(crate) keep_buffers: bool,
}

impl Shared {
    /// Wakes everyone waiting on [`changed`](Self::changed), and the readers too when
    /// `received` (see [`received`](Self::received)).
    pub(crate) fn notify_changed(&self, received: bool) {
        self.changed.notify(usize::MAX);
        if received {
            self.received.notify(usize::MAX);
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under this lock cannot leave the session half-updated in a way that matters
        // more than stopping every handle would.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Why the session is over, once it is: the session's reason, or, for a driver dropped
    /// before the session closed (its executor shut down, or the task panicked), a transport
    /// error saying so.
    pub(crate) fn closed_reason(&self) -> Option<ClosedReason> {
        match self.session.state() {
            SessionState::Closed(reason) if self.ended || self.finished => Some(reason.clone()),
            _ if self.finished => Some(ClosedReason::Fatal(DisconnectReason::Transport(TransportError::new(
                TransportErrorKind::Io,
                "the driver task ended before the session closed: its runtime shut down, or the task \
                 panicked (on tokio, a runtime without IO or timers: build it with enable_all)",
            )))),
            _ => None,
        }
    }

    /// Whether the driver must stop reading the socket: `recv` is in use, its inbox is full,
    /// and the connection is open (never during a handshake, whose timeout would fire, nor
    /// once the application closes, which must end).
    pub(crate) fn inbox_blocks_reading(&self, capacity: usize) -> bool {
        self.receiving && !self.closing && self.inbox.len() >= capacity && *self.session.state() == SessionState::Open
    }

    /// Frees the inbox's allocation once it is empty, unless the connection is busy and it is
    /// within [`KEPT_BYTES_MAX`](resock_core::KEPT_BYTES_MAX).
    pub(crate) fn release_inbox_if_drained(&mut self) {
        let bytes = self.inbox.capacity().saturating_mul(std::mem::size_of::<Message>());
        if !(self.keep_buffers && bytes <= resock_core::KEPT_BYTES_MAX) {
            crate::release_if_drained(&mut self.inbox);
        }
    }

    /// A new subscriber to the events; the session reports `Sent` while there is one.
    pub(crate) fn subscribe(&mut self) -> Cursor {
        self.session.report_sent(true);
        self.events.subscribe()
    }

    /// Lets go of a subscriber; with none left the session stops reporting `Sent`, which
    /// nobody would see (the ring drops events nobody subscribes to).
    pub(crate) fn unsubscribe(&mut self, cursor: Cursor) {
        self.events.unsubscribe(cursor);
        if !self.events.has_subscribers() {
            self.session.report_sent(false);
        }
    }

    /// Keeps a received data message for `recv`, within the inbox policy.
    pub(crate) fn keep_for_recv(&mut self, message: Message, capacity: usize) {
        if self.inbox.len() >= capacity {
            if !self.receiving {
                // Nobody reads through `recv` (yet): keep the latest.
                self.inbox.pop_front();
                self.messages_dropped += 1;
            } else if self.closing {
                // Closing: the reader gets what came before the bound, without a gap.
                self.messages_dropped += 1;
                return;
            }
            // Otherwise the read that brought it filled the inbox: reading stops after it, and
            // nothing `recv` was promised is lost.
        }
        self.inbox.push_back(message);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use resock_core::WsUrl;
    use resock_core::session::SessionConfig;

    use super::*;

    fn state() -> State {
        let config = SessionConfig::new(WsUrl::parse("ws://127.0.0.1/").unwrap());
        State {
            session: Session::new(config, [7; 32], Instant::now()),
            events: Ring::new(4),
            inbox: VecDeque::new(),
            receiving: false,
            messages_dropped: 0,
            closing: false,
            ended: false,
            finished: false,
            keep_buffers: false,
        }
    }

    fn texts(state: &State) -> Vec<String> {
        state.inbox.iter().map(|m| m.as_text().unwrap().to_owned()).collect()
    }

    #[test]
    fn the_inbox_keeps_the_latest_until_recv_then_everything_and_drops_the_newest_while_closing() {
        let mut state = state();
        for n in 0..5 {
            state.keep_for_recv(Message::text(n.to_string()), 3);
        }
        assert_eq!(texts(&state), ["2", "3", "4"], "before recv: the latest");
        assert_eq!(state.messages_dropped, 2);

        state.receiving = true;
        state.keep_for_recv(Message::text("5"), 3);
        assert_eq!(texts(&state), ["2", "3", "4", "5"], "after recv: nothing is lost");
        assert_eq!(state.messages_dropped, 2);

        state.closing = true;
        state.keep_for_recv(Message::text("6"), 3);
        assert_eq!(
            texts(&state),
            ["2", "3", "4", "5"],
            "closing: no gap, the newest dropped"
        );
        assert_eq!(state.messages_dropped, 3);
    }

    #[test]
    fn the_session_reports_sent_while_anyone_subscribes() {
        let mut state = state();
        state.session.report_sent(false);
        let first = state.subscribe();
        let second = state.subscribe();
        assert!(state.session.reports_sent());
        state.unsubscribe(first);
        assert!(state.session.reports_sent(), "one subscriber is left");
        state.unsubscribe(second);
        assert!(!state.session.reports_sent());
    }

    #[test]
    fn reads_pause_only_for_a_full_inbox_of_an_open_session_that_recv_uses() {
        let mut state = state();
        for n in 0..3 {
            state.keep_for_recv(Message::text(n.to_string()), 3);
        }
        state.receiving = true;
        assert!(!state.inbox_blocks_reading(3), "not open: a handshake must go on");
        assert!(state.closed_reason().is_none());
        state.finished = true;
        assert!(matches!(
            state.closed_reason(),
            Some(ClosedReason::Fatal(DisconnectReason::Transport(_)))
        ));
    }
}
