//! The command line: clap definitions and their translation into a [`ClientBuilder`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use resock::ClientBuilder;
use resock::core::session::{HeartbeatConfig, QueueConfig, ReconnectPolicy};
use resock::tls::TlsOptions;

/// A WebSocket client that stays connected.
///
/// With no arguments, runs a self-contained demo over loopback. With a URL, sends each line of
/// stdin as a message and prints each message received as a line on stdout, reconnecting with
/// backoff when the connection drops. `resock serve` runs an echo (or broadcast) server.
#[derive(Debug, Parser)]
#[command(name = "resock", version, args_conflicts_with_subcommands = true)]
#[command(after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub client: ClientArgs,
}

const EXIT_CODES: &str = "\
Exit status: 0 after a clean close, 1 when the connection failed for good, 2 for bad arguments.

Examples:
  resock                                    the loopback demo
  resock serve 127.0.0.1:9001               an echo server
  echo hello | resock ws://127.0.0.1:9001   send a line, print the echo, close";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The self-contained demo: an embedded server, a client, an outage and a reconnect.
    Demo(DemoArgs),
    /// An echo server (or, with --broadcast, a relay to every connected client).
    Serve(Box<ServeArgs>),
}

/// Which driver runs the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Runtime {
    /// The async driver on smol.
    #[default]
    Smol,
    /// The async driver on async-std.
    AsyncStd,
    /// The async driver natively on tokio (a multi-thread runtime with one worker).
    Tokio,
    /// The blocking driver on std::net, on the main thread.
    Blocking,
}

/// The runtimes the server runs on (it has no blocking mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ServeRuntime {
    /// smol's executor (one thread).
    #[default]
    Smol,
    /// async-std's executor.
    AsyncStd,
    /// A tokio multi-thread runtime with one worker.
    Tokio,
}

impl From<ServeRuntime> for Runtime {
    fn from(runtime: ServeRuntime) -> Runtime {
        match runtime {
            ServeRuntime::Smol => Runtime::Smol,
            ServeRuntime::AsyncStd => Runtime::AsyncStd,
            ServeRuntime::Tokio => Runtime::Tokio,
        }
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The runtime of the demo's client (smol, async-std or tokio).
    #[arg(long, value_enum, default_value_t = Runtime::Smol)]
    pub runtime: Runtime,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port, printed on startup).
    #[arg(default_value = "127.0.0.1:9001")]
    pub addr: SocketAddr,
    /// Send each message to every connected client instead of echoing it to its sender.
    #[arg(long)]
    pub broadcast: bool,
    /// One JSON object per line on stdout for every event.
    #[arg(long)]
    pub json_events: bool,
    /// No status lines on stderr (the listening line is always printed).
    #[arg(short, long)]
    pub quiet: bool,
    /// The runtime the server runs on.
    #[arg(long, value_enum, default_value_t = ServeRuntime::Smol)]
    pub runtime: ServeRuntime,

    /// Largest message accepted from a client, in bytes [default: 1 MiB].
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_message: Option<usize>,
    /// Most connections at once, handshakes included; past it a client is answered 503 with
    /// Retry-After [default: 10000].
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_connections: Option<usize>,
    /// Most connections at once from one IP address; past it 429 with Retry-After [default:
    /// no limit].
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_connections_per_ip: Option<usize>,
    /// Bytes all connections together may hold for unfinished incoming messages; past it the
    /// largest holders are closed with 1009 [default: 256 MiB].
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub inbound_budget: Option<usize>,
    /// Most messages waiting to be written to one client; one more closes it with 1008 (slow
    /// consumer) [default: 1024].
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_queued_messages: Option<usize>,
    /// Most bytes waiting to be written to one client; past it the client is closed with 1008
    /// (slow consumer) [default: 4 MiB].
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_queued_bytes: Option<usize>,

    /// Time allowed for the opening request (408 past it), in ms [default: 10000].
    #[arg(long, value_name = "MS", help_heading = "Timing")]
    pub handshake_timeout: Option<u64>,
    /// Close a connection with 1000 when no message moved either way for this long, in ms; 0
    /// keeps idle connections [default: 300000].
    #[arg(long, value_name = "MS", help_heading = "Timing")]
    pub idle_timeout: Option<u64>,
    /// Ping a client after this long without a byte from it, in ms; 0 sends no pings
    /// [default: 30000].
    #[arg(long, value_name = "MS", help_heading = "Timing")]
    pub ping_interval: Option<u64>,
    /// Close a client (1011) that sent nothing within this long after a ping, in ms
    /// [default: 10000].
    #[arg(long, value_name = "MS", help_heading = "Timing")]
    pub pong_timeout: Option<u64>,
    /// Time allowed for a close handshake, also on shutdown (SIGINT, SIGTERM), in ms
    /// [default: 10000].
    #[arg(long, value_name = "MS", help_heading = "Timing")]
    pub close_timeout: Option<u64>,

    /// Accept only requests whose Origin header is one of these (repeatable); others, and
    /// requests without an Origin, are answered 403. Without it any origin is accepted.
    #[arg(long = "origin", value_name = "ORIGIN", help_heading = "Handshake")]
    pub origins: Vec<String>,
    /// A subprotocol the server speaks (repeatable); the first of the client's offers that is
    /// in this list is chosen. Without it no subprotocol is ever chosen.
    #[arg(long = "subprotocol", value_name = "NAME", help_heading = "Handshake")]
    pub subprotocols: Vec<String>,
    /// Accept no compression (permessage-deflate is accepted when a client offers it).
    #[arg(long, help_heading = "Handshake")]
    pub no_compress: bool,
    /// Serve wss://: the certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key", help_heading = "TLS")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM", requires = "tls_cert", help_heading = "TLS")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The server to connect to (ws:// or wss://). Without it, the demo runs.
    #[arg(value_name = "URL")]
    pub url: Option<String>,

    /// Send stdin lines as binary messages, and write received binary messages to stdout as
    /// raw bytes (no line ending added) instead of hex lines.
    #[arg(long)]
    pub binary: bool,
    /// One JSON object per line on stdout for every event, messages included.
    #[arg(long)]
    pub json_events: bool,
    /// No status lines on stderr (errors are still reported).
    #[arg(short, long)]
    pub quiet: bool,
    /// Exit with 0 after N messages were received, closing cleanly.
    #[arg(long, value_name = "N")]
    pub exit_after: Option<u64>,
    /// The driver that runs the client.
    #[arg(long, value_enum, default_value_t = Runtime::Smol)]
    pub runtime: Runtime,

    /// Never reconnect: the first disconnect is final.
    #[arg(long, help_heading = "Reconnect")]
    pub no_reconnect: bool,
    /// Give up after N consecutive failed attempts.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Reconnect")]
    pub max_attempts: Option<u32>,
    /// Base delay of the first retry, in ms (full jitter is applied).
    #[arg(long, value_name = "MS", default_value_t = 1000, help_heading = "Reconnect")]
    pub backoff_initial: u64,
    /// Cap of the exponential backoff, in ms.
    #[arg(long, value_name = "MS", default_value_t = 30_000, help_heading = "Reconnect")]
    pub backoff_max: u64,

    /// Heartbeat ping interval in ms; 0 turns the heartbeat off.
    #[arg(long, value_name = "MS", default_value_t = 20_000, help_heading = "Timing")]
    pub ping_interval: u64,
    /// Time allowed for the pong in ms; 0 turns the heartbeat off.
    #[arg(long, value_name = "MS", default_value_t = 20_000, help_heading = "Timing")]
    pub pong_timeout: u64,
    /// Time allowed for TCP, TLS and the WebSocket handshake together, in ms (every redirect
    /// of one attempt included).
    #[arg(long, value_name = "MS", default_value_t = 10_000, help_heading = "Timing")]
    pub open_timeout: u64,
    /// Time allowed for the close handshake, in ms.
    #[arg(long, value_name = "MS", default_value_t = 10_000, help_heading = "Timing")]
    pub close_timeout: u64,

    /// Largest message accepted from the server, in bytes [default: 64 MiB].
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_message: Option<usize>,
    /// Most messages waiting to be sent while disconnected [default: 1024].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Limits")]
    pub queue_capacity: Option<u64>,

    /// Extra handshake header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header, help_heading = "Handshake")]
    pub headers: Vec<(String, String)>,
    /// Most HTTP redirects (301, 302, 303, 307, 308) followed while opening a connection; 0
    /// turns following off. Authorization and Cookie headers are not sent to another origin,
    /// and a redirect from wss:// to ws:// is refused.
    #[arg(long, value_name = "N", default_value_t = 5, help_heading = "Handshake")]
    pub max_redirects: u32,
    /// Offer no compression (permessage-deflate is offered by default).
    #[arg(long, help_heading = "Handshake")]
    pub no_compress: bool,
    /// Offer a subprotocol (repeatable, in order of preference).
    #[arg(long = "subprotocol", value_name = "NAME", help_heading = "Handshake")]
    pub subprotocols: Vec<String>,
    /// Trust the certificates in this PEM file for wss:// (besides the built-in roots); a
    /// self-signed server certificate (openssl req -x509) can be given as it is.
    #[arg(long, value_name = "FILE", help_heading = "Handshake")]
    pub cacert: Option<PathBuf>,

    /// Connect through this proxy: http://host:port (CONNECT; credentials as
    /// http://user:password@host:port), https:// (CONNECT over TLS), socks5:// or socks5h://
    /// (names resolved by the proxy). Without it, the proxy comes from https_proxy (wss://),
    /// http_proxy (ws://) or all_proxy, except for no_proxy hosts and loopback, as curl reads
    /// them.
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy", help_heading = "Proxy")]
    pub proxy: Option<String>,
    /// Connect directly, whatever the proxy environment variables say.
    #[arg(long, help_heading = "Proxy")]
    pub no_proxy: bool,
}

/// Parses `Name: value`; clap reports an error as a usage error (exit 2).
fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("expected 'Name: value', got {text:?}"))?;
    let name = name.trim();
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid_name {
        return Err(format!("{name:?} is not a valid header name"));
    }
    let value = value.trim();
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err("a header value may not contain CR, LF or NUL".into());
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

impl ClientArgs {
    /// The builder for `url` with every option applied, or a message for a usage error.
    pub fn builder(&self, url: &str) -> Result<ClientBuilder, String> {
        let mut builder = ClientBuilder::new(url).map_err(|e| format!("bad URL {url:?}: {e}"))?;

        let mut policy = if self.no_reconnect {
            ReconnectPolicy::disabled()
        } else {
            ReconnectPolicy::exponential(ms(self.backoff_initial), ms(self.backoff_max.max(self.backoff_initial)))
        };
        if let Some(max) = self.max_attempts {
            policy = policy.max_attempts(max);
        }
        builder = builder.reconnect(policy);

        let mut heartbeat = if self.ping_interval == 0 || self.pong_timeout == 0 {
            HeartbeatConfig::disabled()
        } else {
            HeartbeatConfig::default()
        };
        if heartbeat.interval.is_some() {
            heartbeat.interval = Some(ms(self.ping_interval));
            heartbeat.timeout = ms(self.pong_timeout);
        }
        builder = builder
            .heartbeat(heartbeat)
            .max_redirects(self.max_redirects)
            .open_timeout(ms(self.open_timeout))
            .close_timeout(ms(self.close_timeout));

        if let Some(bytes) = self.max_message {
            builder = builder.max_message_size(bytes);
        }
        if self.no_compress {
            builder = builder.no_compression();
        }
        if let Some(capacity) = self.queue_capacity {
            let mut queue = QueueConfig::default();
            queue.max_messages = usize::try_from(capacity).unwrap_or(usize::MAX);
            builder = builder.queue(queue);
        }
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        for name in &self.subprotocols {
            builder = builder.subprotocol(name);
        }
        if let Some(path) = &self.cacert {
            let tls = TlsOptions::default()
                .add_root_pem_file(path)
                .map_err(|e| format!("--cacert {}: {e}", path.display()))?;
            builder = builder.tls(tls);
        }
        if let Some(proxy) = &self.proxy {
            builder = builder.proxy(proxy);
        } else if self.no_proxy {
            builder = builder.no_proxy();
        }
        // A setting that can never work (`--queue-capacity 0`) is a usage error, before any connect.
        builder.validate().map_err(|e| e.to_string())?;
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_trim() {
        assert_eq!(
            parse_header("X-Token:  abc def "),
            Ok(("X-Token".into(), "abc def".into()))
        );
        assert_eq!(parse_header("Empty:"), Ok(("Empty".into(), String::new())));
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": value").is_err());
        assert!(parse_header("Bad Name: x").is_err());
    }

    #[test]
    fn options_reach_the_session_config() {
        let cli = Cli::try_parse_from([
            "resock",
            "--max-attempts",
            "3",
            "--backoff-initial",
            "50",
            "--backoff-max",
            "400",
            "--ping-interval",
            "250",
            "--pong-timeout",
            "900",
            "--open-timeout",
            "1500",
            "--close-timeout",
            "700",
            "--max-message",
            "4096",
            "--queue-capacity",
            "7",
            "--max-redirects",
            "2",
            "--no-compress",
            "-H",
            "Authorization: Bearer x",
            "--subprotocol",
            "a",
            "--subprotocol",
            "b",
            "ws://127.0.0.1:1/x",
        ])
        .unwrap();
        let builder = cli.client.builder("ws://127.0.0.1:1/x").unwrap();
        let config = builder.config();
        assert_eq!(config.reconnect.max_attempts, Some(3));
        assert_eq!(config.reconnect.initial_delay, ms(50));
        assert_eq!(config.reconnect.max_delay, ms(400));
        assert!(config.reconnect.enabled);
        assert_eq!(config.heartbeat.interval, Some(ms(250)));
        assert_eq!(config.heartbeat.timeout, ms(900));
        assert_eq!(config.open_timeout, ms(1500));
        assert_eq!(config.close_timeout, ms(700));
        assert_eq!(config.connection.max_message_size, 4096);
        assert_eq!(config.queue.max_messages, 7);
        assert_eq!(config.redirects.max_redirects, 2);
        assert_eq!(config.connection.deflate, None, "--no-compress");
        assert_eq!(
            config.client.headers,
            [("Authorization".to_owned(), "Bearer x".to_owned())]
        );
        assert_eq!(config.client.subprotocols, ["a", "b"]);
    }

    #[test]
    fn zero_turns_the_heartbeat_off_and_no_reconnect_disables_retries() {
        let cli = Cli::try_parse_from(["resock", "--ping-interval", "0", "--no-reconnect", "ws://h/"]).unwrap();
        let builder = cli.client.builder("ws://h/").unwrap();
        assert_eq!(builder.config().heartbeat.interval, None);
        assert!(!builder.config().reconnect.enabled);
        assert_eq!(builder.config().redirects.max_redirects, 5, "the default");
        assert!(
            builder.config().connection.deflate.is_some(),
            "compression is offered by default"
        );
        let cli = Cli::try_parse_from(["resock", "--max-redirects", "0", "ws://h/"]).unwrap();
        assert_eq!(
            cli.client.builder("ws://h/").unwrap().config().redirects.max_redirects,
            0
        );
        let cli = Cli::try_parse_from(["resock", "--pong-timeout", "0", "ws://h/"]).unwrap();
        assert_eq!(cli.client.builder("ws://h/").unwrap().config().heartbeat.interval, None);
    }

    #[test]
    fn subcommands_and_urls_are_told_apart() {
        let cli = Cli::try_parse_from(["resock", "serve", "--broadcast", "127.0.0.1:0"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(serve)) if serve.broadcast));
        let cli = Cli::try_parse_from(["resock", "ws://example.com/"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.client.url.as_deref(), Some("ws://example.com/"));
        let cli = Cli::try_parse_from(["resock", "--runtime", "tokio", "ws://h/"]).unwrap();
        assert_eq!(cli.client.runtime, Runtime::Tokio);
        let cli = Cli::try_parse_from(["resock", "demo", "--runtime", "tokio"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Demo(DemoArgs {
                runtime: Runtime::Tokio
            }))
        ));
        assert!(Cli::try_parse_from(["resock", "--runtime", "tokyo", "ws://h/"]).is_err());
        assert!(Cli::try_parse_from(["resock", "--max-attempts", "0", "ws://h/"]).is_err());
    }

    #[test]
    fn proxy_flags() {
        let cli = Cli::try_parse_from(["resock", "--proxy", "socks5h://u:hunter2@127.0.0.1:1", "wss://h/"]).unwrap();
        cli.client.builder("wss://h/").unwrap();
        let cli = Cli::try_parse_from(["resock", "--proxy", "ftp://u:hunter2@p", "wss://h/"]).unwrap();
        let error = cli.client.builder("wss://h/").unwrap_err();
        assert!(error.contains("proxy") && !error.contains("hunter2"), "{error}");
        let cli = Cli::try_parse_from(["resock", "--no-proxy", "wss://h/"]).unwrap();
        assert!(cli.client.no_proxy);
        assert!(Cli::try_parse_from(["resock", "--no-proxy", "--proxy", "http://p", "wss://h/"]).is_err());
    }

    #[test]
    fn bad_urls_and_missing_roots_are_reported() {
        let cli = Cli::try_parse_from(["resock", "http://h/"]).unwrap();
        assert!(cli.client.builder("http://h/").unwrap_err().contains("bad URL"));
        let cli = Cli::try_parse_from(["resock", "--cacert", "/nonexistent/ca.pem", "wss://h/"]).unwrap();
        assert!(cli.client.builder("wss://h/").unwrap_err().contains("--cacert"));
    }
}
