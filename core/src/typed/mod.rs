//! Typed messages (feature `json`, on by default): application values in, [`Message`]s out, and
//! back.
//!
//! - [`Codec`] is the trait: `encode` a value (with the send time, which the caller reads)
//!   into a message, `decode` a message into a value.
//! - [`JsonEnvelope`] wraps every message as `{"type": "...", "data": ..., "timestamp": "..."}`
//!   with configurable field names ([`EnvelopeFields`]); [`Json`] sends plain serde values.
//! - [`Router`] decodes envelopes and calls the handler registered for each type, or a fallback.
//!
//! Typed send is encode, then send: `connection.send(&codec.encode("chat", &chat, Some(now))?)`.
//!
//! Decoding is separate from the connection: a message that does not decode is a
//! [`DecodeError`] holding the raw text and the serde error, for the application to log, count
//! or forward. It never closes or otherwise affects the connection.
//!
//! [`Message`]: crate::Message

mod codec;
mod envelope;
mod router;
mod time;

#[cfg(test)]
mod tests;

pub use codec::{Codec, DecodeError, DecodeErrorKind, EncodeError, Json};
pub use envelope::{Envelope, EnvelopeFields, JsonEnvelope, OutgoingEnvelope};
pub use router::{Dispatched, FromEnvelope, Incoming, Router, Unrouted};
pub use time::format_rfc3339;
