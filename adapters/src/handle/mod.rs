//! [`Client`]: the cloneable, runtime-independent handle to a session run by the async driver.

mod recv;
mod send;

pub use recv::Events;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use resock_core::CloseCode;
use resock_core::session::{ClosedReason, DisconnectReason, Rtt, SessionState, TransportError, TransportErrorKind};

use crate::async_driver::Shared;
use resock_core::session::HandedBack;

/// A handle to a WebSocket client that stays connected; clone it freely (tasks, threads).
///
/// Start one with [`ClientBuilder::start_smol`](crate::ClientBuilder), `start_async_std`, or
/// [`ClientBuilder::build_async`](crate::ClientBuilder::build_async) for another executor. A
/// driver task owns the socket; the handles share the sans-IO session with it behind a mutex
/// that is never held across an `.await`.
///
/// # Sending
/// [`send`](Self::send) queues a message (in order, across reconnects) and waits while there
/// is no room; [`try_send`](Self::try_send) hands it back instead. Every accepted message ends
/// in exactly one [`SessionEvent::Sent`] or [`SessionEvent::HandedBack`].
///
/// # Receiving
/// Every session event goes into one bounded buffer ([`ClientBuilder::event_capacity`],
/// default [`DEFAULT_EVENT_CAPACITY`]). Take them with [`events`](Self::events) (all of them)
/// or [`recv`](Self::recv) (data messages; other events are skipped, handed-back messages are
/// kept for [`take_handed_back`](Self::take_handed_back)). Each event goes to one taker, not
/// to every handle.
///
/// **Someone must take events.** While the buffer is full the driver pauses: it stops
/// reading the socket and handling timers, and sends wait. Nothing is dropped and memory stays
/// bounded, but an application that sends and never reads stalls after `event_capacity`
/// events (for example `Sent` confirmations): run a task over `events()` or `recv()`.
/// Closing is the exception: once [`close`](Self::close) was called, a full buffer only stops
/// reading, so the close always ends.
///
/// # Closing
/// [`close`](Self::close) closes gracefully. Dropping the last handle (an [`Events`] stream
/// counts as one) closes with 1000, after which the driver task ends.
///
/// [`SessionEvent::Sent`]: resock_core::SessionEvent::Sent
/// [`SessionEvent::HandedBack`]: resock_core::SessionEvent::HandedBack
/// [`ClientBuilder::event_capacity`]: crate::ClientBuilder::event_capacity
/// [`DEFAULT_EVENT_CAPACITY`]: crate::DEFAULT_EVENT_CAPACITY
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.handles.fetch_add(1, Ordering::AcqRel);
        Client { shared }
    }

    /// The session's state now.
    pub fn state(&self) -> SessionState {
        self.shared.lock().session.state().clone()
    }

    /// Latest and smoothed round-trip times of heartbeat pings, once a pong arrived.
    pub fn rtt(&self) -> Option<Rtt> {
        self.shared.lock().session.rtt()
    }

    /// Messages accepted and not yet handed to the transport.
    pub fn queued_messages(&self) -> usize {
        self.shared.lock().session.queued_messages()
    }

    /// Takes the messages the session handed back that [`recv`](Self::recv) stepped over, in
    /// order. ([`events`](Self::events) yields them as `SessionEvent::HandedBack` instead.)
    pub fn take_handed_back(&self) -> Vec<HandedBack> {
        let mut state = self.shared.lock();
        let taken: Vec<_> = state.aside.drain(..).collect();
        drop(state);
        if !taken.is_empty() {
            self.shared.changed.notify(usize::MAX);
        }
        taken
    }

    /// Closes for good: queued messages are written first when open, then the close handshake
    /// runs (bounded by the close timeout). Resolves once the driver has closed the transport
    /// and ended, with why the session closed; unsent messages are handed back as events.
    ///
    /// The close starts at the first poll; dropping the future afterwards does not undo it.
    /// Events keep arriving while it runs. If nobody takes them and the buffer fills, the
    /// driver stops reading the socket but goes on closing, so the close then ends by the
    /// close timeout instead of the server's answer.
    pub async fn close(&self, code: CloseCode, reason: &str) -> ClosedReason {
        {
            let mut state = self.shared.lock();
            state.closing = true;
            state.session.close(Instant::now(), code, reason);
        }
        self.shared.wake_driver.notify(usize::MAX);
        loop {
            let listener = {
                let state = self.shared.lock();
                if state.finished {
                    return match state.session.state() {
                        SessionState::Closed(reason) => reason.clone(),
                        _ => ClosedReason::Fatal(DisconnectReason::Transport(TransportError::new(
                            TransportErrorKind::Io,
                            "the driver task was dropped before the session closed",
                        ))),
                    };
                }
                self.shared.changed.listen()
            };
            listener.await;
        }
    }
}

impl Clone for Client {
    fn clone(&self) -> Self {
        Client::new(Arc::clone(&self.shared))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.wake_driver.notify(usize::MAX);
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}
