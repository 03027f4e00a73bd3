//! Dispatch of decoded envelopes to handlers by type.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::codec::{DecodeError, DecodeErrorKind};
use super::envelope::{Envelope, JsonEnvelope};
use crate::message::Message;

/// A registered handler with its data type erased.
trait Handler<Ctx>: Send {
    /// Deserializes `data` and, if that worked, calls the user's handler.
    fn call(&mut self, ctx: &mut Ctx, data: Value) -> Result<(), serde_json::Error>;
}

/// The user's handler and the type it takes. A struct rather than a closure, so that its type
/// does not mention `Ctx` and a `Ctx` that borrows works too.
struct Typed<T, F> {
    handler: F,
    data: PhantomData<fn() -> T>,
}

impl<Ctx, T: DeserializeOwned, F: FnMut(&mut Ctx, T) + Send> Handler<Ctx> for Typed<T, F> {
    fn call(&mut self, ctx: &mut Ctx, data: Value) -> Result<(), serde_json::Error> {
        let data = T::deserialize(data)?;
        (self.handler)(ctx, data);
        Ok(())
    }
}

type Fallback<Ctx> = Box<dyn FnMut(&mut Ctx, Envelope) + Send>;

/// What [`Router::dispatch`] did with a message; each variant carries the message type.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatched {
    /// The handler registered for the type ran.
    Handled(String),
    /// No handler was registered for the type; the fallback ran.
    Fallback(String),
    /// No handler was registered for the type and there is no fallback.
    Unhandled(String),
}

impl Dispatched {
    /// The message type.
    pub fn ty(&self) -> &str {
        match self {
            Dispatched::Handled(ty) | Dispatched::Fallback(ty) | Dispatched::Unhandled(ty) => ty,
        }
    }
}

/// Dispatches decoded messages by type to registered handlers, with a fallback for unknown types.
///
/// Handlers get a `&mut Ctx` the caller passes to each [`dispatch`](Self::dispatch) (application
/// state, a session to reply on) and the data deserialized to the type they were registered
/// with. Handlers are `Send`, so a router can live in an async task.
///
/// ```
/// use resock_core::Message;
/// use resock_core::typed::{Dispatched, JsonEnvelope, Router};
///
/// #[derive(serde::Deserialize)]
/// struct Chat { text: String }
///
/// let mut router = Router::<Vec<String>>::new(JsonEnvelope::new());
/// router
///     .on("chat", |log: &mut Vec<String>, chat: Chat| log.push(chat.text))
///     .fallback(|log, envelope| log.push(format!("unknown {}", envelope.ty)));
///
/// let mut log = Vec::new();
/// let chat = Message::text(r#"{"type":"chat","data":{"text":"hi"}}"#);
/// assert_eq!(router.dispatch(&mut log, &chat).unwrap(), Dispatched::Handled("chat".into()));
/// let other = Message::text(r#"{"type":"presence"}"#);
/// assert_eq!(router.dispatch(&mut log, &other).unwrap(), Dispatched::Fallback("presence".into()));
/// assert_eq!(log, ["hi", "unknown presence"]);
///
/// // A message that does not decode is an error to report; no handler runs.
/// let bad = Message::text(r#"{"type":"chat","data":{"txt":"hi"}}"#);
/// let error = router.dispatch(&mut log, &bad).unwrap_err();
/// assert_eq!(error.raw, r#"{"type":"chat","data":{"txt":"hi"}}"#);
/// assert_eq!(log.len(), 2);
/// ```
pub struct Router<Ctx> {
    codec: JsonEnvelope,
    handlers: HashMap<String, Box<dyn Handler<Ctx>>>,
    fallback: Option<Fallback<Ctx>>,
}

impl<Ctx> Router<Ctx> {
    /// A router with no handlers that decodes with `codec`.
    pub fn new(codec: JsonEnvelope) -> Self {
        Router {
            codec,
            handlers: HashMap::new(),
            fallback: None,
        }
    }

    /// Registers a handler for messages whose type is `ty`; their data is deserialized to `T`.
    /// Replaces an existing handler for `ty`.
    pub fn on<T: DeserializeOwned + 'static>(
        &mut self,
        ty: &str,
        handler: impl FnMut(&mut Ctx, T) + Send + 'static,
    ) -> &mut Self {
        let handler = Typed {
            handler,
            data: PhantomData,
        };
        self.handlers.insert(ty.to_owned(), Box::new(handler));
        self
    }

    /// Sets the handler for types with no handler of their own; it gets the whole envelope.
    /// Replaces an existing fallback.
    pub fn fallback(&mut self, handler: impl FnMut(&mut Ctx, Envelope) + Send + 'static) -> &mut Self {
        self.fallback = Some(Box::new(handler));
        self
    }

    /// Whether a handler is registered for `ty`.
    pub fn handles(&self, ty: &str) -> bool {
        self.handlers.contains_key(ty)
    }

    /// Decodes `message` and hands it to the handler for its type, else to the fallback.
    ///
    /// Returns which of them ran, or [`Dispatched::Unhandled`] when neither exists. When the
    /// envelope does not decode, or its data does not deserialize to the handler's type
    /// ([`DecodeErrorKind::Data`]), no handler runs and the error, holding the whole message
    /// text, is returned for the application to report.
    pub fn dispatch(&mut self, ctx: &mut Ctx, message: &Message) -> Result<Dispatched, DecodeError> {
        let envelope = self.codec.decode_envelope(message)?;
        if let Some(handler) = self.handlers.get_mut(&envelope.ty) {
            let Envelope { ty, data, .. } = envelope;
            return match handler.call(ctx, data) {
                Ok(()) => Ok(Dispatched::Handled(ty)),
                Err(error) => Err(DecodeError::from_message(
                    message,
                    DecodeErrorKind::Data {
                        ty,
                        error: error.into(),
                    },
                )),
            };
        }
        match &mut self.fallback {
            Some(fallback) => {
                let ty = envelope.ty.clone();
                fallback(ctx, envelope);
                Ok(Dispatched::Fallback(ty))
            }
            None => Ok(Dispatched::Unhandled(envelope.ty)),
        }
    }

    /// The codec the router decodes with.
    pub fn codec(&self) -> &JsonEnvelope {
        &self.codec
    }
}

impl<Ctx> Default for Router<Ctx> {
    fn default() -> Self {
        Router::new(JsonEnvelope::default())
    }
}

impl<Ctx> fmt::Debug for Router<Ctx> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut types: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        types.sort_unstable();
        f.debug_struct("Router")
            .field("codec", &self.codec)
            .field("types", &types)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}
