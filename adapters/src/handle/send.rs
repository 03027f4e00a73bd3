//! Sending: every path hands the message to the session in one synchronous step under the lock.
//!
//! A sender that queues many messages without yielding (a pipelining loop on a
//! current-thread runtime, where the driver runs only when the sender's task waits) would
//! hold all of them back until it waits. Once [`WRITE_EARLY_AT`] bytes wait on an open
//! connection, the send polls the client's loop itself where the runtime allows it (as `recv`
//! does, see `async_driver/slot.rs`), so they go out in one write now and the server works on
//! them while the sender queues the next ones.

use resock_core::Message;
use resock_core::session::{MessageId, SessionSendError, SessionState};

use super::Client;
use crate::SendError;
use crate::async_driver::State;

/// Bytes waiting on an open connection from which a send writes them at once (where the
/// runtime allows polling the loop from the sender's task): one socket write's worth, the
/// size of `std::io::BufWriter`'s buffer.
const WRITE_EARLY_AT: usize = 8 * 1024;

impl Client {
    /// Queues `message` for sending, waiting while the outbound queue is full (see
    /// [`SendError::Full`]); it never waits for anyone to read events or messages.
    ///
    /// The driver writes queued messages when it runs. On tokio, a send that brings the bytes
    /// waiting on an open connection to 8 KiB also writes them itself, so a loop that sends
    /// many messages without yielding (each `send` resolves at once while the queue has room)
    /// gets them onto the wire as it goes, in writes of about 8 KiB.
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
                match Self::send_locked(&mut state, message) {
                    Ok((id, write_early)) => {
                        drop(state);
                        self.accepted(write_early);
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

    /// Queues `message` if there is room now, else hands it back (writing like
    /// [`send`](Self::send) does once 8 KiB wait).
    pub fn try_send(&self, message: Message) -> Result<MessageId, SendError> {
        let mut state = self.shared.lock();
        if state.finished {
            return Err(SendError::Closed(message));
        }
        match Self::send_locked(&mut state, message) {
            Ok((id, write_early)) => {
                drop(state);
                self.accepted(write_early);
                Ok(id)
            }
            Err(SessionSendError::QueueFull(m)) => Err(SendError::Full(m)),
            Err(SessionSendError::TooLarge(m)) => Err(SendError::TooLarge(m)),
            Err(e) => Err(SendError::Closed(e.into_message())),
        }
    }

    /// Hands `message` to the session; with its id, whether the bytes waiting on an open
    /// connection have just reached [`WRITE_EARLY_AT`].
    fn send_locked(state: &mut State, message: Message) -> Result<(MessageId, bool), SessionSendError> {
        let before = state.session.buffered_amount();
        let id = state.session.send(message)?;
        let write_early = before < WRITE_EARLY_AT
            && state.session.buffered_amount() >= WRITE_EARLY_AT
            && *state.session.state() == SessionState::Open;
        Ok((id, write_early))
    }

    /// After a message was accepted: the driver is woken, and writes now if `write_early`.
    fn accepted(&self, write_early: bool) {
        self.shared.wake_driver.notify();
        if write_early {
            self.shared.slot.drive_for_send();
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
