//! `resock serve`'s flags turned into a [`ServerBuilder`]: limits, timeouts, TLS, and the
//! decision on each request (allowed origins, the subprotocols the server speaks).

use std::sync::Arc;
use std::time::Duration;

use resock::{Decision, Refusal, RequestInfo, ServerBuilder, ServerConfig, ServerTls};

use crate::args::ServeArgs;

/// Told about each refused connection (the server's refusal hook: it must not block).
pub type OnRefusal = Arc<dyn Fn(&Refusal) + Send + Sync>;

/// The status of a request whose Origin is not allowed.
pub const FORBIDDEN: u16 = 403;

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

/// `Some(ms)` unless 0, which turns the setting off.
fn ms_or_off(value: u64) -> Option<Duration> {
    (value > 0).then(|| ms(value))
}

/// Every connection's settings from `args` (not yet validated).
fn config(args: &ServeArgs) -> ServerConfig {
    let defaults = ServerConfig::default();
    let mut connection = defaults.connection.clone();
    if args.no_compress {
        connection = connection.deflate(None);
    }
    if let Some(bytes) = args.max_message {
        connection = connection.max_message_size(bytes).max_frame_size(bytes);
    }
    if let Some(value) = args.handshake_timeout {
        connection = connection.handshake_timeout(ms(value));
    }
    if let Some(value) = args.close_timeout {
        connection = connection.close_timeout(ms(value));
    }
    let mut config = defaults.connection(connection);
    if let Some(value) = args.idle_timeout {
        config = config.idle_timeout(ms_or_off(value));
    }
    if let Some(value) = args.ping_interval {
        config = config.ping_interval(ms_or_off(value));
    }
    if let Some(value) = args.pong_timeout {
        config = config.pong_timeout(ms(value));
    }
    if let Some(count) = args.max_queued_messages {
        config = config.max_queued_messages(count);
    }
    match args.max_queued_bytes {
        Some(bytes) => config = config.max_queued_bytes(bytes),
        // The queue holds at least one message of the largest size accepted, or its echo
        // could never be sent.
        None => {
            let at_least = config.connection.max_message_size;
            config.max_queued_bytes = config.max_queued_bytes.max(at_least);
        }
    }
    config
}

/// The server's settings from `args`, or a sentence naming the flag that cannot work.
pub fn builder(args: &ServeArgs, on_refusal: OnRefusal) -> Result<ServerBuilder, String> {
    let mut builder = ServerBuilder::new()
        .config(config(args))
        .on_refusal(move |refusal| on_refusal(refusal));
    if let Some(max) = args.max_connections {
        builder = builder.max_connections(max);
    }
    if let Some(max) = args.max_connections_per_ip {
        builder = builder.max_connections_per_ip(max);
    }
    if let Some(bytes) = args.inbound_budget {
        builder = builder.inbound_budget(bytes);
    }
    builder
        .validate()
        .map_err(|e| format!("{}: {}", flag_of(e.setting), e.problem))?;
    if let (Some(queue), Some(message)) = (args.max_queued_bytes, args.max_message) {
        if queue < message {
            return Err(format!(
                "--max-queued-bytes: {queue} is below --max-message {message}; the answer to the largest \
                 message could never be queued"
            ));
        }
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let tls = ServerTls::from_pem_files(cert, key).map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
        builder = builder.tls(tls);
    }
    let decide = Decide {
        origins: args.origins.clone(),
        subprotocols: args.subprotocols.clone(),
    };
    Ok(builder.decide(move |request| decide.decide(request)))
}

/// The command-line flag of a setting [`ServerBuilder::validate`] names.
fn flag_of(setting: &str) -> &str {
    match setting {
        "connection.max_frame_size" | "connection.max_message_size" => "--max-message",
        "connection.handshake_timeout" => "--handshake-timeout",
        "connection.close_timeout" => "--close-timeout",
        "idle_timeout" => "--idle-timeout",
        "ping_interval" => "--ping-interval",
        "pong_timeout" => "--pong-timeout",
        "max_queued_messages" => "--max-queued-messages",
        "max_queued_bytes" => "--max-queued-bytes",
        "max_connections" => "--max-connections",
        "max_connections_per_ip" => "--max-connections-per-ip",
        "inbound_budget" => "--inbound-budget",
        other => other,
    }
}

/// The decision on each request, from `--origin` and `--subprotocol`.
#[derive(Debug, Clone, Default)]
struct Decide {
    /// Allowed Origin values; empty: any (and none).
    origins: Vec<String>,
    /// The subprotocols the server speaks.
    subprotocols: Vec<String>,
}

impl Decide {
    fn decide(&self, request: &RequestInfo) -> Decision {
        self.decide_on(request.origin(), request.subprotocols())
    }

    /// The decision for a request with this Origin and these subprotocol offers.
    fn decide_on(&self, origin: Option<&str>, offered: &[String]) -> Decision {
        let allowed = self.origins.is_empty()
            || origin.is_some_and(|origin| self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin)));
        if !allowed {
            return Decision::reject(FORBIDDEN).body("origin not allowed\n");
        }
        match self.choose(offered) {
            Some(name) => Decision::accept().subprotocol(name),
            None => Decision::accept(),
        }
    }

    /// The first of the client's offers that the server speaks.
    fn choose<'a>(&self, offered: &'a [String]) -> Option<&'a str> {
        offered
            .iter()
            .find(|offer| self.subprotocols.iter().any(|own| own == *offer))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn serve_args(flags: &[&str]) -> ServeArgs {
        let mut all = vec!["resock", "serve"];
        all.extend_from_slice(flags);
        match Cli::try_parse_from(all).unwrap().command {
            Some(Command::Serve(args)) => *args,
            other => panic!("not serve: {other:?}"),
        }
    }

    fn ignore() -> OnRefusal {
        Arc::new(|_| {})
    }

    #[test]
    fn flags_reach_the_server_config() {
        let args = serve_args(&[
            "--max-message",
            "4096",
            "--handshake-timeout",
            "300",
            "--close-timeout",
            "700",
            "--idle-timeout",
            "0",
            "--ping-interval",
            "250",
            "--pong-timeout",
            "900",
            "--max-queued-messages",
            "7",
            "--max-queued-bytes",
            "8192",
            "--no-compress",
        ]);
        let config = config(&args);
        assert_eq!(config.connection.max_message_size, 4096);
        assert_eq!(config.connection.max_frame_size, 4096);
        assert_eq!(config.connection.handshake_timeout, ms(300));
        assert_eq!(config.connection.close_timeout, ms(700));
        assert_eq!(config.connection.deflate, None);
        assert_eq!(config.idle_timeout, None, "0 turns it off");
        assert_eq!(config.ping_interval, Some(ms(250)));
        assert_eq!(config.pong_timeout, ms(900));
        assert_eq!((config.max_queued_messages, config.max_queued_bytes), (7, 8192));
        let big = super::config(&serve_args(&["--max-message", "67108864"]));
        assert_eq!(big.max_queued_bytes, 64 << 20, "the queue holds the largest message");
        assert!(
            builder(
                &serve_args(&["--max-message", "2048", "--max-queued-bytes", "1024"]),
                ignore()
            )
            .is_err()
        );
        let defaults = super::config(&serve_args(&[]));
        assert_eq!(defaults.connection.max_message_size, ServerConfig::DEFAULT_MAX_MESSAGE);
        assert_eq!(defaults.idle_timeout, Some(Duration::from_secs(300)));
        assert!(defaults.connection.deflate.is_some());
        builder(&args, ignore()).unwrap();
    }

    #[test]
    fn a_setting_that_cannot_work_names_its_flag() {
        for (flags, flag) in [
            (&["--pong-timeout", "0"][..], "--pong-timeout"),
            (&["--handshake-timeout", "0"][..], "--handshake-timeout"),
            (&["--close-timeout", "0"][..], "--close-timeout"),
            (&["--max-connections", "0"][..], "--max-connections"),
            (&["--max-connections-per-ip", "0"][..], "--max-connections-per-ip"),
            (&["--inbound-budget", "0"][..], "--inbound-budget"),
            (&["--max-message", "0"][..], "--max-message"),
            (&["--max-queued-messages", "0"][..], "--max-queued-messages"),
        ] {
            let error = builder(&serve_args(flags), ignore()).unwrap_err();
            assert!(error.starts_with(&format!("{flag}: ")), "{flags:?}: {error}");
        }
        let args = serve_args(&[
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ]);
        let error = builder(&args, ignore()).unwrap_err();
        assert!(error.contains("/nonexistent/cert.pem"), "{error}");
        assert!(
            Cli::try_parse_from(["resock", "serve", "--tls-cert", "c.pem"]).is_err(),
            "--tls-key needed"
        );
    }

    fn offers(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn origins_and_subprotocols_come_only_from_the_lists() {
        let open = Decide::default();
        assert_eq!(
            open.decide_on(None, &offers(&["chat"])),
            Decision::accept(),
            "no list: no subprotocol"
        );
        assert!(open.decide_on(Some("https://evil.example"), &[]).is_accept());
        let strict = Decide {
            origins: vec!["https://app.example".into()],
            subprotocols: vec!["v1".into(), "v2".into()],
        };
        assert!(!strict.decide_on(Some("https://evil.example"), &[]).is_accept());
        assert!(!strict.decide_on(None, &[]).is_accept(), "no Origin is not in the list");
        assert_eq!(
            strict.decide_on(Some("https://APP.example"), &offers(&["v3", "v2", "v1"])),
            Decision::accept().subprotocol("v2"),
            "the client's first offer the server speaks"
        );
        assert_eq!(
            strict.decide_on(Some("https://app.example"), &offers(&["v3"])),
            Decision::accept()
        );
    }
}
