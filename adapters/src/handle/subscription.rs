//! [`Subscription`]: one listener's view of every session event.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use event_listener::EventListener;
use futures_lite::Stream;
use resock_core::session::SessionEvent;

use super::Client;
use crate::Lagged;
use crate::async_driver::Shared;
use crate::broadcast::Cursor;

impl Client {
    /// A new listener for every session event from now on, in order: state changes, data
    /// messages (which [`recv`](Self::recv) also gets), pongs, `Sent`, handed-back messages
    /// and errors. Make as many as you like; each sees everything.
    ///
    /// Each subscription is bounded by
    /// [`event_capacity`](crate::ClientBuilder::event_capacity): one that falls further behind
    /// skips ahead to the oldest event still held and first yields `Err(Lagged(n))` with the
    /// number it missed (counted in [`metrics`](Self::metrics)`().events_skipped`). It never
    /// slows the connection, its timers, the sender or other listeners.
    ///
    /// A subscription does not keep the session alive (dropping the last `Client` still
    /// closes it); it ends once the driver has ended and it has yielded everything. Dropping
    /// it unsubscribes.
    pub fn subscribe(&self) -> Subscription {
        let cursor = self.shared.lock().subscribe();
        Subscription {
            shared: Arc::clone(&self.shared),
            cursor: Some(cursor),
            listener: None,
        }
    }
}

/// A stream of every session event from when it was made (see [`Client::subscribe`]):
/// `Ok(event)`, or `Err(Lagged(n))` when it fell behind and missed `n` events.
#[must_use = "a subscription does nothing unless polled"]
pub struct Subscription {
    shared: Arc<Shared>,
    /// Always `Some` until dropped.
    cursor: Option<Cursor>,
    listener: Option<EventListener>,
}

impl Subscription {
    /// The next event: `Some(Ok(event))`, `Some(Err(Lagged(n)))` after missing `n` events,
    /// or `None` once the driver has ended and every event was yielded. Cancel-safe.
    pub async fn next(&mut self) -> Option<Result<SessionEvent, Lagged>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for Subscription {
    type Item = Result<SessionEvent, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let cursor = this.cursor.as_ref().expect("a subscription has a cursor until dropped");
        loop {
            if this.listener.is_none() {
                let mut state = this.shared.lock();
                if let Some(next) = state.events.next(cursor) {
                    return Poll::Ready(Some(next));
                }
                if state.finished {
                    return Poll::Ready(None);
                }
                // Listening under the lock: an event pushed next cannot be missed.
                this.listener = Some(this.shared.changed.listen());
            }
            let listener = this.listener.as_mut().expect("set above");
            match Pin::new(listener).poll(cx) {
                Poll::Ready(()) => this.listener = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(cursor) = self.cursor.take() {
            self.shared.lock().unsubscribe(cursor);
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}
