//! Typed messages on a session (feature `json`): send values in the JSON envelope, and receive
//! decoded envelopes instead of raw text when the session is configured with one.

use std::time::SystemTime;

use serde::Serialize;

use crate::message::Message;
use crate::typed::{DecodeError, EncodeError, Envelope, JsonEnvelope};

use super::queue::MessageId;
use super::{Session, SessionSendError};

/// Why a typed send failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TypedSendError {
    /// The value could not be encoded; nothing was queued.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The encoded message was refused; it comes back.
    #[error(transparent)]
    Send(#[from] SessionSendError),
}

impl Session {
    /// Encodes `data` as `{"type": ty, "data": data, "timestamp": at}` with the session's
    /// envelope (or the default one) and sends it. `at` is the wall-clock send time, which the
    /// caller reads (core has no clock); `None` leaves the timestamp out.
    pub fn send_typed<T: Serialize + ?Sized>(
        &mut self,
        ty: &str,
        data: &T,
        at: Option<SystemTime>,
    ) -> Result<MessageId, TypedSendError> {
        let message = match &self.config.envelope {
            Some(envelope) => envelope.encode(ty, data, at)?,
            None => JsonEnvelope::default().encode(ty, data, at)?,
        };
        Ok(self.send(message)?)
    }

    /// Decodes a text message with the session's envelope (or the default one).
    pub fn decode_typed(&self, message: &Message) -> Result<Envelope, DecodeError> {
        match &self.config.envelope {
            Some(envelope) => envelope.decode_envelope(message),
            None => JsonEnvelope::default().decode_envelope(message),
        }
    }
}
