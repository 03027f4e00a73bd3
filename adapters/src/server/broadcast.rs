//! [`Broadcast`]: one message to every open connection, encoded once, never waiting for the
//! slowest.

use std::sync::Arc;
use std::time::Instant;

use resock_core::Message;
use resock_core::server::{PreparedMessage, ServerSendError};

use super::shared::ServerShared;

/// Sends to every open connection of a [`Server`](super::Server); cloneable, usable from any
/// task or thread.
///
/// A message is encoded once ([`PreparedMessage`]) and queued on each connection without
/// waiting: a connection whose outbound queue is full is closed with 1008 "slow consumer"
/// (and a close frame) right there, and the others are not held up.
#[derive(Clone)]
pub struct Broadcast {
    pub(crate) server: Arc<ServerShared>,
}

/// What a broadcast did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcastReport {
    /// Connections that queued the message.
    pub delivered: usize,
    /// Connections closed with 1008 because their queue was full.
    pub dropped_slow: usize,
    /// Connections that were not open (handshaking or closing), or could never take a
    /// message this large (it is larger than their whole queue).
    pub skipped: usize,
}

impl Broadcast {
    /// Encodes `message` once and queues it on every open connection; returns at once.
    pub fn send(&self, message: impl Into<Message>) -> BroadcastReport {
        self.send_prepared(&PreparedMessage::new(&message.into()))
    }

    /// Queues an already encoded message on every open connection; returns at once.
    pub fn send_prepared(&self, message: &PreparedMessage) -> BroadcastReport {
        let mut report = BroadcastReport::default();
        let now = Instant::now();
        // Lock order: the registry, then one connection at a time (a task never takes the
        // registry while it holds its connection).
        let registry = self.server.registry();
        for conn in registry.values() {
            let result = conn.lock().core.send_prepared(now, message);
            match result {
                Ok(()) => report.delivered += 1,
                Err(ServerSendError::SlowConsumer { .. }) => report.dropped_slow += 1,
                Err(_) => {
                    report.skipped += 1;
                    continue;
                }
            }
            conn.wake.notify();
        }
        report
    }

    /// Connections of the server right now, handshakes included.
    pub fn connections(&self) -> usize {
        self.server.registry().len()
    }
}

impl std::fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast")
            .field("connections", &self.connections())
            .finish()
    }
}
