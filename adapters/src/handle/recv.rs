//! Receiving data messages (`recv`) and the typed router on top of it.

use resock_core::Message;
use resock_core::session::ClosedReason;

use super::Client;

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
        let capacity = self.shared.recv_capacity;
        self.wait_for(|state| {
            state.receiving = true;
            if let Some(message) = state.inbox.pop_front() {
                if state.inbox.len() + 1 >= capacity {
                    // The driver may have stopped reading for this full inbox.
                    self.shared.wake_driver.notify(usize::MAX);
                }
                crate::release_if_drained(&mut state.inbox);
                return Some(Ok(message));
            }
            state.closed_reason().map(Err)
        })
        .await
    }

    /// Waits for the next data message and dispatches it with `router`: `None` once the
    /// session has ended, else what the router did, or the decode error (the connection is
    /// not affected). Cancel-safe like [`recv`](Self::recv). The builder's
    /// [`envelope`](crate::ClientBuilder::envelope) is only for sending: pass the same one to
    /// the router.
    ///
    /// Handlers are synchronous; to answer from one, give it a `Client` in `ctx` and use
    /// [`try_send`](Self::try_send).
    #[cfg(feature = "json")]
    pub async fn recv_routed<Ctx>(
        &self,
        router: &mut resock_core::typed::Router<Ctx>,
        ctx: &mut Ctx,
    ) -> Option<Result<resock_core::typed::Dispatched, resock_core::typed::DecodeError>> {
        let message = self.recv().await.ok()?;
        Some(router.dispatch(ctx, &message))
    }

    /// Dispatches every data message with `router` until the session ends; messages that do
    /// not decode go to `on_error`.
    ///
    /// ```no_run
    /// # async fn chat(client: resock::Client) {
    /// use resock_core::typed::{JsonEnvelope, Router};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Chat { from: String, text: String }
    ///
    /// let mut router = Router::<usize>::new(JsonEnvelope::new());
    /// router.on("chat", |seen: &mut usize, chat: Chat| {
    ///     *seen += 1;
    ///     println!("{}: {}", chat.from, chat.text);
    /// });
    /// let mut seen = 0;
    /// client.run_router(&mut router, &mut seen, |_, error| eprintln!("{error}")).await;
    /// # }
    /// ```
    #[cfg(feature = "json")]
    pub async fn run_router<Ctx>(
        &self,
        router: &mut resock_core::typed::Router<Ctx>,
        ctx: &mut Ctx,
        mut on_error: impl FnMut(&mut Ctx, resock_core::typed::DecodeError),
    ) {
        while let Some(result) = self.recv_routed(router, ctx).await {
            if let Err(error) = result {
                on_error(ctx, error);
            }
        }
    }
}
