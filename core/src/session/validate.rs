//! Settings that can never work are refused before a session starts, with the setting's name.
//!
//! Zero where "off" was meant (a ping every 0 s), a queue that can hold nothing, a backoff cap
//! below its base: each of these would otherwise refuse every send, ping in a loop or spin on
//! reconnects. Huge values are fine everywhere: `Duration::MAX` means "never".

use std::time::Duration;

use crate::config::Config;

use super::config::SessionConfig;

/// A setting that makes no sense, named as in the configuration (`queue.max_messages`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {setting}: {problem}")]
pub struct ConfigError {
    /// The setting's path in [`SessionConfig`] (`heartbeat.interval`, `reconnect.max_delay`).
    pub setting: &'static str,
    /// What is wrong with it and what to use instead.
    pub problem: &'static str,
}

impl ConfigError {
    /// An error for `setting`; drivers use it for their own settings (`event_capacity`).
    pub fn new(setting: &'static str, problem: &'static str) -> Self {
        ConfigError { setting, problem }
    }
}

/// Fails with the first setting that is zero where it must not be.
fn nonzero_duration(setting: &'static str, value: Duration, problem: &'static str) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::new(setting, problem));
    }
    Ok(())
}

fn nonzero_count(setting: &'static str, value: usize, problem: &'static str) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError::new(setting, problem));
    }
    Ok(())
}

impl Config {
    /// Checks the connection limits: every limit and timeout must be above zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        nonzero_count(
            "connection.max_frame_size",
            self.max_frame_size,
            "must be at least 1 byte; a zero limit refuses every frame",
        )?;
        nonzero_count(
            "connection.max_message_size",
            self.max_message_size,
            "must be at least 1 byte; a zero limit refuses every message",
        )?;
        nonzero_count(
            "connection.max_fragments",
            self.max_fragments,
            "must be at least 1; a message has at least one frame",
        )?;
        nonzero_count(
            "connection.handshake.max_header_bytes",
            self.handshake.max_header_bytes,
            "must be at least 1 byte; no handshake fits in zero",
        )?;
        nonzero_count(
            "connection.handshake.max_headers",
            self.handshake.max_headers,
            "must be at least 1; a handshake carries several headers",
        )?;
        nonzero_duration(
            "connection.handshake_timeout",
            self.handshake_timeout,
            "must be above zero (`Duration::MAX` waits forever)",
        )?;
        nonzero_duration(
            "connection.close_timeout",
            self.close_timeout,
            "must be above zero (`Duration::MAX` waits forever)",
        )?;
        match &self.deflate {
            Some(deflate) => deflate.validate(),
            None => Ok(()),
        }
    }
}

impl SessionConfig {
    /// Checks every setting; the error names the first one that can never work.
    ///
    /// Every client builder calls this before it starts, so a mistake surfaces when the client
    /// is built rather than as a `send` that waits forever or a reconnect loop that spins.
    pub fn validate(&self) -> Result<(), ConfigError> {
        nonzero_duration(
            "open_timeout",
            self.open_timeout,
            "must be above zero (`Duration::MAX` waits forever)",
        )?;
        nonzero_duration(
            "close_timeout",
            self.close_timeout,
            "must be above zero (`Duration::MAX` waits forever)",
        )?;
        if let Some(interval) = self.heartbeat.interval {
            nonzero_duration(
                "heartbeat.interval",
                interval,
                "must be above zero; use `HeartbeatConfig::disabled()` (interval `None`) to turn pings off",
            )?;
            nonzero_duration(
                "heartbeat.timeout",
                self.heartbeat.timeout,
                "must be above zero (`Duration::MAX` never fails the connection)",
            )?;
        }
        let reconnect = &self.reconnect;
        if reconnect.enabled {
            nonzero_duration(
                "reconnect.initial_delay",
                reconnect.initial_delay,
                "must be above zero; a zero delay retries in a busy loop",
            )?;
            if reconnect.max_delay < reconnect.initial_delay {
                return Err(ConfigError::new(
                    "reconnect.max_delay",
                    "is below reconnect.initial_delay; the cap must be at least the first delay",
                ));
            }
            if !reconnect.factor.is_finite() || reconnect.factor < 1.0 {
                return Err(ConfigError::new(
                    "reconnect.factor",
                    "must be a finite number of at least 1 (1 keeps the delay fixed)",
                ));
            }
            if reconnect.max_attempts == Some(0) {
                return Err(ConfigError::new(
                    "reconnect.max_attempts",
                    "must be at least 1; use `ReconnectPolicy::disabled()` to never reconnect",
                ));
            }
            if reconnect.max_elapsed.is_some_and(|d| d.is_zero()) {
                return Err(ConfigError::new(
                    "reconnect.max_elapsed",
                    "must be above zero; use `ReconnectPolicy::disabled()` to never reconnect",
                ));
            }
        }
        let queue = &self.queue;
        nonzero_count(
            "queue.max_messages",
            queue.max_messages,
            "must be at least 1; a queue of zero messages refuses every send",
        )?;
        nonzero_count(
            "queue.max_bytes",
            queue.max_bytes,
            "must be at least 1; a queue of zero bytes refuses every send",
        )?;
        if queue.low_water > queue.high_water {
            return Err(ConfigError::new(
                "queue.low_water",
                "is above queue.high_water; the client would never become writable again",
            ));
        }
        self.connection.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{HeartbeatConfig, ReconnectPolicy};
    use crate::url::WsUrl;

    fn config() -> SessionConfig {
        SessionConfig::new(WsUrl::parse("ws://127.0.0.1/").unwrap())
    }

    fn refused(edit: impl FnOnce(&mut SessionConfig)) -> &'static str {
        let mut c = config();
        edit(&mut c);
        c.validate().expect_err("refused").setting
    }

    #[test]
    fn defaults_and_huge_values_are_valid() {
        config().validate().unwrap();
        let mut c = config();
        c.open_timeout = Duration::MAX;
        c.close_timeout = Duration::MAX;
        c.heartbeat.interval = Some(Duration::MAX);
        c.heartbeat.timeout = Duration::MAX;
        c.reconnect = ReconnectPolicy::exponential(Duration::MAX, Duration::MAX);
        c.reconnect.healthy_after = Duration::MAX;
        c.reconnect.try_again_later_delay = Duration::MAX;
        c.queue.max_messages = usize::MAX;
        c.queue.max_bytes = usize::MAX;
        c.connection.max_frame_size = usize::MAX;
        c.connection.max_message_size = usize::MAX;
        c.validate().unwrap();
        // The boundaries are valid: a fixed delay (factor 1) and equal water marks.
        let mut edges = config();
        edges.reconnect = ReconnectPolicy::fixed(Duration::from_millis(1));
        edges.queue.high_water = 4096;
        edges.queue.low_water = 4096;
        edges.validate().unwrap();
        let mut off = config();
        off.heartbeat = HeartbeatConfig::disabled();
        off.heartbeat.timeout = Duration::ZERO;
        off.reconnect = ReconnectPolicy::disabled();
        off.reconnect.initial_delay = Duration::ZERO;
        off.validate().unwrap();
    }

    #[test]
    fn each_setting_that_can_never_work_is_named() {
        assert_eq!(refused(|c| c.open_timeout = Duration::ZERO), "open_timeout");
        assert_eq!(refused(|c| c.close_timeout = Duration::ZERO), "close_timeout");
        assert_eq!(
            refused(|c| c.heartbeat.interval = Some(Duration::ZERO)),
            "heartbeat.interval"
        );
        assert_eq!(refused(|c| c.heartbeat.timeout = Duration::ZERO), "heartbeat.timeout");
        assert_eq!(
            refused(|c| c.reconnect.initial_delay = Duration::ZERO),
            "reconnect.initial_delay"
        );
        assert_eq!(
            refused(|c| c.reconnect = ReconnectPolicy::exponential(Duration::from_secs(5), Duration::from_secs(1))),
            "reconnect.max_delay"
        );
        assert_eq!(refused(|c| c.reconnect.factor = 0.5), "reconnect.factor");
        assert_eq!(refused(|c| c.reconnect.factor = f64::NAN), "reconnect.factor");
        assert_eq!(refused(|c| c.reconnect.factor = f64::INFINITY), "reconnect.factor");
        assert_eq!(
            refused(|c| c.reconnect.max_attempts = Some(0)),
            "reconnect.max_attempts"
        );
        assert_eq!(
            refused(|c| c.reconnect.max_elapsed = Some(Duration::ZERO)),
            "reconnect.max_elapsed"
        );
        assert_eq!(refused(|c| c.queue.max_messages = 0), "queue.max_messages");
        assert_eq!(refused(|c| c.queue.max_bytes = 0), "queue.max_bytes");
        assert_eq!(
            refused(|c| {
                c.queue.high_water = 10;
                c.queue.low_water = 11
            }),
            "queue.low_water"
        );
        assert_eq!(
            refused(|c| c.connection.max_frame_size = 0),
            "connection.max_frame_size"
        );
        assert_eq!(
            refused(|c| c.connection.max_message_size = 0),
            "connection.max_message_size"
        );
        assert_eq!(refused(|c| c.connection.max_fragments = 0), "connection.max_fragments");
        assert_eq!(
            refused(|c| c.connection.handshake.max_headers = 0),
            "connection.handshake.max_headers"
        );
        assert_eq!(
            refused(|c| c.connection.deflate = Some(crate::DeflateConfig::new().level(11))),
            "connection.deflate.level"
        );
    }

    #[test]
    fn the_error_reads_as_one_sentence_naming_the_setting() {
        let mut c = config();
        c.queue.max_messages = 0;
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid setting queue.max_messages: must be at least 1; a queue of zero messages refuses every send"
        );
    }
}
