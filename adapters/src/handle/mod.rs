//! [`Client`]: the cloneable, runtime-independent handle to a session run by the async driver.

mod recv;
mod send;
mod subscription;

pub use subscription::Subscription;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use event_listener::{Event, EventListener};
use resock_core::CloseCode;
use resock_core::session::{ClosedReason, Metrics, Rtt, SessionState};

use crate::async_driver::{Shared, State};

/// A handle to a WebSocket client that stays connected; clone it freely (tasks, threads).
///
/// Start one with `ClientBuilder::start_tokio`, `start_smol` or `start_async_std`, or build
/// it with `build_tokio` or `build_async` (any executor) to spawn the driver yourself. A
/// driver task runs the connection; the handles share the sans-IO session with it behind a
/// mutex that is never held across an `.await`, nor while a hook of the builder runs. On
/// tokio, a [`recv`](Self::recv) with nothing waiting reads the socket on its own task when it
/// runs inside the driver's runtime, so a message needs no hand-over between tasks.
///
/// # Sending
/// [`send`](Self::send) queues a message (in order, across reconnects) and waits while the
/// queue is full; [`try_send`](Self::try_send) hands it back instead. Neither ever waits for
/// anyone to read events. Every accepted message ends in exactly one [`SessionEvent::Sent`] or
/// [`SessionEvent::HandedBack`], which subscriptions see.
///
/// # Receiving
/// * [`recv`](Self::recv): the data messages, each to one caller, from an inbox bounded by
///   [`ClientBuilder::recv_capacity`]. Once `recv` was called, a full inbox stops the client
///   reading the socket (backpressure; nothing is lost); before that, only the latest messages
///   are kept. It ends with the reason the session closed.
/// * [`subscribe`](Self::subscribe): a [`Subscription`] sees every session event (state
///   changes, messages, pongs, `Sent`, handed-back messages, errors) from the moment it was
///   made, in order. Each is bounded by [`ClientBuilder::event_capacity`]; one that falls
///   behind skips ahead and is told how many it missed. Subscriptions never slow the
///   connection, the timers, the sender or each other, and `recv` and subscriptions never take
///   events from each other.
/// * [`connected`](Self::connected) waits for the connection to be open.
///
/// Nothing needs a reader: an application that only sends never stalls, and the heartbeat,
/// open and close timeouts always run.
///
/// # Closing
/// [`close`](Self::close) closes gracefully. Dropping the last handle (subscriptions do not
/// count) closes with 1000, after which the driver task ends.
///
/// [`SessionEvent::Sent`]: resock_core::SessionEvent::Sent
/// [`SessionEvent::HandedBack`]: resock_core::SessionEvent::HandedBack
/// [`ClientBuilder::event_capacity`]: crate::ClientBuilder::event_capacity
/// [`ClientBuilder::recv_capacity`]: crate::ClientBuilder::recv_capacity
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.handles.fetch_add(1, Ordering::AcqRel);
        Client { shared }
    }

    /// Whether the driver keeps drained buffers (it saw the connection busy), and the inbox's
    /// allocated room, in messages.
    #[cfg(all(test, feature = "sim"))]
    pub(crate) fn kept_buffers(&self) -> (bool, usize) {
        let state = self.shared.lock();
        (state.keep_buffers, state.inbox.capacity())
    }

    /// The session's state now.
    pub fn state(&self) -> SessionState {
        self.shared.lock().session.state().clone()
    }

    /// Latest and smoothed round-trip times of heartbeat pings, once a pong arrived.
    pub fn rtt(&self) -> Option<Rtt> {
        self.shared.lock().session.rtt()
    }

    /// The subprotocol the server agreed for the connection now open (one of those offered
    /// with [`ClientBuilder::subprotocol`](crate::ClientBuilder::subprotocol)); `None` while
    /// no connection is open or when the server agreed none. Each reconnect asks again.
    pub fn subprotocol(&self) -> Option<String> {
        self.shared.lock().session.subprotocol().map(str::to_owned)
    }

    /// permessage-deflate as agreed for the connection now open; `None` while no connection
    /// is open or when its messages go uncompressed. Its `Display` is the
    /// `Sec-WebSocket-Extensions` value.
    pub fn deflate(&self) -> Option<resock_core::DeflateParams> {
        self.shared.lock().session.deflate()
    }

    /// Messages accepted and not yet handed to the transport.
    pub fn queued_messages(&self) -> usize {
        self.shared.lock().session.queued_messages()
    }

    /// What the session has done so far (see [`Metrics`]), with the client's own counts:
    /// `events_skipped` (events subscriptions missed because they fell behind) and
    /// `messages_dropped` (received messages `recv`'s inbox let go; see
    /// [`ClientBuilder::recv_capacity`](crate::ClientBuilder::recv_capacity)).
    pub fn metrics(&self) -> Metrics {
        let state = self.shared.lock();
        let mut metrics = state.session.metrics();
        metrics.events_skipped = state.events.skipped();
        metrics.messages_dropped = state.messages_dropped;
        metrics
    }

    /// Resolves once the connection is open: at once when it is, else when a connection
    /// attempt succeeds (through any number of retries), or with the reason when the session
    /// closes for good first.
    pub async fn connected(&self) -> Result<(), ClosedReason> {
        self.wait_for(|state| match state.session.state() {
            SessionState::Open => Some(Ok(())),
            _ => state.closed_reason().map(Err),
        })
        .await
    }

    /// Waits until `ready` answers, checking it under the lock each time the driver reports a
    /// change.
    async fn wait_for<T>(&self, ready: impl FnMut(&mut State) -> Option<T>) -> T {
        self.wait_on(&self.shared.changed, ready).await
    }

    /// Waits until `ready` answers, checking it under the lock each time `event` fires.
    async fn wait_on<T>(&self, event: &Event, mut ready: impl FnMut(&mut State) -> Option<T>) -> T {
        loop {
            let listener: EventListener = {
                let mut state = self.shared.lock();
                if let Some(answer) = ready(&mut state) {
                    return answer;
                }
                // Listening under the lock: a change the driver makes next cannot be missed.
                event.listen()
            };
            listener.await;
        }
    }

    /// Closes for good: queued messages are written first when open, then the close handshake
    /// runs (bounded by the close timeout). Resolves once the driver has closed the transport
    /// and ended, with why the session closed; unsent messages are handed back as events.
    ///
    /// The close starts at the first poll; dropping the future afterwards does not undo it.
    /// Reads go on while it runs whatever the readers do; data messages that arrive while
    /// `recv`'s inbox is full are dropped (and counted in [`metrics`](Self::metrics)).
    pub async fn close(&self, code: CloseCode, reason: &str) -> ClosedReason {
        {
            let mut state = self.shared.lock();
            state.closing = true;
            state.session.close(self.shared.clock.now(), code, reason);
        }
        self.shared.wake_driver.notify();
        self.wait_for(|state| if state.finished { state.closed_reason() } else { None })
            .await
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
            self.shared.wake_driver.notify();
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
