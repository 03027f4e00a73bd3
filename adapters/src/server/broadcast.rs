//! [`Broadcast`]: one message to every open connection, encoded once, never waiting for the
//! slowest.

use std::sync::Arc;

use resock_core::Message;
use resock_core::server::PreparedMessage;

use super::broadcast_log::Published;
use super::shared::ServerShared;

/// Sends to every open connection of a [`Server`](super::Server); cloneable, usable from any
/// task or thread.
///
/// A message is encoded once ([`PreparedMessage`]) and appended, under one lock, to the
/// server's broadcast log; each connection's task moves it into that connection's bounded
/// outbound queue when it next runs, and only connections waiting for news are woken. The
/// publisher never waits for a connection and never takes a connection's lock. A connection
/// that falls behind by more than its queue holds (`max_queued_messages` /
/// `max_queued_bytes`) is closed with 1008 "slow consumer" (and a close frame) by its own task,
/// and the others are not held up.
#[derive(Clone)]
pub struct Broadcast {
    pub(crate) server: Arc<ServerShared>,
}

/// What a broadcast did. The connections take a message from the server's log after the
/// broadcast returns, so a slow consumer found while taking it shows in a later report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcastReport {
    /// Open connections the message was published to: each queues it when its task next
    /// runs, unless it closes first (a slow consumer, the client leaving).
    pub delivered: usize,
    /// Connections closed with 1008 because they fell behind by more than their queue holds,
    /// found since the previous report of this server (by any of its [`Broadcast`] handles):
    /// summed over every report, the number of such closes.
    pub dropped_slow: usize,
    /// Connections that were not open (handshaking or closing), or, for a message larger than
    /// a connection's whole queue (`max_queued_bytes`), every connection.
    pub skipped: usize,
}

impl Broadcast {
    /// Encodes `message` once and publishes it to every open connection; returns at once.
    pub fn send(&self, message: impl Into<Message>) -> BroadcastReport {
        self.send_prepared(&PreparedMessage::new(&message.into()))
    }

    /// Publishes an already encoded message to every open connection; returns at once.
    pub fn send_prepared(&self, message: &PreparedMessage) -> BroadcastReport {
        let published = self.server.broadcasts.publish(message);
        // Looks at the connections only after a publish that left one behind.
        self.server.broadcasts.wake_pushed_out(|| self.server.connections());
        let connections = self.connections();
        let delivered = match published {
            Published::To(subscribers) => subscribers,
            Published::TooLarge => 0,
        };
        BroadcastReport {
            delivered,
            dropped_slow: self.server.broadcasts.take_slow_closes(),
            skipped: connections.saturating_sub(delivered),
        }
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
