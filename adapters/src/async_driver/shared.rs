//! The state a driver task shares with every [`Client`](crate::Client) handle: the session
//! itself, the bounded event buffer, and the two notifications that connect them.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use event_listener::Event;
use resock_core::session::{HandedBack, Session, SessionEvent};

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Handles to the driver: a command was given, a full event buffer got room, or the last
    /// handle went away.
    pub(crate) wake_driver: Event,
    /// Driver to handles: events arrived, the queue took messages, the state changed, or the
    /// driver ended. Waiters re-check their own condition.
    pub(crate) changed: Event,
    /// Live `Client` handles; the driver closes the session when it drops to zero.
    pub(crate) handles: AtomicUsize,
    /// Most events buffered for the application before the driver pauses.
    pub(crate) capacity: usize,
    /// Most handed-back messages kept for the application before sends wait.
    pub(crate) aside_capacity: usize,
    /// The codec of `send_typed` (the session's envelope, or the default one).
    #[cfg(feature = "json")]
    pub(crate) envelope: resock_core::typed::JsonEnvelope,
}

pub(crate) struct State {
    pub(crate) session: Session,
    /// Events for the application, in order; at most `capacity`.
    pub(crate) events: VecDeque<SessionEvent>,
    /// Handed-back messages `recv` stepped over; they precede everything in `events`.
    pub(crate) aside: VecDeque<HandedBack>,
    /// `events` is full: the driver stopped reading the socket and waits for the application
    /// to take events (and, unless `closing`, stopped taking outputs and handling timers).
    pub(crate) paused: bool,
    /// The application asked to close for good: a full buffer then only stops socket reads,
    /// so the close finishes (no reconnect follows, so the events it adds are few).
    pub(crate) closing: bool,
    /// The driver task ended; nothing more will happen.
    pub(crate) finished: bool,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under this lock cannot leave the session half-updated in a way that matters
        // more than stopping every handle would.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the application has to take events (or handed-back messages) before the
    /// client accepts more messages.
    pub(crate) fn backed_up(&self, state: &State) -> bool {
        state.events.len() >= self.capacity || state.aside.len() >= self.aside_capacity
    }

    /// Called by a handle after it took events: a paused driver can go on, and senders that
    /// waited for room may try again.
    pub(crate) fn took_events(&self, state: &State, was_backed_up: bool) {
        if state.paused {
            self.wake_driver.notify(usize::MAX);
        }
        if was_backed_up {
            self.changed.notify(usize::MAX);
        }
    }
}
