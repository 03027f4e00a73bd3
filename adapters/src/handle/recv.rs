//! Receiving data messages (`recv`) and the typed router on top of it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use event_listener::EventListener;
use resock_core::Message;
use resock_core::session::ClosedReason;
#[cfg(feature = "json")]
use resock_core::session::SessionEvent;

use super::Client;

/// The future of [`Client::recv`]. With an empty inbox it first polls the client's loop itself
/// where the runtime allows it (see `async_driver/slot.rs`), so a message is read on this task;
/// otherwise, or when that brought nothing, it waits for the driver task's notification.
struct Recv<'a> {
    client: &'a Client,
    listener: Option<EventListener>,
    /// This future's waker is in the loop's slot.
    registered: bool,
}

impl Future for Recv<'_> {
    type Output = Result<Message, ClosedReason>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let shared = &this.client.shared;
        let mut drove = false;
        loop {
            if let Some(answer) = this.client.take_received() {
                if std::mem::take(&mut this.registered) {
                    shared.slot.forget_recv();
                }
                return Poll::Ready(answer);
            }
            if !drove {
                drove = true;
                // No listener while polling the loop: its own notification of the message
                // it reads would wake this task again for nothing.
                this.listener = None;
                if shared.slot.drive_for_recv(cx) {
                    this.registered = true;
                    continue;
                }
            }
            match this.listener.as_mut() {
                // Listening, then looking again: a message that arrives in between is seen.
                None => this.listener = Some(shared.received.listen()),
                Some(listener) => match Pin::new(listener).poll(cx) {
                    Poll::Ready(()) => this.listener = None,
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}

impl Drop for Recv<'_> {
    fn drop(&mut self) {
        if self.registered {
            self.client.shared.slot.forget_recv();
        }
    }
}

impl Client {
    /// The next data message, in order; `Err` with the reason once the session has closed for
    /// good and no message is left (a driver task dropped before the session closed reads as
    /// a fatal transport error). Messages go to one `recv` each; subscriptions see them too.
    ///
    /// Policy: messages wait in an inbox of
    /// [`recv_capacity`](crate::ClientBuilder::recv_capacity) messages. Until `recv` is first
    /// called it keeps the latest ones and drops older ones (counted in
    /// [`metrics`](Self::metrics)`().messages_dropped`), so a client nobody reads through
    /// `recv` never stalls. From the first call on, received messages are never dropped: while
    /// the inbox is full and the connection open, the client stops reading the socket (the
    /// server's writes wait; the heartbeat does not count that pause against the server), so
    /// the inbox holds at most `recv_capacity` messages plus those of the one socket read
    /// (64 KiB) that filled it. After [`close`](Self::close), reads go on and messages over
    /// the bound are dropped (and counted).
    ///
    /// Cancel-safe: a message is taken from the inbox only in the poll that returns it.
    pub async fn recv(&self) -> Result<Message, ClosedReason> {
        Recv {
            client: self,
            listener: None,
            registered: false,
        }
        .await
    }

    /// The next message from the inbox, or why none will come; `None` for now.
    fn take_received(&self) -> Option<Result<Message, ClosedReason>> {
        let capacity = self.shared.recv_capacity;
        let mut state = self.shared.lock();
        state.receiving = true;
        if let Some(message) = state.inbox.pop_front() {
            if state.inbox.len() + 1 >= capacity {
                // The driver may have stopped reading for this full inbox.
                self.shared.wake_driver.notify();
            }
            state.release_inbox_if_drained();
            return Some(Ok(message));
        }
        state.closed_reason().map(Err)
    }

    /// Dispatches every data message with `router` until the session has closed for good,
    /// then returns why. Each handler gets a clone of `ctx` (a `Client`, an `Arc` of your
    /// state) and is awaited before the next message is taken, so messages are handled in
    /// order. A message no handler takes goes to the router's fallback; without a fallback,
    /// one that did not decode is published to subscribers as
    /// `SessionEvent::Error(Error::Decode(..))` with its raw text, so none disappears.
    ///
    /// Build the router with [`envelope`](Self::envelope) when the builder set a custom one.
    ///
    /// ```no_run
    /// # async fn chat(client: resock::Client) {
    /// use resock::{AsyncRouter, Client};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Chat { from: String, text: String }
    ///
    /// let mut router = AsyncRouter::new(client.envelope().clone());
    /// router.on("chat", |client: Client, chat: Chat| async move {
    ///     println!("{}: {}", chat.from, chat.text);
    ///     client.send_typed("read", &chat.from).await.ok();
    /// });
    /// let closed = client.run_router(&mut router, client.clone()).await;
    /// eprintln!("{closed}");
    /// # }
    /// ```
    #[cfg(feature = "json")]
    pub async fn run_router<Ctx: Clone + Send + 'static>(
        &self,
        router: &mut crate::AsyncRouter<Ctx>,
        ctx: Ctx,
    ) -> ClosedReason {
        loop {
            let message = match self.recv().await {
                Ok(message) => message,
                Err(reason) => return reason,
            };
            if let Err(error) = router.dispatch(ctx.clone(), &message).await {
                self.publish(SessionEvent::Error(resock_core::session::Error::Decode(error)));
            }
        }
    }

    /// The envelope of [`send_typed`](Self::send_typed): the builder's, or the default one.
    #[cfg(feature = "json")]
    pub fn envelope(&self) -> &resock_core::typed::JsonEnvelope {
        &self.shared.envelope
    }

    /// Hands `event` to every subscription, as if the session had reported it.
    #[cfg(feature = "json")]
    fn publish(&self, event: SessionEvent) {
        self.shared.lock().events.push(event);
        self.shared.changed.notify(usize::MAX);
    }
}
