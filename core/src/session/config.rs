//! Session settings: reconnect policy, heartbeat, outbound queue and timeouts.
//!
//! | setting | default | why |
//! |---|---|---|
//! | `reconnect.initial_delay` | 1 s | RFC 6455 §7.2.3 suggests a random 0-5 s first delay; full jitter over 1 s spreads a herd |
//! | `reconnect.max_delay` | 30 s | long enough to spare a struggling server, short enough for a UI |
//! | `reconnect.factor` | 2 | truncated binary exponential backoff (§7.2.3) |
//! | `reconnect.jitter` | full | `random(0, min(cap, base * factor^n))`, applied after the cap (no socket.io lock-step) |
//! | `reconnect.max_attempts` / `max_elapsed` | unlimited | a long-lived client is expected to stay connected |
//! | `reconnect.healthy_after` | 10 s | the attempt count resets only after this long open, not at the 101 |
//! | `reconnect.try_again_later_delay` | 30 s | minimum wait after close code 1013 |
//! | `open_timeout` | 10 s | transport plus handshake (Python websockets' `open_timeout`) |
//! | `close_timeout` | 10 s | a peer that never answers our close |
//! | `redirects.max_redirects` | 5 | the limit RFC 2068 §10.3 suggested; a loop fails fast, and all hops share one `open_timeout` |
//! | `heartbeat.interval` / `timeout` | 20 s / 20 s | Python websockets' `ping_interval` / `ping_timeout` |
//! | `queue.max_messages` / `max_bytes` | 1024 / 4 MiB | bounded memory while disconnected |
//! | `queue.high_water` / `low_water` | 1 MiB / 256 KiB | backpressure on bytes not yet taken by `poll_transmit` |

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::handshake::ClientOptions;
use crate::message::Message;
use crate::url::WsUrl;

use super::policy::{Decision, DisconnectReason};
use super::redirect::RedirectPolicy;

/// A user hook that may change the default retry decision for a disconnect.
pub type ClassifyHook = Arc<dyn Fn(&DisconnectReason, Decision) -> Decision + Send + Sync>;

/// How the session retries after a disconnect.
#[derive(Clone)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// Reconnect at all; `false` makes every disconnect final.
    pub enabled: bool,
    /// Base delay of the first retry.
    pub initial_delay: Duration,
    /// Cap of the exponential growth, applied before the jitter.
    pub max_delay: Duration,
    /// Growth factor per consecutive failed attempt.
    pub factor: f64,
    /// Draw each delay uniformly from `[0, delay]` (full jitter); `false` waits exactly `delay`.
    pub jitter: bool,
    /// Give up after this many consecutive failed attempts.
    pub max_attempts: Option<u32>,
    /// Give up when this much time has passed since the first failure of the current run.
    pub max_elapsed: Option<Duration>,
    /// A connection open this long is healthy: the attempt count resets.
    pub healthy_after: Duration,
    /// Minimum delay after the server closed with 1013 (try again later).
    pub try_again_later_delay: Duration,
    /// Changes the default classification of a disconnect (see [`DisconnectReason::default_decision`]).
    pub classify: Option<ClassifyHook>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            factor: 2.0,
            jitter: true,
            max_attempts: None,
            max_elapsed: None,
            healthy_after: Duration::from_secs(10),
            try_again_later_delay: Duration::from_secs(30),
            classify: None,
        }
    }
}

impl fmt::Debug for ReconnectPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectPolicy")
            .field("enabled", &self.enabled)
            .field("initial_delay", &self.initial_delay)
            .field("max_delay", &self.max_delay)
            .field("factor", &self.factor)
            .field("jitter", &self.jitter)
            .field("max_attempts", &self.max_attempts)
            .field("max_elapsed", &self.max_elapsed)
            .field("healthy_after", &self.healthy_after)
            .field("try_again_later_delay", &self.try_again_later_delay)
            .field("classify", &self.classify.as_ref().map(|_| "hook"))
            .finish()
    }
}

impl ReconnectPolicy {
    /// Never reconnect.
    pub fn disabled() -> Self {
        ReconnectPolicy {
            enabled: false,
            ..Self::default()
        }
    }

    /// Exponential backoff with full jitter between `initial` and `max`.
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        ReconnectPolicy {
            initial_delay: initial,
            max_delay: max,
            ..Self::default()
        }
    }

    /// The same delay every time, without jitter (the "retry every 5 s" of many guides).
    pub fn fixed(delay: Duration) -> Self {
        ReconnectPolicy {
            initial_delay: delay,
            max_delay: delay,
            factor: 1.0,
            jitter: false,
            ..Self::default()
        }
    }

    /// Sets the attempt limit.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Sets the total time limit.
    pub fn max_elapsed(mut self, limit: Duration) -> Self {
        self.max_elapsed = Some(limit);
        self
    }

    /// Sets how long a connection must stay open before the attempt count resets.
    pub fn healthy_after(mut self, duration: Duration) -> Self {
        self.healthy_after = duration;
        self
    }

    /// Sets the growth factor per consecutive failed attempt (2 by default).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Turns the full jitter on (the default) or off.
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the minimum delay after the server closed with 1013 (try again later).
    pub fn try_again_later_delay(mut self, delay: Duration) -> Self {
        self.try_again_later_delay = delay;
        self
    }

    /// Installs a hook that may override the default retry decision.
    pub fn classify(mut self, hook: impl Fn(&DisconnectReason, Decision) -> Decision + Send + Sync + 'static) -> Self {
        self.classify = Some(Arc::new(hook));
        self
    }
}

/// Liveness checking.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HeartbeatConfig {
    /// Send a protocol ping after this long without a ping; `None` turns the heartbeat off.
    pub interval: Option<Duration>,
    /// Fail the connection with 1011 when no pong (or, with `any_frame_is_liveness`, no frame
    /// at all) arrives this long after a ping.
    pub timeout: Duration,
    /// Any received frame proves the peer alive and postpones the next ping.
    pub any_frame_is_liveness: bool,
    /// An application-level heartbeat sent at each interval besides the ping, for servers
    /// that expect one (for example `{"type":"ping"}`).
    pub app_message: Option<Message>,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            interval: Some(Duration::from_secs(20)),
            timeout: Duration::from_secs(20),
            any_frame_is_liveness: true,
            app_message: None,
        }
    }
}

impl HeartbeatConfig {
    /// No heartbeat at all.
    pub fn disabled() -> Self {
        HeartbeatConfig {
            interval: None,
            ..Self::default()
        }
    }

    /// A ping every `interval`, and a peer silent for `timeout` after a ping is failed.
    pub fn every(interval: Duration, timeout: Duration) -> Self {
        HeartbeatConfig {
            interval: Some(interval),
            timeout,
            ..Self::default()
        }
    }

    /// Whether any received frame proves the peer alive (the default) or only a pong does.
    pub fn any_frame_is_liveness(mut self, yes: bool) -> Self {
        self.any_frame_is_liveness = yes;
        self
    }

    /// Also sends `message` at each interval, for servers that expect an application ping.
    pub fn app_message(mut self, message: impl Into<Message>) -> Self {
        self.app_message = Some(message.into());
        self
    }
}

/// What `send` does when the outbound queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Refuse the new message; `send` hands it back.
    #[default]
    Reject,
    /// Drop the oldest queued message, handing it back in an event, and accept the new one.
    DropOldest,
}

/// Bounds of the outbound queue.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueueConfig {
    /// Most messages waiting (while disconnected or above the high-water mark).
    pub max_messages: usize,
    /// Most payload bytes waiting.
    pub max_bytes: usize,
    /// What happens when a send would exceed either bound.
    pub overflow: OverflowPolicy,
    /// Bytes not yet taken by `poll_transmit` above which the session reports not writable.
    pub high_water: usize,
    /// Bytes at or below which a `Writable` event follows a period above the high-water mark
    /// (0: once everything was taken by `poll_transmit`).
    pub low_water: usize,
}

impl QueueConfig {
    /// The defaults: 1024 messages, 4 MiB, reject when full, water marks 1 MiB / 256 KiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the most messages waiting.
    pub fn max_messages(mut self, messages: usize) -> Self {
        self.max_messages = messages;
        self
    }

    /// Sets the most payload bytes waiting.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Sets what a send does when the queue is full.
    pub fn overflow(mut self, overflow: OverflowPolicy) -> Self {
        self.overflow = overflow;
        self
    }

    /// Sets the water marks of `Writable` (high above low).
    pub fn water_marks(mut self, high: usize, low: usize) -> Self {
        self.high_water = high;
        self.low_water = low;
        self
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_messages: 1024,
            max_bytes: 4 << 20,
            overflow: OverflowPolicy::Reject,
            high_water: 1 << 20,
            low_water: 256 << 10,
        }
    }
}

/// Everything a [`Session`](super::Session) needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Where to connect.
    pub url: WsUrl,
    /// Handshake options: subprotocols, headers, origin.
    pub client: ClientOptions,
    /// Per-connection limits (frame, message, handshake).
    pub connection: Config,
    /// Reconnect policy and classification.
    pub reconnect: ReconnectPolicy,
    /// Heartbeat.
    pub heartbeat: HeartbeatConfig,
    /// Outbound queue.
    pub queue: QueueConfig,
    /// Time allowed from asking for a transport to a completed handshake; one attempt's
    /// redirects all fit in it.
    pub open_timeout: Duration,
    /// Which redirects of the opening handshake are followed, and which headers stay with the
    /// configured origin.
    pub redirects: RedirectPolicy,
    /// Time allowed for the close handshake.
    pub close_timeout: Duration,
    /// With an envelope, received text messages are decoded into [`SessionEvent::Typed`]
    /// (or an [`Error::Decode`] event that leaves the connection alone) instead of
    /// [`SessionEvent::Message`]; `send_typed` uses it too. `None` delivers raw messages.
    ///
    /// [`SessionEvent::Typed`]: super::SessionEvent::Typed
    /// [`SessionEvent::Message`]: super::SessionEvent::Message
    /// [`Error::Decode`]: super::Error::Decode
    #[cfg(feature = "json")]
    pub envelope: Option<crate::typed::JsonEnvelope>,
    /// Messages written first on every connection, as soon as its handshake completes and
    /// before anything queued: the subscriptions a feed needs again after each reconnect.
    /// They are not queued messages: no id, no `Sent` event, never handed back.
    /// [`Session::set_open_messages`](super::Session::set_open_messages) replaces them.
    pub open_messages: Vec<crate::message::Message>,
}

impl SessionConfig {
    /// Defaults for `url`.
    pub fn new(url: WsUrl) -> Self {
        SessionConfig {
            url,
            client: ClientOptions::default(),
            connection: Config::default(),
            reconnect: ReconnectPolicy::default(),
            heartbeat: HeartbeatConfig::default(),
            queue: QueueConfig::default(),
            open_timeout: Duration::from_secs(10),
            redirects: RedirectPolicy::default(),
            close_timeout: Duration::from_secs(10),
            #[cfg(feature = "json")]
            envelope: None,
            open_messages: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_builder_sets_its_field() {
        let p = ReconnectPolicy::fixed(Duration::from_millis(250));
        assert_eq!(
            (p.initial_delay, p.max_delay),
            (Duration::from_millis(250), Duration::from_millis(250))
        );
        assert_eq!((p.factor, p.jitter), (1.0, false));
        let p = ReconnectPolicy::exponential(Duration::from_millis(5), Duration::from_secs(7))
            .max_attempts(3)
            .max_elapsed(Duration::from_secs(60))
            .healthy_after(Duration::from_secs(2))
            .factor(3.0)
            .jitter(false)
            .try_again_later_delay(Duration::from_secs(9))
            .classify(|_, decision| decision);
        assert_eq!(
            (p.initial_delay, p.max_delay),
            (Duration::from_millis(5), Duration::from_secs(7))
        );
        assert_eq!(p.max_attempts, Some(3));
        assert_eq!(p.max_elapsed, Some(Duration::from_secs(60)));
        assert_eq!(p.healthy_after, Duration::from_secs(2));
        assert_eq!((p.factor, p.jitter), (3.0, false));
        assert_eq!(p.try_again_later_delay, Duration::from_secs(9));
        assert!(p.classify.is_some());
        assert!(!ReconnectPolicy::disabled().enabled);
        // The hook shows as present, never as a pointer.
        let shown = format!("{p:?}");
        assert!(
            shown.starts_with("ReconnectPolicy { enabled: true, initial_delay: 5ms"),
            "{shown}"
        );
        assert!(shown.ends_with(r#"classify: Some("hook") }"#), "{shown}");
    }

    #[test]
    fn heartbeat_and_queue_builders_set_their_fields() {
        let h = HeartbeatConfig::every(Duration::from_secs(5), Duration::from_secs(8))
            .any_frame_is_liveness(false)
            .app_message("ping");
        assert_eq!(h.interval, Some(Duration::from_secs(5)));
        assert_eq!(h.timeout, Duration::from_secs(8));
        assert!(!h.any_frame_is_liveness);
        assert_eq!(h.app_message, Some(Message::text("ping")));
        assert_eq!(HeartbeatConfig::disabled().interval, None);
        let q = QueueConfig::new()
            .max_messages(3)
            .max_bytes(300)
            .overflow(OverflowPolicy::DropOldest)
            .water_marks(200, 100);
        assert_eq!((q.max_messages, q.max_bytes), (3, 300));
        assert_eq!(q.overflow, OverflowPolicy::DropOldest);
        assert_eq!((q.high_water, q.low_water), (200, 100));
        assert_eq!(QueueConfig::new().max_messages, QueueConfig::default().max_messages);
    }
}
