//! Receiving: the event stream, data messages only, and the typed router.

use std::pin::Pin;
use std::task::{Context, Poll};

use event_listener::EventListener;
use futures_lite::Stream;
use resock_core::Message;
use resock_core::session::SessionEvent;

use super::Client;
use resock_core::session::HandedBack;

impl Client {
    /// Every session event, in order: state changes, messages, pongs, `Sent`, handed-back
    /// messages and errors. The stream ends once the driver has ended and the buffer is empty.
    ///
    /// The stream is a handle too: while it exists, the session stays up.
    pub fn events(&self) -> Events {
        Events {
            client: self.clone(),
            listener: None,
        }
    }

    /// The next data message, skipping other events; `None` once the driver has ended and no
    /// message is left. Handed-back messages it steps over are kept for
    /// [`take_handed_back`](Self::take_handed_back).
    ///
    /// Cancel-safe: a message is taken from the buffer only in the poll that returns it.
    ///
    /// With [`ClientBuilder::envelope`](crate::ClientBuilder::envelope) set, text messages
    /// arrive as `SessionEvent::Typed` through [`events`](Self::events) and are skipped here.
    pub async fn recv(&self) -> Option<Message> {
        loop {
            let listener = {
                let mut state = self.shared.lock();
                let backed_up = self.shared.backed_up(&state);
                let mut took = false;
                let mut message = None;
                while let Some(event) = state.events.pop_front() {
                    took = true;
                    match event {
                        SessionEvent::Message(m) => {
                            message = Some(m);
                            break;
                        }
                        SessionEvent::HandedBack { id, message, reason } => {
                            state.aside.push_back(HandedBack { id, message, reason });
                        }
                        _ => {}
                    }
                }
                if took {
                    crate::release_if_drained(&mut state.events);
                    self.shared.took_events(&state, backed_up);
                }
                if message.is_some() {
                    return message;
                }
                if state.finished {
                    return None;
                }
                self.shared.changed.listen()
            };
            listener.await;
        }
    }

    /// Waits for the next data message and dispatches it with `router`: `None` once the
    /// session has ended, else what the router did, or the decode error (the connection is
    /// not affected). Cancel-safe like [`recv`](Self::recv).
    ///
    /// Handlers are synchronous; to answer from one, give it a `Client` in `ctx` and use
    /// [`try_send`](Self::try_send).
    #[cfg(feature = "json")]
    pub async fn recv_routed<Ctx>(
        &self,
        router: &mut resock_core::typed::Router<Ctx>,
        ctx: &mut Ctx,
    ) -> Option<Result<resock_core::typed::Dispatched, resock_core::typed::DecodeError>> {
        let message = self.recv().await?;
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

/// The stream of a client's session events (see [`Client::events`]).
#[must_use = "streams do nothing unless polled"]
pub struct Events {
    client: Client,
    listener: Option<EventListener>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// The client this stream belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl Stream for Events {
    type Item = SessionEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SessionEvent>> {
        let this = &mut *self;
        loop {
            if this.listener.is_none() {
                let shared = &this.client.shared;
                let mut state = shared.lock();
                let backed_up = shared.backed_up(&state);
                let next = match state.aside.pop_front() {
                    Some(handed_back) => Some(handed_back.into()),
                    None => state.events.pop_front(),
                };
                crate::release_if_drained(&mut state.events);
                crate::release_if_drained(&mut state.aside);
                if let Some(event) = next {
                    shared.took_events(&state, backed_up);
                    return Poll::Ready(Some(event));
                }
                if state.finished {
                    return Poll::Ready(None);
                }
                this.listener = Some(shared.changed.listen());
            }
            let listener = this.listener.as_mut().expect("set above");
            match Pin::new(listener).poll(cx) {
                Poll::Ready(()) => this.listener = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
