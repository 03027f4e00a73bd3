//! The server's settings: the connection limits for the server role, the idle timeout, the
//! heartbeat and the outbound queue, each with a finite default.

use std::time::Duration;

use crate::config::Config;
use crate::session::ConfigError;

/// The settings of every [`ServerConnection`](super::ServerConnection).
///
/// | setting | default | guards against |
/// |---|---|---|
/// | `connection` | [`Config::default`] with 1 MiB frames and messages | a client pinning memory with huge messages |
/// | `connection.handshake_timeout` | 10 s | slowloris requests (answered 408) and undecided requests (503) |
/// | `idle_timeout` | 300 s | connections where no data message moves either way |
/// | `ping_interval` / `pong_timeout` | 30 s / 10 s | dead peers: failed within interval + timeout of the last bytes they sent |
/// | `max_queued_messages` / `max_queued_bytes` | 1024 / 4 MiB | a client that stops reading (closed 1008 "slow consumer") |
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The limits of each connection. Default: [`Config::default`] with `max_message_size` and
    /// `max_frame_size` at [`ServerConfig::DEFAULT_MAX_MESSAGE`] (1 MiB); the handshake timeout
    /// (10 s) bounds the request and the application's decision, the close timeout (10 s) the
    /// close handshake.
    pub connection: Config,
    /// No data message either way for this long closes the connection with 1000 "idle
    /// timeout". `None` never closes an idle connection. Default: 300 s.
    pub idle_timeout: Option<Duration>,
    /// A ping goes out after this long without any bytes from the client (a frame or part of
    /// one). `None` sends no pings (and then no pong deadline runs). Default: 30 s.
    pub ping_interval: Option<Duration>,
    /// The peer is failed (close 1011 "pong timeout", no wait for its reply) when nothing at
    /// all arrived within this long after the oldest unanswered ping. `Duration::MAX` never
    /// fails it. Default: 10 s.
    pub pong_timeout: Duration,
    /// Most messages waiting for the transport; one more closes the connection as a slow
    /// consumer. Default: 1024.
    pub max_queued_messages: usize,
    /// Most payload bytes waiting for the transport; a message that does not fit closes the
    /// connection as a slow consumer. Default: 4 MiB.
    pub max_queued_bytes: usize,
}

impl ServerConfig {
    /// The server's default frame and message limit: 1 MiB.
    pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

    /// The connection limits (see the field for the default).
    pub fn connection(mut self, connection: Config) -> Self {
        self.connection = connection;
        self
    }

    /// The idle timeout; `None` turns it off. Default: 300 s.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The ping interval; `None` turns the heartbeat off. Default: 30 s.
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.ping_interval = interval;
        self
    }

    /// The pong deadline after the oldest unanswered ping. Default: 10 s.
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.pong_timeout = timeout;
        self
    }

    /// Most messages in the outbound queue. Default: 1024.
    pub fn max_queued_messages(mut self, count: usize) -> Self {
        self.max_queued_messages = count;
        self
    }

    /// Most payload bytes in the outbound queue. Default: 4 MiB.
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.max_queued_bytes = bytes;
        self
    }

    /// Refuses settings that can never work, naming the setting: zero where "off" (`None`)
    /// was meant, a queue that can hold nothing, and every invalid connection limit. Huge
    /// values are fine: `Duration::MAX` means "never".
    pub fn validate(&self) -> Result<(), ServerConfigError> {
        self.connection.validate()?;
        if self.idle_timeout.is_some_and(|t| t.is_zero()) {
            return Err(ServerConfigError::new(
                "idle_timeout",
                "must be above zero; use `None` to keep idle connections",
            ));
        }
        if self.ping_interval.is_some_and(|t| t.is_zero()) {
            return Err(ServerConfigError::new(
                "ping_interval",
                "must be above zero; use `None` to send no pings",
            ));
        }
        if self.pong_timeout.is_zero() {
            return Err(ServerConfigError::new(
                "pong_timeout",
                "must be above zero (`Duration::MAX` waits forever)",
            ));
        }
        if self.max_queued_messages == 0 {
            return Err(ServerConfigError::new(
                "max_queued_messages",
                "must be at least 1; an empty queue refuses every message",
            ));
        }
        if self.max_queued_bytes == 0 {
            return Err(ServerConfigError::new(
                "max_queued_bytes",
                "must be at least 1 byte; an empty queue refuses every message",
            ));
        }
        Ok(())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            connection: Config::default()
                .max_message_size(Self::DEFAULT_MAX_MESSAGE)
                .max_frame_size(Self::DEFAULT_MAX_MESSAGE),
            idle_timeout: Some(Duration::from_secs(300)),
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(10),
            max_queued_messages: 1024,
            max_queued_bytes: 4 << 20,
        }
    }
}

/// A server setting that makes no sense, named as in [`ServerConfig`] (`max_queued_bytes`,
/// `connection.close_timeout`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid server setting {setting}: {problem}")]
pub struct ServerConfigError {
    /// The setting's path in [`ServerConfig`].
    pub setting: &'static str,
    /// What is wrong with it and what to use instead.
    pub problem: &'static str,
}

impl ServerConfigError {
    /// An error for `setting`; drivers use it for their own settings (`max_connections`).
    pub fn new(setting: &'static str, problem: &'static str) -> Self {
        ServerConfigError { setting, problem }
    }
}

impl From<ConfigError> for ServerConfigError {
    fn from(error: ConfigError) -> Self {
        ServerConfigError {
            setting: error.setting,
            problem: error.problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_as_documented() {
        let c = ServerConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.connection.max_message_size, 1 << 20);
        assert_eq!(c.connection.max_frame_size, 1 << 20);
        assert_eq!(c.idle_timeout, Some(Duration::from_secs(300)));
        assert_eq!(c.ping_interval, Some(Duration::from_secs(30)));
        assert_eq!(c.pong_timeout, Duration::from_secs(10));
        assert_eq!((c.max_queued_messages, c.max_queued_bytes), (1024, 4 << 20));
    }

    #[test]
    fn zeros_are_refused_with_the_setting_name() {
        let d = ServerConfig::default;
        let cases = [
            (d().idle_timeout(Some(Duration::ZERO)), "idle_timeout"),
            (d().ping_interval(Some(Duration::ZERO)), "ping_interval"),
            (d().pong_timeout(Duration::ZERO), "pong_timeout"),
            (d().max_queued_messages(0), "max_queued_messages"),
            (d().max_queued_bytes(0), "max_queued_bytes"),
            (
                d().connection(Config::default().close_timeout(Duration::ZERO)),
                "connection.close_timeout",
            ),
        ];
        for (config, setting) in cases {
            assert_eq!(config.validate().map_err(|e| e.setting), Err(setting));
        }
        let huge = d()
            .idle_timeout(Some(Duration::MAX))
            .ping_interval(Some(Duration::MAX))
            .pong_timeout(Duration::MAX)
            .max_queued_messages(usize::MAX)
            .max_queued_bytes(usize::MAX);
        assert_eq!(huge.validate(), Ok(()));
        assert_eq!(d().idle_timeout(None).ping_interval(None).validate(), Ok(()));
    }
}
