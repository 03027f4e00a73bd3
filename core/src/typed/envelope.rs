//! The JSON envelope codec: `{"type": "...", "data": ..., "timestamp": "RFC 3339"}`.

use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::codec::{Codec, DecodeError, DecodeErrorKind, EncodeError, json_payload};
use super::time::format_rfc3339;
use crate::message::Message;

/// The names of the envelope's fields. The default is `"type"`, `"data"` and
/// `Some("timestamp")`; a timestamp field of `None` means no timestamp is written or read.
/// The names must differ from each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeFields {
    /// The field holding the message type, a string.
    pub type_field: String,
    /// The field holding the payload, any JSON value.
    pub data_field: String,
    /// The field holding the send time as RFC 3339 text, if any.
    pub timestamp_field: Option<String>,
}

impl Default for EnvelopeFields {
    fn default() -> Self {
        EnvelopeFields {
            type_field: "type".to_owned(),
            data_field: "data".to_owned(),
            timestamp_field: Some("timestamp".to_owned()),
        }
    }
}

impl EnvelopeFields {
    /// The first name configured twice, if any.
    fn duplicate(&self) -> Option<&str> {
        let ty = self.type_field.as_str();
        let data = self.data_field.as_str();
        let timestamp = self.timestamp_field.as_deref();
        if ty == data || timestamp == Some(ty) {
            Some(ty)
        } else if timestamp == Some(data) {
            Some(data)
        } else {
            None
        }
    }
}

/// The JSON envelope codec: every message is a JSON object naming its type, carrying its data
/// and, optionally, the time it was sent.
///
/// Decoding ignores fields other than the configured ones. A missing data field decodes as
/// `null`, so `{"type": "ping"}` is a valid envelope.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use resock_core::typed::JsonEnvelope;
///
/// let codec = JsonEnvelope::new();
/// let at = UNIX_EPOCH + Duration::from_millis(1_795_669_351_123);
/// let message = codec.encode("chat", &["hi"], Some(at)).unwrap();
/// assert_eq!(
///     message.as_text(),
///     Some(r#"{"type":"chat","data":["hi"],"timestamp":"2026-11-26T05:02:31.123Z"}"#)
/// );
/// let envelope = codec.decode_envelope(&message).unwrap();
/// assert_eq!(envelope.ty, "chat");
/// assert_eq!(envelope.data::<Vec<String>>().unwrap(), ["hi"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonEnvelope {
    /// The field names.
    pub fields: EnvelopeFields,
    /// Whether to decode binary messages holding UTF-8 JSON too. Off by default: JSON is text
    /// (RFC 8259), so a binary message becomes [`DecodeErrorKind::Binary`].
    pub accept_binary: bool,
}

impl JsonEnvelope {
    /// The codec with the default field names.
    pub fn new() -> Self {
        Self::default()
    }

    /// The codec with custom field names.
    pub fn with_fields(fields: EnvelopeFields) -> Self {
        JsonEnvelope {
            fields,
            accept_binary: false,
        }
    }

    /// Encodes `{"<type>": ty, "<data>": data, "<timestamp>": "2026-11-26T05:02:31.123Z"}` as a
    /// text message, fields in that order. The timestamp is written only when `at` is `Some` and
    /// a timestamp field is configured; it is RFC 3339 UTC with millisecond precision.
    pub fn encode<T: Serialize + ?Sized>(
        &self,
        ty: &str,
        data: &T,
        at: Option<SystemTime>,
    ) -> Result<Message, EncodeError> {
        if let Some(name) = self.fields.duplicate() {
            return Err(EncodeError::DuplicateFieldName(name.to_owned()));
        }
        let timestamp = match (&self.fields.timestamp_field, at) {
            (Some(name), Some(at)) => Some((
                name.as_str(),
                format_rfc3339(at).ok_or(EncodeError::TimestampOutOfRange)?,
            )),
            _ => None,
        };
        let envelope = EnvelopeOut {
            fields: &self.fields,
            ty,
            data,
            timestamp: timestamp.as_ref().map(|(name, text)| (*name, text.as_str())),
        };
        serde_json::to_string(&envelope)
            .map(Message::text)
            .map_err(EncodeError::Json)
    }

    /// Parses the envelope: the type (which must be a string), the data still as JSON (`null`
    /// when absent) and the timestamp. The timestamp is not interpreted: a string is kept as it
    /// is, `null` or absence is `None`, and any other value is kept as its JSON text.
    pub fn decode_envelope(&self, message: &Message) -> Result<Envelope, DecodeError> {
        let fail = |kind| DecodeError::from_message(message, kind);
        let payload = json_payload(message, self.accept_binary)?;
        let value: Value =
            serde_json::from_slice(payload).map_err(|error| fail(DecodeErrorKind::Json(error.into())))?;
        let Value::Object(mut object) = value else {
            return Err(fail(DecodeErrorKind::NotObject));
        };
        let ty = match object.remove(&self.fields.type_field) {
            Some(Value::String(ty)) => ty,
            Some(_) => return Err(fail(DecodeErrorKind::TypeNotString)),
            None => return Err(fail(DecodeErrorKind::MissingType)),
        };
        let data = object.remove(&self.fields.data_field).unwrap_or(Value::Null);
        let timestamp = match self
            .fields
            .timestamp_field
            .as_ref()
            .and_then(|name| object.remove(name))
        {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text),
            Some(other) => Some(other.to_string()),
        };
        Ok(Envelope { ty, data, timestamp })
    }
}

/// Serializes the envelope straight from borrowed parts, in field order, without building a
/// `Value` for the data.
struct EnvelopeOut<'a, T: ?Sized> {
    fields: &'a EnvelopeFields,
    ty: &'a str,
    data: &'a T,
    timestamp: Option<(&'a str, &'a str)>,
}

impl<T: Serialize + ?Sized> Serialize for EnvelopeOut<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2 + usize::from(self.timestamp.is_some())))?;
        map.serialize_entry(&self.fields.type_field, self.ty)?;
        map.serialize_entry(&self.fields.data_field, self.data)?;
        if let Some((name, text)) = self.timestamp {
            map.serialize_entry(name, text)?;
        }
        map.end()
    }
}

/// A decoded envelope whose data is still JSON: deserialize it with [`data`](Self::data) once
/// the type says what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The message type.
    pub ty: String,
    /// The payload, `null` when the envelope had none.
    pub data: Value,
    /// The send time as the peer wrote it, if it did.
    pub timestamp: Option<String>,
}

impl Envelope {
    /// Deserializes the data into `T`. On failure the error's `raw` is the data field as JSON
    /// and its kind is [`DecodeErrorKind::Data`].
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        T::deserialize(&self.data).map_err(|error| {
            DecodeError::new(
                self.data.to_string(),
                DecodeErrorKind::Data {
                    ty: self.ty.clone(),
                    error: error.into(),
                },
            )
        })
    }
}

/// A message for [`JsonEnvelope`]'s [`Codec`] impl: a type and its data as JSON. The inherent
/// [`JsonEnvelope::encode`] takes any `Serialize` data without this wrapper.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingEnvelope {
    /// The message type.
    pub ty: String,
    /// The payload.
    pub data: Value,
}

impl OutgoingEnvelope {
    /// An envelope of type `ty` carrying `data`.
    pub fn new(ty: impl Into<String>, data: Value) -> Self {
        OutgoingEnvelope { ty: ty.into(), data }
    }
}

impl Codec for JsonEnvelope {
    type Outgoing = OutgoingEnvelope;
    type Incoming = Envelope;

    fn encode(&self, value: &OutgoingEnvelope, at: Option<SystemTime>) -> Result<Message, EncodeError> {
        JsonEnvelope::encode(self, &value.ty, &value.data, at)
    }

    fn decode(&self, message: &Message) -> Result<Envelope, DecodeError> {
        self.decode_envelope(message)
    }
}
