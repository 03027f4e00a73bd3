//! [`ClientBuilder`]: a URL plus every setting of a session client, shared by all drivers.
//! Each runtime module adds its own `start`/`connect` method to the builder.

use std::time::Duration;

use resock_core::WsUrl;
use resock_core::session::{ConfigError, HeartbeatConfig, OverflowPolicy, QueueConfig, ReconnectPolicy, SessionConfig};
use resock_core::url::UrlError;

#[cfg(feature = "rustls")]
use crate::tls::TlsOptions;

/// Default number of session events a listener may fall behind by before it skips ahead and is
/// told how many it missed (see [`ClientBuilder::event_capacity`]).
pub const DEFAULT_EVENT_CAPACITY: usize = 256;

/// Default number of received data messages a client holds for `recv` (see
/// [`ClientBuilder::recv_capacity`]).
pub const DEFAULT_RECV_CAPACITY: usize = 1024;

/// Everything needed to start a client; see the runtime modules for how to start one.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    pub(crate) config: SessionConfig,
    #[cfg(feature = "rustls")]
    pub(crate) tls: TlsOptions,
    pub(crate) event_capacity: usize,
    pub(crate) recv_capacity: usize,
    pub(crate) hooks: crate::hooks::Hooks,
    pub(crate) proxy: crate::proxy::ProxySetting,
}

impl ClientBuilder {
    /// A builder for `url` (`ws://` or `wss://`) with the session defaults.
    pub fn new(url: &str) -> Result<Self, UrlError> {
        Ok(Self::from_config(SessionConfig::new(WsUrl::parse(url)?)))
    }

    /// A builder around a complete session configuration.
    pub fn from_config(config: SessionConfig) -> Self {
        ClientBuilder {
            config,
            #[cfg(feature = "rustls")]
            tls: TlsOptions::default(),
            event_capacity: DEFAULT_EVENT_CAPACITY,
            recv_capacity: DEFAULT_RECV_CAPACITY,
            hooks: Default::default(),
            proxy: Default::default(),
        }
    }

    /// The session configuration so far.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Mutable access to every session setting.
    pub fn config_mut(&mut self) -> &mut SessionConfig {
        &mut self.config
    }

    /// Adds a header to the opening handshake (e.g. `Authorization`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.client.headers.push((name.into(), value.into()));
        self
    }

    /// Computes extra handshake headers for every connection attempt (an auth token that
    /// expires, say); `hook` gets the attempt number, from 1 after each healthy connection.
    /// They are added after the [`header`](Self::header)s. The hook runs on the driver with no
    /// lock held, so it may use the client; keep it quick, the attempt waits for it.
    pub fn headers_with(mut self, hook: impl Fn(u32) -> Vec<(String, String)> + Send + Sync + 'static) -> Self {
        self.hooks.set_headers(hook);
        self
    }

    /// Sends `message` first on every connection, as soon as it opens and before anything
    /// queued: a subscription a feed needs again after each reconnect. Repeat for several, in
    /// order. These are not queued messages (no id, no `Sent`, never handed back).
    pub fn send_on_open(mut self, message: impl Into<resock_core::Message>) -> Self {
        self.config.open_messages.push(message.into());
        self
    }

    /// Computes the messages to send first on each connection (replacing
    /// [`send_on_open`](Self::send_on_open)'s list) when the transport is up, before the
    /// handshake: the subscriptions the application holds at that moment. Runs with no lock
    /// held, like [`headers_with`](Self::headers_with).
    pub fn send_on_open_with(mut self, hook: impl Fn() -> Vec<resock_core::Message> + Send + Sync + 'static) -> Self {
        self.hooks.set_open_messages(hook);
        self
    }

    /// Offers a subprotocol (repeat for several, in order of preference).
    pub fn subprotocol(mut self, name: impl Into<String>) -> Self {
        self.config.client.subprotocols.push(name.into());
        self
    }

    /// Sets the `Origin` header.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.config.client.origin = Some(origin.into());
        self
    }

    /// Sets the reconnect policy (`ReconnectPolicy::disabled()` to never reconnect).
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.config.reconnect = policy;
        self
    }

    /// Sets the heartbeat (`HeartbeatConfig::disabled()` to turn it off).
    pub fn heartbeat(mut self, heartbeat: HeartbeatConfig) -> Self {
        self.config.heartbeat = heartbeat;
        self
    }

    /// Sets the outbound queue bounds.
    pub fn queue(mut self, queue: QueueConfig) -> Self {
        self.config.queue = queue;
        self
    }

    /// Never reconnect: the first disconnect closes the client for good.
    pub fn no_reconnect(mut self) -> Self {
        self.config.reconnect.enabled = false;
        self
    }

    /// Exponential backoff between reconnect attempts, from `initial` doubling up to `max`,
    /// each delay drawn with full jitter (1 s and 30 s by default).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.reconnect.initial_delay = initial;
        self.config.reconnect.max_delay = max;
        self
    }

    /// Gives up after this many consecutive failed attempts (unlimited by default).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.config.reconnect.max_attempts = Some(attempts);
        self
    }

    /// Sends a ping every `interval` (20 s by default).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.heartbeat.interval = Some(interval);
        self
    }

    /// Fails a connection whose server stays silent this long after a ping (20 s by default).
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.config.heartbeat.timeout = timeout;
        self
    }

    /// No heartbeat: no pings, no pong deadline.
    pub fn no_heartbeat(mut self) -> Self {
        self.config.heartbeat.interval = None;
        self
    }

    /// Most messages waiting to be sent, while disconnected or behind (1024 by default).
    pub fn queue_capacity(mut self, messages: usize) -> Self {
        self.config.queue.max_messages = messages;
        self
    }

    /// Most payload bytes waiting to be sent (4 MiB by default).
    pub fn queue_max_bytes(mut self, bytes: usize) -> Self {
        self.config.queue.max_bytes = bytes;
        self
    }

    /// What `send` does when the queue is full: refuse the new message (the default) or drop
    /// the oldest, handing it back in an event.
    pub fn queue_overflow(mut self, overflow: OverflowPolicy) -> Self {
        self.config.queue.overflow = overflow;
        self
    }

    /// Time allowed for DNS, TCP connect, TLS and the WebSocket handshake together.
    pub fn open_timeout(mut self, timeout: Duration) -> Self {
        self.config.open_timeout = timeout;
        self
    }

    /// Most redirects (301, 302, 303, 307, 308) followed while opening one connection (5 by
    /// default); 0 turns following off, so a 3xx fails the attempt. Every hop counts inside
    /// the one [`open_timeout`](Self::open_timeout), each reconnect starts again from this
    /// builder's URL, and a redirect from `wss://` to `ws://` is always refused.
    pub fn max_redirects(mut self, max: u32) -> Self {
        self.config.redirects.max_redirects = max;
        self
    }

    /// Adds a header to the opening handshake, like [`header`](Self::header), and marks it
    /// sensitive: a redirect to another origin (scheme, host or port) does not carry it, as it
    /// never carries `Authorization` or `Cookie`. A header from
    /// [`headers_with`](Self::headers_with) is marked by name in
    /// `config_mut().redirects.sensitive_headers`.
    pub fn sensitive_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.config.redirects.sensitive_headers.push(name.clone());
        self.config.client.headers.push((name, value.into()));
        self
    }

    /// Time allowed for the close handshake.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.config.close_timeout = timeout;
        self
    }

    /// Compression settings (permessage-deflate, RFC 7692), replacing the defaults: messages
    /// of at least `threshold` bytes are compressed, with `level` and the window sizes and
    /// context rules the server agrees to. Offered by default (feature `deflate`); what was
    /// agreed is [`Accepted::deflate`](crate::Accepted::deflate) on each open.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: crate::DeflateConfig) -> Self {
        self.config.connection.deflate = Some(deflate);
        self
    }

    /// Offers no compression: every message goes out and comes in as it is.
    pub fn no_compression(mut self) -> Self {
        self.config.connection.deflate = None;
        self
    }

    /// Largest message accepted from the server, in bytes. A single frame may carry a whole
    /// message of that size, so the frame limit is set to the same value.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.connection.max_message_size = bytes;
        self.config.connection.max_frame_size = bytes;
        self
    }

    /// Decode received text messages with this JSON envelope (typed events and `send_typed`).
    #[cfg(feature = "json")]
    pub fn envelope(mut self, envelope: resock_core::typed::JsonEnvelope) -> Self {
        self.config.envelope = Some(envelope);
        self
    }

    /// TLS settings for `wss://` URLs.
    #[cfg(feature = "rustls")]
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// How many session events the client holds for its listeners (at least 1): a listener
    /// that falls further behind skips ahead to the oldest event still held and is told how
    /// many it missed (`Lagged`). Events never wait for a listener, so a slow or idle one
    /// never stalls the connection, and memory for events stays within this bound.
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// How many received data messages the client holds for `recv` (at least 1; default
    /// [`DEFAULT_RECV_CAPACITY`]). These must not be lost, so once the application has called
    /// `recv`, a full buffer makes the client stop reading from the socket until `recv` takes
    /// one (backpressure to the server; the heartbeat does not count that pause against the
    /// server). Until the first `recv`, the buffer keeps the latest messages and drops older
    /// ones (counted in the metrics), so an application that only sends, or reads through
    /// subscriptions, never stalls. Reads pause only while the connection is open (never
    /// during a handshake), and the buffer may exceed the bound by the messages of the one
    /// socket read that filled it; once the application closes, reads go on and messages over
    /// the bound are dropped (and counted).
    pub fn recv_capacity(mut self, capacity: usize) -> Self {
        self.recv_capacity = capacity;
        self
    }

    /// Connects through this proxy, for every URL (loopback included), instead of the
    /// environment's: `http://[user:password@]host[:port]` (HTTP `CONNECT`), `https://`
    /// (the same over TLS), `socks5://` (SOCKS5, the server's name resolved here) or `socks5h://` (resolved by the
    /// proxy). Credentials are percent-decoded and never appear in errors, logs or events.
    /// `https://` is HTTP `CONNECT` over TLS to the proxy, verified with the client's roots
    /// (the server's TLS then runs inside it). A URL that does not parse is refused by
    /// [`validate`](Self::validate), with the setting `proxy`.
    ///
    /// By default a client uses the proxy curl would: `https_proxy` for `wss://`,
    /// `http_proxy` for `ws://`, else `all_proxy` (lowercase names first, then uppercase),
    /// except for hosts in `no_proxy` (names and their subdomains, addresses, CIDR ranges,
    /// `:port`, `*`) and loopback, read when the client starts.
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = match resock_core::proxy::ProxyUrl::parse(url) {
            Ok(url) => crate::proxy::ProxySetting::Url(url),
            Err(e) => crate::proxy::ProxySetting::Invalid(e),
        };
        self
    }

    /// Always connects directly, whatever the environment's proxy variables say.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = crate::proxy::ProxySetting::Off;
        self
    }

    /// Checks every setting; each start method calls it, so a setting that can never work
    /// (a zero ping interval, a queue of zero messages, a backoff cap below its base, no room
    /// for events) is refused with the setting's name before anything connects.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.event_capacity == 0 {
            return Err(ConfigError::new(
                "event_capacity",
                "must be at least 1; a client with no room for events could never deliver one",
            ));
        }
        if self.recv_capacity == 0 {
            return Err(ConfigError::new(
                "recv_capacity",
                "must be at least 1; a client with no room for a received message could never deliver one",
            ));
        }
        if let Some(problem) = self.proxy.problem() {
            return Err(ConfigError::new("proxy", problem));
        }
        self.config.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_can_never_work_are_refused_by_name() {
        let builder = || ClientBuilder::new("ws://127.0.0.1/").unwrap();
        assert_eq!(
            builder().event_capacity(0).validate().unwrap_err().setting,
            "event_capacity"
        );
        let mut zero_ping = builder();
        zero_ping.config_mut().heartbeat.interval = Some(Duration::ZERO);
        assert_eq!(zero_ping.validate().unwrap_err().setting, "heartbeat.interval");
        assert_eq!(
            builder().open_timeout(Duration::ZERO).validate().unwrap_err().setting,
            "open_timeout"
        );
        assert_eq!(
            builder().max_message_size(0).validate().unwrap_err().setting,
            "connection.max_frame_size"
        );
        builder().open_timeout(Duration::MAX).validate().unwrap();
    }

    #[test]
    fn the_message_limit_sets_the_frame_limit_both_ways() {
        let up = ClientBuilder::new("ws://127.0.0.1/")
            .unwrap()
            .max_message_size(17 << 20);
        assert_eq!(up.config().connection.max_message_size, 17 << 20);
        assert_eq!(up.config().connection.max_frame_size, 17 << 20);
        let down = ClientBuilder::new("ws://127.0.0.1/").unwrap().max_message_size(1000);
        assert_eq!(down.config().connection.max_frame_size, 1000);
    }

    #[test]
    fn the_proxy_setting() {
        let builder = || ClientBuilder::new("wss://example.com/").unwrap();
        assert_eq!(builder().proxy, crate::proxy::ProxySetting::Environment);
        assert_eq!(builder().no_proxy().proxy, crate::proxy::ProxySetting::Off);
        let with = builder().proxy("socks5h://u:secret@127.0.0.1:1080");
        with.validate().unwrap();
        assert!(!format!("{with:?}").contains("secret"), "{with:?}");
        let bad = builder().proxy("ftp://u:secret@h").validate().unwrap_err();
        assert_eq!(bad.setting, "proxy");
        assert!(!bad.to_string().contains("secret"), "{bad}");
    }

    #[test]
    fn every_setting_has_a_builder_method() {
        let b = ClientBuilder::new("ws://127.0.0.1/")
            .unwrap()
            .ping_interval(Duration::from_millis(200))
            .pong_timeout(Duration::from_millis(300))
            .queue_capacity(7)
            .queue_max_bytes(700)
            .queue_overflow(OverflowPolicy::DropOldest)
            .backoff(Duration::from_millis(5), Duration::from_millis(50))
            .max_attempts(3)
            .max_redirects(2)
            .sensitive_header("X-Api-Key", "k")
            .recv_capacity(9);
        let c = b.config();
        assert_eq!(c.heartbeat.interval, Some(Duration::from_millis(200)));
        assert_eq!(c.heartbeat.timeout, Duration::from_millis(300));
        assert_eq!((c.queue.max_messages, c.queue.max_bytes), (7, 700));
        assert_eq!(c.queue.overflow, OverflowPolicy::DropOldest);
        assert_eq!(c.reconnect.initial_delay, Duration::from_millis(5));
        assert_eq!(c.reconnect.max_delay, Duration::from_millis(50));
        assert_eq!(c.reconnect.max_attempts, Some(3));
        assert_eq!(c.redirects.max_redirects, 2);
        assert!(c.redirects.is_sensitive("x-api-key"));
        assert_eq!(c.client.headers, [("X-Api-Key".to_owned(), "k".to_owned())]);
        assert!(c.reconnect.enabled);
        assert_eq!(b.recv_capacity, 9);
        b.validate().unwrap();
        let off = ClientBuilder::new("ws://127.0.0.1/")
            .unwrap()
            .no_heartbeat()
            .no_reconnect();
        assert_eq!(off.config().heartbeat.interval, None);
        assert!(!off.config().reconnect.enabled);
        assert_eq!(
            ClientBuilder::new("ws://127.0.0.1/")
                .unwrap()
                .recv_capacity(0)
                .validate()
                .unwrap_err()
                .setting,
            "recv_capacity"
        );
    }
}
