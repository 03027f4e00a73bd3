//! The codec trait, its errors, and the plain JSON codec.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::message::Message;

/// Turns application values into WebSocket messages and back.
///
/// Both directions are pure functions of their arguments. A [`DecodeError`] is something for the
/// application to log, count or forward; it never affects the connection the message came from.
pub trait Codec {
    /// What the application sends.
    type Outgoing: ?Sized;
    /// What the application receives.
    type Incoming;

    /// Encodes `value` into a message. `at` is the send time, for codecs that stamp messages;
    /// the caller reads the clock, since core never does.
    fn encode(&self, value: &Self::Outgoing, at: Option<SystemTime>) -> Result<Message, EncodeError>;

    /// Decodes a received message.
    fn decode(&self, message: &Message) -> Result<Self::Incoming, DecodeError>;
}

/// Why a value could not be encoded.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// serde_json refused the value: a map with non-string keys, or a `Serialize` impl that failed.
    #[error("encoding the message as JSON: {0}")]
    Json(serde_json::Error),
    /// The timestamp is outside the years 0000 to 9999, which RFC 3339 cannot write.
    #[error("the timestamp is outside the years 0000 to 9999")]
    TimestampOutOfRange,
    /// Two envelope fields have the same name, which would write duplicate keys.
    #[error("the envelope field name {0:?} is configured twice")]
    DuplicateFieldName(String),
}

/// A received message that did not decode. It carries the raw text and the serde error so the
/// application can log or forward it; the connection is not affected. Cloning is cheap: the
/// serde error is shared.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}")]
pub struct DecodeError {
    /// The text that did not decode: the whole message (binary payloads converted lossily to
    /// UTF-8), or for [`Envelope::data`](super::Envelope::data) the data field as JSON. It is
    /// bounded by the configured message size limit.
    pub raw: String,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

/// What was wrong with a message that did not decode.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecodeErrorKind {
    /// A binary message arrived and the codec expects JSON text. JSON is text (RFC 8259), so a
    /// binary frame usually means the peer speaks something else; codecs accept UTF-8 JSON in
    /// binary frames only when their `accept_binary` option is set.
    #[error("a binary message arrived where JSON text was expected")]
    Binary,
    /// The payload is not JSON, or (for [`Json`]) not JSON of the expected shape.
    #[error("the message is not valid JSON: {0}")]
    Json(Arc<serde_json::Error>),
    /// The JSON is valid but not an object, so it cannot be an envelope.
    #[error("the message is JSON but not an object")]
    NotObject,
    /// The envelope has no type field.
    #[error("the envelope has no type field")]
    MissingType,
    /// The envelope's type field is not a string.
    #[error("the envelope's type field is not a string")]
    TypeNotString,
    /// The envelope decoded but its data does not have the shape the type `ty` needs.
    #[error("the data of a {ty:?} message did not decode: {error}")]
    Data {
        /// The envelope's type.
        ty: String,
        /// What serde found wrong.
        error: Arc<serde_json::Error>,
    },
}

impl DecodeError {
    /// An error for `raw` text.
    pub fn new(raw: impl Into<String>, kind: DecodeErrorKind) -> Self {
        DecodeError { raw: raw.into(), kind }
    }

    /// An error whose raw text is `message`'s payload.
    pub(crate) fn from_message(message: &Message, kind: DecodeErrorKind) -> Self {
        let raw = match message {
            Message::Text(text) => text.as_str().to_owned(),
            Message::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        };
        DecodeError { raw, kind }
    }

    /// The serde error behind this failure, when there is one.
    pub fn serde_error(&self) -> Option<&serde_json::Error> {
        match &self.kind {
            DecodeErrorKind::Json(error) | DecodeErrorKind::Data { error, .. } => Some(&**error),
            _ => None,
        }
    }

    /// The envelope's type, when the envelope decoded and only its data did not.
    pub fn ty(&self) -> Option<&str> {
        match &self.kind {
            DecodeErrorKind::Data { ty, .. } => Some(ty),
            _ => None,
        }
    }
}

/// The payload of `message` as JSON bytes, refusing binary messages unless `accept_binary`.
pub(crate) fn json_payload(message: &Message, accept_binary: bool) -> Result<&[u8], DecodeError> {
    match message {
        Message::Text(text) => Ok(text.as_bytes()),
        Message::Binary(bytes) if accept_binary => Ok(bytes),
        Message::Binary(_) => Err(DecodeError::from_message(message, DecodeErrorKind::Binary)),
    }
}

/// A codec for plain serde types without an envelope: it sends `Out` as JSON text and decodes
/// received messages into `In`. It ignores the send time.
///
/// ```
/// use resock_core::Message;
/// use resock_core::typed::{Codec, Json};
///
/// let codec = Json::<Vec<u32>>::new();
/// let message = codec.encode(&vec![1, 2, 3], None).unwrap();
/// assert_eq!(message, Message::text("[1,2,3]"));
/// assert_eq!(codec.decode(&message).unwrap(), vec![1, 2, 3]);
/// ```
pub struct Json<In, Out: ?Sized = In> {
    accept_binary: bool,
    types: PhantomData<fn(&Out) -> In>,
}

impl<In, Out: ?Sized> Json<In, Out> {
    /// A codec that accepts only text messages.
    pub fn new() -> Self {
        Json {
            accept_binary: false,
            types: PhantomData,
        }
    }

    /// Whether to decode binary messages holding UTF-8 JSON too (off by default).
    pub fn accept_binary(mut self, accept: bool) -> Self {
        self.accept_binary = accept;
        self
    }
}

impl<In, Out: ?Sized> Default for Json<In, Out> {
    fn default() -> Self {
        Self::new()
    }
}

impl<In, Out: ?Sized> Clone for Json<In, Out> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<In, Out: ?Sized> Copy for Json<In, Out> {}

impl<In, Out: ?Sized> fmt::Debug for Json<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Json")
            .field("accept_binary", &self.accept_binary)
            .finish()
    }
}

impl<In: DeserializeOwned, Out: Serialize + ?Sized> Codec for Json<In, Out> {
    type Outgoing = Out;
    type Incoming = In;

    fn encode(&self, value: &Out, _at: Option<SystemTime>) -> Result<Message, EncodeError> {
        serde_json::to_string(value)
            .map(Message::text)
            .map_err(EncodeError::Json)
    }

    fn decode(&self, message: &Message) -> Result<In, DecodeError> {
        let payload = json_payload(message, self.accept_binary)?;
        serde_json::from_slice(payload)
            .map_err(|error| DecodeError::from_message(message, DecodeErrorKind::Json(Arc::new(error))))
    }
}
