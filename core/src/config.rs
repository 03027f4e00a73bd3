//! Limits and timeouts of one connection. Every limit is finite by default.

use crate::extension::DeflateConfig;
use crate::handshake::HandshakeLimits;
use std::time::Duration;

/// Settings of a [`Connection`](crate::Connection).
///
/// | field | default | why |
/// |---|---|---|
/// | `max_frame_size` | 16 MiB | the largest frame Autobahn 9.x sends |
/// | `max_message_size` | 64 MiB | tungstenite's default; lower it for JSON protocols |
/// | `max_fragments` | 4096 | CPU guard against floods of tiny fragments (ws#2331) |
/// | `handshake` | 64 KiB, 128 headers | CVE-2023-43669, CVE-2024-37890 |
/// | `handshake_timeout` | 10 s | slowloris servers (Python websockets' `open_timeout`) |
/// | `close_timeout` | 10 s | a peer that never answers our close |
/// | `deflate` | offered/accepted (feature `deflate`) | see [`DeflateConfig`]; `None` turns it off |
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Largest accepted frame payload; larger frames fail with 1009 from the header alone.
    pub max_frame_size: usize,
    /// Largest accepted message (sum of its fragments); larger messages fail with 1009.
    pub max_message_size: usize,
    /// Most frames one message may span; more fail with 1008. Empty fragments count.
    pub max_fragments: usize,
    /// Bounds on the opening handshake.
    pub handshake: HandshakeLimits,
    /// How long the opening handshake may take once the transport is up.
    pub handshake_timeout: Duration,
    /// How long to wait for the peer's close frame (and, as a client, its TCP close).
    pub close_timeout: Duration,
    /// permessage-deflate: what a client offers and a server accepts; `None` for no
    /// compression. The default is [`DeflateConfig::default`] with the `deflate` feature
    /// (on by default) and `None` without it, where a setting here is ignored.
    pub deflate: Option<DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_fragments: 4096,
            handshake: HandshakeLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(10),
            deflate: cfg!(feature = "deflate").then(DeflateConfig::default),
        }
    }
}

impl Config {
    /// Sets the frame size limit.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets the message size limit.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets the fragment count limit.
    pub fn max_fragments(mut self, count: usize) -> Self {
        self.max_fragments = count;
        self
    }

    /// Sets the handshake limits.
    pub fn handshake_limits(mut self, limits: HandshakeLimits) -> Self {
        self.handshake = limits;
        self
    }

    /// Sets the opening handshake timeout.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets the close handshake timeout.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets the permessage-deflate settings (`None`: no compression).
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.deflate = deflate;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_limit_is_finite() {
        let c = Config::default();
        assert!(c.max_frame_size <= 1 << 30);
        assert!(c.max_message_size <= 1 << 30);
        assert!(c.max_fragments <= 1 << 20);
        assert!(c.handshake.max_header_bytes <= 1 << 20);
        assert!(c.handshake.max_headers <= 1024);
        assert!(c.handshake_timeout <= Duration::from_secs(60));
        assert!(c.close_timeout <= Duration::from_secs(60));
    }
}
