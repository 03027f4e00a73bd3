//! The close handshake of a [`Connection`] (RFC 6455 §7): starting it, answering the peer's
//! close frame, failing the connection with a close code (§7.1.7), and the one
//! [`Event::Closed`] that ends every connection.

use std::time::Instant;

use crate::close::{CloseCode, MAX_CLOSE_REASON, fit_close_reason, write_close_body};
use crate::error::{CloseError, ConnectionError};
use crate::frame::{OpCode, Role, write_header};

use super::{CloseInfo, Connection, Event, Initiator, State};

impl Connection {
    /// Starts the close handshake with `code` and `reason` (at most 123 bytes). Before the
    /// handshake completed, this abandons the connection instead.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), CloseError> {
        if !code.is_sendable() {
            return Err(CloseError::InvalidCode(code.0));
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(CloseError::ReasonTooLong(reason.len()));
        }
        match self.state {
            State::Open => {
                self.initiator = Some(Initiator::Local);
                self.send_close(code, reason);
                self.state = State::Closing {
                    sent: true,
                    received: false,
                };
                self.deadline = now.checked_add(self.config.close_timeout);
                Ok(())
            }
            State::ClientHandshake(_) | State::ServerHandshake(_) | State::AwaitingAccept => {
                self.initiator = Some(Initiator::Local);
                self.finish(None);
                Ok(())
            }
            State::Closing { .. } | State::Finished => Err(CloseError::AlreadyClosing),
        }
    }

    /// Queues our close frame; a pending pong goes out first, nothing goes out after.
    pub(super) fn send_close(&mut self, code: CloseCode, reason: &str) {
        self.flush_pong();
        let mut body = [0u8; 125];
        let len = if code == CloseCode::NO_STATUS {
            0
        } else {
            let mut v = Vec::with_capacity(2 + reason.len());
            write_close_body(&mut v, code, reason);
            body[..v.len()].copy_from_slice(&v);
            v.len()
        };
        let mask = match self.role {
            Role::Client => Some(self.rng.mask_key()),
            Role::Server => None,
        };
        write_header(&mut self.tx, true, OpCode::Close, len, mask);
        let start = self.tx.len();
        self.tx.extend_from_slice(&body[..len]);
        if let Some(key) = mask {
            crate::frame::apply_mask(&mut self.tx[start..], key);
        }
    }

    pub(super) fn finish(&mut self, error: Option<ConnectionError>) {
        if matches!(self.state, State::Finished) {
            return;
        }
        let clean = matches!(
            self.state,
            State::Closing {
                sent: true,
                received: true
            }
        );
        self.state = State::Finished;
        self.deadline = None;
        self.pending_pongs.clear();
        self.receiver.discard();
        let (code, reason) = self
            .received_close
            .take()
            .unwrap_or((CloseCode::ABNORMAL, String::new()));
        self.events.push_back(Event::Closed(CloseInfo {
            code,
            reason,
            initiator: self.initiator.unwrap_or(Initiator::Remote),
            clean,
            error,
        }));
    }

    /// Fails the connection (§7.1.7): send a close frame with the error's code, stop reading.
    pub(super) fn fail(&mut self, error: ConnectionError, code: CloseCode) {
        if matches!(self.state, State::Open | State::Closing { sent: false, .. }) {
            // The peer reads the bare cause (the code already says we failed the connection).
            let reason = match &error {
                ConnectionError::Protocol(cause) => cause.to_string(),
                other => other.to_string(),
            };
            self.send_close(code, fit_close_reason(&reason));
        }
        self.initiator = Some(Initiator::Local);
        self.finish(Some(error));
    }

    /// Handles a complete close frame from the peer.
    pub(super) fn on_close_frame(&mut self, now: Instant, code: CloseCode, reason: &str) {
        self.received_close = Some((code, reason.to_owned()));
        self.events.push_back(Event::CloseReceived {
            code,
            reason: reason.to_owned(),
        });
        let sent = matches!(self.state, State::Closing { sent: true, .. });
        if !sent {
            self.initiator = Some(Initiator::Remote);
            self.send_close(code, "");
        }
        self.state = State::Closing {
            sent: true,
            received: true,
        };
        self.receiver.discard();
        match self.role {
            // The server closes the TCP connection first (§7.1.1).
            Role::Server => self.finish(None),
            // The client waits for the server's TCP close, at most until the close deadline.
            Role::Client => {
                if self.deadline.is_none() {
                    self.deadline = now.checked_add(self.config.close_timeout);
                }
            }
        }
    }
}
