//! From received bytes to events: bytes are buffered as they arrive and decoded lazily, when
//! the application polls, so it sees every message that precedes a protocol failure.

use std::time::Instant;

use bytes::Bytes;

use crate::error::ConnectionError;
use crate::frame::MAX_HEADER_LEN;
use crate::message::Message;

use super::receive::Received;
use super::{Connection, Event, MAX_PENDING_PONGS, State};

impl Connection {
    /// Buffers received bytes; they are decoded lazily by [`poll_event`](Self::poll_event), so
    /// the application sees (and can answer) every message that precedes a protocol failure.
    ///
    /// The buffer has its own bound, whatever the driver does between calls: once it holds
    /// more than one frame's limit plus a header, what is complete is decoded into the event
    /// queue before more is taken, so it never exceeds that plus one read.
    pub(super) fn receive(&mut self, now: Instant, data: &[u8]) {
        self.now = now;
        if self.receiver.buffered() > self.config.max_frame_size.saturating_add(MAX_HEADER_LEN) {
            self.decode_all();
        }
        self.receiver.buffer(data);
    }

    /// Decodes every buffered frame into queued events (used when the transport ends).
    pub(super) fn decode_all(&mut self) {
        loop {
            match self.decode_step() {
                Decoded::Message(message) => self.events.push_back(Event::Message(message)),
                Decoded::Ping(payload) => self.events.push_back(Event::Ping(payload)),
                Decoded::Pong(payload) => self.events.push_back(Event::Pong(payload)),
                Decoded::Queued => {}
                Decoded::NeedMore => break,
            }
        }
    }

    /// Decodes buffered bytes until one unit is complete. A message, ping or pong is returned
    /// directly (the hot path: no trip through the event queue); a close frame or a failure
    /// queues its events.
    #[inline(always)]
    pub(super) fn decode_step(&mut self) -> Decoded {
        if !matches!(self.state, State::Open | State::Closing { received: false, .. }) {
            return Decoded::NeedMore;
        }
        match self.receiver.poll() {
            Ok(None) => Decoded::NeedMore,
            Ok(Some(Received::Message(message))) => Decoded::Message(message),
            Ok(Some(Received::Ping(payload))) => {
                // Pongs wait until the next poll_transmit; past MAX_PENDING_PONGS the
                // oldest is dropped, which §5.5.3 allows, so a ping flood cannot grow memory.
                if self.pending_pongs.len() == MAX_PENDING_PONGS {
                    self.pending_pongs.pop_front();
                }
                self.pending_pongs.push_back(payload.clone());
                Decoded::Ping(payload)
            }
            Ok(Some(Received::Pong(payload))) => Decoded::Pong(payload),
            Ok(Some(Received::Close(body))) => {
                match crate::close::parse_close_body(&body) {
                    Ok((code, reason)) => {
                        let reason = reason.to_owned();
                        self.on_close_frame(self.now, code, &reason);
                    }
                    Err(e) => {
                        let e = crate::error::ProtocolError::from(e);
                        let code = e.close_code();
                        self.fail(ConnectionError::Protocol(e), code);
                    }
                }
                Decoded::Queued
            }
            Err(e) => {
                let code = e.close_code();
                self.fail(ConnectionError::Protocol(e), code);
                Decoded::Queued
            }
        }
    }
}

/// The outcome of one [`Connection::decode_step`].
pub(super) enum Decoded {
    /// A data message, for the caller directly.
    Message(Message),
    /// A ping (its pong is queued), for the caller directly.
    Ping(Bytes),
    /// A pong, for the caller directly.
    Pong(Bytes),
    /// A unit whose events were queued (close frame, failure).
    Queued,
    /// More bytes are needed, or nothing more is decoded in this state.
    NeedMore,
}
