//! Sending: every path hands the message to the session in one synchronous step under the lock.

use resock_core::Message;
use resock_core::session::{MessageId, SessionSendError};

use super::Client;
use crate::SendError;

impl Client {
    /// Queues `message` for sending, waiting while the outbound queue is full (see
    /// [`SendError::Full`]); it never waits for anyone to read events or messages.
    ///
    /// Cancel-safe: the message is handed to the session in one synchronous step; if the
    /// future is dropped before it resolves, the message was never accepted.
    pub async fn send(&self, message: Message) -> Result<MessageId, SendError> {
        let mut message = message;
        loop {
            let listener = {
                let mut state = self.shared.lock();
                if state.finished {
                    return Err(SendError::Closed(message));
                }
                match state.session.send(message) {
                    Ok(id) => {
                        drop(state);
                        self.shared.wake_driver.notify();
                        return Ok(id);
                    }
                    Err(SessionSendError::QueueFull(m)) => message = m,
                    Err(SessionSendError::TooLarge(m)) => return Err(SendError::TooLarge(m)),
                    Err(e) => return Err(SendError::Closed(e.into_message())),
                }
                self.shared.changed.listen()
            };
            listener.await;
        }
    }

    /// Queues `message` if there is room now, else hands it back.
    pub fn try_send(&self, message: Message) -> Result<MessageId, SendError> {
        let mut state = self.shared.lock();
        if state.finished {
            return Err(SendError::Closed(message));
        }
        match state.session.send(message) {
            Ok(id) => {
                drop(state);
                self.shared.wake_driver.notify();
                Ok(id)
            }
            Err(SessionSendError::QueueFull(m)) => Err(SendError::Full(m)),
            Err(SessionSendError::TooLarge(m)) => Err(SendError::TooLarge(m)),
            Err(e) => Err(SendError::Closed(e.into_message())),
        }
    }

    /// Sends a text message (see [`send`](Self::send)).
    pub async fn send_text(&self, text: impl Into<String>) -> Result<MessageId, SendError> {
        self.send(Message::text(text)).await
    }

    /// Sends a binary message (see [`send`](Self::send)).
    pub async fn send_binary(&self, data: impl Into<resock_core::Bytes>) -> Result<MessageId, SendError> {
        self.send(Message::binary(data)).await
    }

    /// Encodes `data` as `{"type": ty, "data": data, "timestamp": now}` with the builder's
    /// envelope (or the default one), then sends it like [`send`](Self::send).
    ///
    /// The value is encoded at once, so the future borrows neither `ty` nor `data`.
    #[cfg(feature = "json")]
    pub fn send_typed<'a, T: serde::Serialize + ?Sized>(
        &'a self,
        ty: &str,
        data: &T,
    ) -> impl std::future::Future<Output = Result<MessageId, crate::TypedSendError>> + Send + use<'a, T> {
        let encoded = self.shared.envelope.encode(ty, data, Some(self.shared.clock.wall()));
        async move { Ok(self.send(encoded?).await?) }
    }
}
