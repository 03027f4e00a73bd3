//! Dispatch of decoded envelopes to handlers by type.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::codec::{DecodeError, DecodeErrorKind};
use super::envelope::{Envelope, JsonEnvelope};
use crate::message::Message;

/// A decoded envelope whose data has the type a handler asked for: the type, the data and the
/// send time the peer wrote. It dereferences to the data, so `chat.text` reads a field.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming<T> {
    /// The message type.
    pub ty: String,
    /// The data, deserialized.
    pub data: T,
    /// The send time as the peer wrote it (RFC 3339 text), if it did.
    pub timestamp: Option<String>,
}

impl<T> Incoming<T> {
    /// The data, dropping the type and timestamp.
    pub fn into_data(self) -> T {
        self.data
    }
}

impl<T> std::ops::Deref for Incoming<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

/// What a handler can take: any `serde` type (the data alone) or [`Incoming<T>`] (the data
/// with the envelope's type and timestamp).
pub trait FromEnvelope: Sized {
    /// Builds the value from a decoded envelope, or says why the data did not fit.
    fn from_envelope(envelope: Envelope) -> Result<Self, serde_json::Error>;
}

impl<T: DeserializeOwned> FromEnvelope for T {
    fn from_envelope(envelope: Envelope) -> Result<Self, serde_json::Error> {
        T::deserialize(envelope.data)
    }
}

impl<T: DeserializeOwned> FromEnvelope for Incoming<T> {
    fn from_envelope(envelope: Envelope) -> Result<Self, serde_json::Error> {
        Ok(Incoming {
            data: T::deserialize(envelope.data)?,
            ty: envelope.ty,
            timestamp: envelope.timestamp,
        })
    }
}

/// A message no handler took: its type has no handler, or it did not decode (not JSON, not an
/// envelope, or data of the wrong shape for its type's handler). The fallback gets it, so no
/// message disappears.
#[derive(Debug, Clone)]
pub enum Unrouted {
    /// A well-formed envelope of a type with no handler.
    UnknownType(Envelope),
    /// The message did not decode; the error holds its raw text and what was wrong.
    Undecodable(DecodeError),
}

impl Unrouted {
    /// The message type, when the envelope decoded far enough to have one.
    pub fn ty(&self) -> Option<&str> {
        match self {
            Unrouted::UnknownType(envelope) => Some(&envelope.ty),
            Unrouted::Undecodable(error) => error.ty(),
        }
    }
}

/// A registered handler with its data type erased.
trait Handler<Ctx>: Send {
    /// Builds the handler's argument and, if that worked, calls the user's handler.
    fn call(&mut self, ctx: &mut Ctx, envelope: Envelope) -> Result<(), serde_json::Error>;
}

/// The user's handler and the type it takes. A struct rather than a closure, so that its type
/// does not mention `Ctx` and a `Ctx` that borrows works too.
struct Typed<T, F> {
    handler: F,
    data: PhantomData<fn() -> T>,
}

impl<Ctx, T: FromEnvelope, F: FnMut(&mut Ctx, T) + Send> Handler<Ctx> for Typed<T, F> {
    fn call(&mut self, ctx: &mut Ctx, envelope: Envelope) -> Result<(), serde_json::Error> {
        let value = T::from_envelope(envelope)?;
        (self.handler)(ctx, value);
        Ok(())
    }
}

type Fallback<Ctx> = Box<dyn FnMut(&mut Ctx, Unrouted) + Send>;

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
    /// The message did not decode and the fallback got the error (without a fallback,
    /// [`Router::dispatch`] returns the error instead). Carries the type when known, else "".
    Undecodable(String),
}

impl Dispatched {
    /// The message type.
    pub fn ty(&self) -> &str {
        match self {
            Dispatched::Handled(ty)
            | Dispatched::Fallback(ty)
            | Dispatched::Unhandled(ty)
            | Dispatched::Undecodable(ty) => ty,
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
/// use resock_core::typed::{Dispatched, JsonEnvelope, Router, Unrouted};
///
/// #[derive(serde::Deserialize)]
/// struct Chat { text: String }
///
/// let mut router = Router::<Vec<String>>::new(JsonEnvelope::new());
/// router
///     .on("chat", |log: &mut Vec<String>, chat: Chat| log.push(chat.text))
///     .fallback(|log, unrouted| match unrouted {
///         Unrouted::UnknownType(envelope) => log.push(format!("unknown {}", envelope.ty)),
///         Unrouted::Undecodable(error) => log.push(format!("bad: {}", error.raw)),
///     });
///
/// let mut log = Vec::new();
/// let chat = Message::text(r#"{"type":"chat","data":{"text":"hi"}}"#);
/// assert_eq!(router.dispatch(&mut log, &chat).unwrap(), Dispatched::Handled("chat".into()));
/// let other = Message::text(r#"{"type":"presence"}"#);
/// assert_eq!(router.dispatch(&mut log, &other).unwrap(), Dispatched::Fallback("presence".into()));
/// assert_eq!(log, ["hi", "unknown presence"]);
///
/// // A message that does not decode reaches the fallback with its raw text; no handler runs.
/// let bad = Message::text(r#"{"type":"chat","data":{"txt":"hi"}}"#);
/// assert_eq!(router.dispatch(&mut log, &bad).unwrap(), Dispatched::Undecodable("chat".into()));
/// assert_eq!(log[2], r#"bad: {"type":"chat","data":{"txt":"hi"}}"#);
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

    /// Registers a handler for messages whose type is `ty`. It takes the data as any `serde`
    /// type `T`, or as [`Incoming<T>`] to also see the type and the peer's timestamp.
    /// Replaces an existing handler for `ty`.
    pub fn on<T: FromEnvelope + 'static>(
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

    /// Sets the handler for every message no handler took ([`Unrouted`]): a type with no
    /// handler of its own, or a message that did not decode (with its raw text and the error).
    /// Replaces an existing fallback.
    pub fn fallback(&mut self, handler: impl FnMut(&mut Ctx, Unrouted) + Send + 'static) -> &mut Self {
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
    /// ([`DecodeErrorKind::Data`]), no handler runs: the fallback gets the error
    /// ([`Unrouted::Undecodable`], [`Dispatched::Undecodable`]), or without a fallback the
    /// error, holding the whole message text, is returned for the application to report.
    pub fn dispatch(&mut self, ctx: &mut Ctx, message: &Message) -> Result<Dispatched, DecodeError> {
        let envelope = match self.codec.decode_envelope(message) {
            Ok(envelope) => envelope,
            Err(error) => return self.undecodable(ctx, error),
        };
        if let Some(handler) = self.handlers.get_mut(&envelope.ty) {
            let ty = envelope.ty.clone();
            return match handler.call(ctx, envelope) {
                Ok(()) => Ok(Dispatched::Handled(ty)),
                Err(error) => {
                    let kind = DecodeErrorKind::Data {
                        ty,
                        error: error.into(),
                    };
                    self.undecodable(ctx, DecodeError::from_message(message, kind))
                }
            };
        }
        match &mut self.fallback {
            Some(fallback) => {
                let ty = envelope.ty.clone();
                fallback(ctx, Unrouted::UnknownType(envelope));
                Ok(Dispatched::Fallback(ty))
            }
            None => Ok(Dispatched::Unhandled(envelope.ty)),
        }
    }

    /// A message that did not decode: to the fallback, else back to the caller.
    fn undecodable(&mut self, ctx: &mut Ctx, error: DecodeError) -> Result<Dispatched, DecodeError> {
        let Some(fallback) = &mut self.fallback else {
            return Err(error);
        };
        let ty = error.ty().unwrap_or_default().to_owned();
        fallback(ctx, Unrouted::Undecodable(error));
        Ok(Dispatched::Undecodable(ty))
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
