//! [`Metrics`]: counters a client exposes for dashboards and logs.

use std::time::Duration;

/// A snapshot of what a session has done since it was created: a few integer counters the
/// session keeps as it runs (no clock read, no allocation), plus gauges read when asked.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Data messages received (text and binary), across every connection.
    pub messages_in: u64,
    /// Bytes received from transports, as read (frame headers and control frames included).
    pub bytes_in: u64,
    /// Data messages written: every `Sent` message and every on-open message.
    pub messages_out: u64,
    /// Bytes handed to transports by `poll_transmit` (frames, handshakes and closes included).
    pub bytes_out: u64,
    /// Handshakes that completed.
    pub connections: u64,
    /// Handshakes that completed after the first: successful reconnects.
    pub reconnects: u64,
    /// Messages waiting in the outbound queue now.
    pub queue_depth: usize,
    /// Bytes accepted by `send` and not yet taken by `poll_transmit` now.
    pub queued_bytes: usize,
    /// The smoothed heartbeat round-trip time, once a pong arrived.
    pub rtt: Option<Duration>,
    /// Events a driver skipped for listeners that fell behind (the session itself never skips;
    /// its value here is 0, and clients add their own count).
    pub events_skipped: u64,
    /// Received data messages a client dropped because no reader took them: its `recv`
    /// buffer keeps only the latest ones until `recv` is first called, and drops what
    /// arrives during a close when full. The session itself never drops one (0 here).
    pub messages_dropped: u64,
}

/// The counters a session updates as it runs.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counters {
    pub(super) messages_in: u64,
    pub(super) bytes_in: u64,
    pub(super) messages_out: u64,
    pub(super) bytes_out: u64,
    pub(super) connections: u64,
}
