//! Listeners of a blocking client: one bounded [`Ring`] of events shared by the owner's
//! [`next_event`](super::Client::next_event) and every [`Subscription`], with a Condvar that
//! wakes waiting subscribers. The owner pushes without waiting, so no listener can stall it.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use resock_core::session::SessionEvent;

use crate::broadcast::{Cursor, Lagged, Ring};
use crate::clock::Clock;

/// The ring and whether the client is closed for good, behind one lock.
#[derive(Debug)]
pub(super) struct Hub {
    state: Mutex<HubState>,
    changed: Condvar,
    /// The owner's clock: the timeouts of subscriptions are measured on it (see
    /// [`Clock::for_waiting`]).
    clock: Clock,
}

#[derive(Debug)]
struct HubState {
    ring: Ring<SessionEvent>,
    /// No event will be pushed any more.
    ended: bool,
}

impl Hub {
    /// A hub holding at most `capacity` events.
    pub(super) fn new(capacity: usize, clock: Clock) -> Arc<Hub> {
        Arc::new(Hub {
            state: Mutex::new(HubState {
                ring: Ring::new(capacity),
                ended: false,
            }),
            changed: Condvar::new(),
            clock,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // Every change under the lock is one step, so a panic cannot leave it half-done.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new listener that sees events pushed from now on (none after the end).
    pub(super) fn subscribe(&self) -> Cursor {
        self.lock().ring.subscribe()
    }

    /// Hands `event` to every listener and wakes the waiting ones.
    pub(super) fn push(&self, event: SessionEvent) {
        self.lock().ring.push(event);
        self.changed.notify_all();
    }

    /// No more events: listeners end once they read what is left.
    pub(super) fn end(&self) {
        let mut state = self.lock();
        if !state.ended {
            state.ended = true;
            drop(state);
            self.changed.notify_all();
        }
    }

    /// The owner's next event, skipping (and so counting) what its full buffer lost.
    pub(super) fn next_skipping_lag(&self, cursor: &Cursor) -> Option<SessionEvent> {
        let mut state = self.lock();
        loop {
            // A lag report is skipped: the ring has counted it.
            if let Ok(event) = state.ring.next(cursor)? {
                return Some(event);
            }
        }
    }

    /// Events listeners (the owner included) missed by falling behind, counted as each
    /// learned of it.
    pub(super) fn skipped(&self) -> u64 {
        self.lock().ring.skipped()
    }

    /// Blocks until `cursor` has an event or a lag report, or the hub ended with nothing left
    /// for it (`None`), or `deadline` passed (`None` too).
    fn next_until(&self, cursor: &Cursor, deadline: Option<Instant>) -> Option<Result<SessionEvent, Lagged>> {
        let clock = self.clock.for_waiting();
        let mut state = self.lock();
        loop {
            if let Some(next) = state.ring.next(cursor) {
                return Some(next);
            }
            if state.ended {
                return None;
            }
            state = match deadline {
                None => self.changed.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    if deadline <= clock.now() {
                        return None;
                    }
                    clock.wait_until(&self.changed, state, deadline)
                }
            };
        }
    }

    fn unsubscribe(&self, cursor: Cursor) {
        self.lock().ring.unsubscribe(cursor);
    }

    fn is_done(&self, cursor: &Cursor) -> bool {
        let state = self.lock();
        state.ended && !state.ring.is_ready(cursor)
    }
}

/// Every event of a blocking client from the moment of [`subscribe`](super::Client::subscribe),
/// in order, on any thread.
///
/// Iterating blocks until the next event (the owner thread must keep driving the client). A
/// subscription that falls more than the event capacity behind skips to the oldest event the
/// client still holds and first yields `Err(Lagged(n))` with the number it missed; it never
/// slows the client. Iteration ends (`None`) once the client is closed for good or dropped and
/// every event before that was read. Data messages appear here too, as received; they are not
/// taken from
/// [`recv`](super::Client::recv).
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<Hub>,
    cursor: Option<Cursor>,
}

impl Subscription {
    pub(super) fn new(hub: Arc<Hub>) -> Subscription {
        let cursor = hub.subscribe();
        Subscription {
            hub,
            cursor: Some(cursor),
        }
    }

    /// Waits at most `timeout` for the next event: `None` when the timeout passed first or the
    /// subscription ended ([`is_ended`](Self::is_ended) tells the two apart). A zero timeout
    /// only takes what is already there.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<SessionEvent, Lagged>> {
        let deadline = resock_core::saturating_later(self.hub.clock.for_waiting().now(), timeout);
        self.hub.next_until(self.cursor.as_ref()?, Some(deadline))
    }

    /// Whether the client is closed for good and this subscription read every event.
    pub fn is_ended(&self) -> bool {
        self.cursor.as_ref().is_none_or(|cursor| self.hub.is_done(cursor))
    }
}

impl Iterator for Subscription {
    type Item = Result<SessionEvent, Lagged>;

    /// Blocks until the next event; `None` once the client is closed for good and everything
    /// was read.
    fn next(&mut self) -> Option<Self::Item> {
        self.hub.next_until(self.cursor.as_ref()?, None)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(cursor) = self.cursor.take() {
            self.hub.unsubscribe(cursor);
        }
    }
}
