//! [`AsyncRouter`]: dispatch by message type to `async` handlers, for the async [`Client`].
//!
//! The same decoding as core's [`Router`](resock_core::typed::Router) (the JSON envelope, a
//! handler per type, a fallback that gets every unrouted message), but each handler returns a
//! future, so it can `.await` a send or a database call. Handlers take the context by value
//! (clone it per message: a `Client`, an `Arc` of the application's state).
//!
//! [`Client`]: crate::Client

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use resock_core::Message;
use resock_core::typed::{DecodeError, DecodeErrorKind, Dispatched, Envelope, FromEnvelope, JsonEnvelope, Unrouted};

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A registered handler with its argument type erased: builds the argument, returns the call.
trait Handler<Ctx>: Send {
    fn call(&mut self, ctx: Ctx, envelope: Envelope) -> Result<BoxFuture, serde_json::Error>;
}

struct Typed<T, F> {
    handler: F,
    data: PhantomData<fn() -> T>,
}

impl<Ctx, T, F, Fut> Handler<Ctx> for Typed<T, F>
where
    T: FromEnvelope,
    F: FnMut(Ctx, T) -> Fut + Send,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&mut self, ctx: Ctx, envelope: Envelope) -> Result<BoxFuture, serde_json::Error> {
        let value = T::from_envelope(envelope)?;
        Ok(Box::pin((self.handler)(ctx, value)))
    }
}

type Fallback<Ctx> = Box<dyn FnMut(Ctx, Unrouted) -> BoxFuture + Send>;

/// Dispatches decoded messages by type to `async` handlers, with a fallback for everything else.
///
/// ```no_run
/// # async fn chat(client: resock::Client) {
/// use resock::{AsyncRouter, Client, Incoming, Unrouted};
///
/// #[derive(serde::Deserialize)]
/// struct Chat { from: String, text: String }
///
/// let mut router = AsyncRouter::new(client.envelope().clone());
/// router
///     .on("chat", |client: Client, chat: Incoming<Chat>| async move {
///         println!("{} at {:?}: {}", chat.from, chat.timestamp, chat.text);
///         client.send_typed("seen", &chat.ty).await.ok();
///     })
///     .fallback(|_, unrouted: Unrouted| async move { eprintln!("unrouted: {unrouted:?}") });
/// let closed = client.run_router(&mut router, client.clone()).await;
/// eprintln!("{closed}");
/// # }
/// ```
pub struct AsyncRouter<Ctx> {
    codec: JsonEnvelope,
    handlers: HashMap<String, Box<dyn Handler<Ctx>>>,
    fallback: Option<Fallback<Ctx>>,
}

impl<Ctx: Clone + Send + 'static> AsyncRouter<Ctx> {
    /// A router with no handlers that decodes with `codec`.
    pub fn new(codec: JsonEnvelope) -> Self {
        AsyncRouter {
            codec,
            handlers: HashMap::new(),
            fallback: None,
        }
    }

    /// Registers the handler for messages of type `ty`: it takes the data as any `serde` type
    /// `T`, or as [`Incoming<T>`](resock_core::typed::Incoming) to also see the type and the
    /// peer's timestamp, and returns the future to await. Replaces an existing one for `ty`.
    pub fn on<T, F, Fut>(&mut self, ty: &str, handler: F) -> &mut Self
    where
        T: FromEnvelope + 'static,
        F: FnMut(Ctx, T) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler = Typed {
            handler,
            data: PhantomData,
        };
        self.handlers.insert(ty.to_owned(), Box::new(handler));
        self
    }

    /// Sets the handler for every message no handler took: a type with no handler, or a
    /// message that did not decode (with its raw text and the error).
    pub fn fallback<F, Fut>(&mut self, mut handler: F) -> &mut Self
    where
        F: FnMut(Ctx, Unrouted) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.fallback = Some(Box::new(move |ctx, unrouted| Box::pin(handler(ctx, unrouted))));
        self
    }

    /// Whether a handler is registered for `ty`.
    pub fn handles(&self, ty: &str) -> bool {
        self.handlers.contains_key(ty)
    }

    /// The codec the router decodes with.
    pub fn codec(&self) -> &JsonEnvelope {
        &self.codec
    }

    /// Decodes `message`, runs the handler for its type (or the fallback) to completion, and
    /// says which ran. Without a fallback, a message that did not decode comes back as the
    /// error, as with core's `Router::dispatch`.
    pub async fn dispatch(&mut self, ctx: Ctx, message: &Message) -> Result<Dispatched, DecodeError> {
        let (call, dispatched) = self.route(ctx, message)?;
        if let Some(call) = call {
            call.await;
        }
        Ok(dispatched)
    }

    /// Picks what runs for `message`, synchronously, so the returned future owns everything.
    fn route(&mut self, ctx: Ctx, message: &Message) -> Result<(Option<BoxFuture>, Dispatched), DecodeError> {
        let envelope = match self.codec.decode_envelope(message) {
            Ok(envelope) => envelope,
            Err(error) => return self.undecodable(ctx, error),
        };
        if let Some(handler) = self.handlers.get_mut(&envelope.ty) {
            let ty = envelope.ty.clone();
            return match handler.call(ctx.clone(), envelope) {
                Ok(call) => Ok((Some(call), Dispatched::Handled(ty))),
                Err(error) => {
                    let kind = DecodeErrorKind::Data {
                        ty,
                        error: error.into(),
                    };
                    let raw = match message {
                        Message::Text(text) => text.as_str().to_owned(),
                        Message::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                    };
                    self.undecodable(ctx, DecodeError::new(raw, kind))
                }
            };
        }
        let ty = envelope.ty.clone();
        match &mut self.fallback {
            Some(fallback) => Ok((
                Some(fallback(ctx, Unrouted::UnknownType(envelope))),
                Dispatched::Fallback(ty),
            )),
            None => Ok((None, Dispatched::Unhandled(ty))),
        }
    }

    /// A message that did not decode: to the fallback, else back to the caller.
    fn undecodable(&mut self, ctx: Ctx, error: DecodeError) -> Result<(Option<BoxFuture>, Dispatched), DecodeError> {
        let Some(fallback) = &mut self.fallback else {
            return Err(error);
        };
        let ty = error.ty().unwrap_or_default().to_owned();
        Ok((
            Some(fallback(ctx, Unrouted::Undecodable(error))),
            Dispatched::Undecodable(ty),
        ))
    }
}

impl<Ctx: Clone + Send + 'static> Default for AsyncRouter<Ctx> {
    fn default() -> Self {
        AsyncRouter::new(JsonEnvelope::default())
    }
}

impl<Ctx> fmt::Debug for AsyncRouter<Ctx> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut types: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        types.sort_unstable();
        f.debug_struct("AsyncRouter")
            .field("codec", &self.codec)
            .field("types", &types)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    type Log = Arc<Mutex<Vec<String>>>;

    #[derive(serde::Deserialize)]
    struct Chat {
        text: String,
    }

    fn router() -> AsyncRouter<Log> {
        let mut router = AsyncRouter::<Log>::default();
        router
            .on(
                "chat",
                |log: Log, chat: resock_core::typed::Incoming<Chat>| async move {
                    // An await inside the handler, then the effect.
                    futures_lite::future::yield_now().await;
                    let line = format!("{} {:?} {}", chat.ty, chat.timestamp, chat.text);
                    log.lock().unwrap().push(line);
                },
            )
            .fallback(|log: Log, unrouted| async move {
                let line = match unrouted {
                    Unrouted::UnknownType(envelope) => format!("unknown {}", envelope.ty),
                    Unrouted::Undecodable(error) => format!("bad {}", error.raw),
                };
                log.lock().unwrap().push(line);
            });
        router
    }

    #[test]
    fn async_handlers_run_to_completion_and_nothing_disappears() {
        let mut router = router();
        let log = Log::default();
        let run = |router: &mut AsyncRouter<Log>, text: &str| {
            futures_lite::future::block_on(router.dispatch(log.clone(), &Message::text(text)))
        };
        let chat = r#"{"type":"chat","data":{"text":"hi"},"timestamp":"2026-12-02T07:00:00Z"}"#;
        assert_eq!(run(&mut router, chat).unwrap(), Dispatched::Handled("chat".into()));
        assert_eq!(
            run(&mut router, r#"{"type":"presence"}"#).unwrap(),
            Dispatched::Fallback("presence".into())
        );
        let wrong = r#"{"type":"chat","data":{"txt":"hi"}}"#;
        assert_eq!(run(&mut router, wrong).unwrap(), Dispatched::Undecodable("chat".into()));
        assert_eq!(
            run(&mut router, "{oops").unwrap(),
            Dispatched::Undecodable(String::new())
        );
        assert_eq!(
            *log.lock().unwrap(),
            [
                r#"chat Some("2026-12-02T07:00:00Z") hi"#.to_owned(),
                "unknown presence".to_owned(),
                format!("bad {wrong}"),
                "bad {oops".to_owned(),
            ]
        );
        assert!(router.handles("chat") && !router.handles("presence"));
    }

    #[test]
    fn without_a_fallback_the_error_comes_back() {
        let mut router = AsyncRouter::<Log>::default();
        router.on("chat", |_: Log, _: Chat| async {});
        let log = Log::default();
        let result = futures_lite::future::block_on(router.dispatch(log, &Message::text("{oops")));
        assert_eq!(result.unwrap_err().raw, "{oops");
    }

    #[test]
    fn the_router_future_is_send() {
        fn assert_send<T: Send>(_: T) {}
        let mut router = router();
        let message = Message::text("{}");
        assert_send(router.dispatch(Log::default(), &message));
    }
}
