//! Fan-out: one publisher, N subscribers on loopback, resock's async server
//! ([`resock::Broadcast`]) beside a tokio-tungstenite server whose connections each read a
//! `tokio::sync::broadcast` channel, the same messages, the same run.
//!
//! `cargo bench -p resock-tests --bench fanout` (a few minutes on 2 cores; `-- --quick` for
//! 1, 100 and 1 000 subscribers and fewer messages). Environment, to scale:
//! `FANOUT_SUBSCRIBERS` (default `1,100,10000`), `FANOUT_SIZES` (bytes, default `64,1024`),
//! `FANOUT_DELIVERIES` (deliveries aimed at per case, default 3 000 000: messages per case =
//! this / subscribers, at least 20), `FANOUT_SERVERS` (default `resock,tokio-tungstenite`).
//!
//! Each case runs its server in a child process (this binary with `--serve KIND`; 10 000
//! server sockets and 10 000 client sockets do not fit one process's descriptors), killed by
//! PID when the case ends. The subscribers are raw sockets in this process (see
//! `fanout/subscribers.rs`). The publisher is inside the server process: the bench asks it for
//! bursts of messages, at most two bursts ahead of the slowest subscriber still connected, so
//! that both servers run flat out without their queues (1024 messages) overflowing in steady
//! state. Measured per case: deliveries (messages received by all subscribers together) per
//! second, from the first publish until every subscriber has the last message; the
//! publish-to-receipt latency of every delivery (p50, p99, max; the publish time is in the
//! payload, `CLOCK_MONOTONIC`); messages lost; subscribers the server closed (resock: 1008 slow
//! consumer) or messages the rival skipped (`Lagged`). A last pair of runs has one of 100
//! subscribers stop reading (`FANOUT_STALLED_SUBSCRIBERS`, 0 to skip): the figures are the
//! others', and the stalled one's fate is reported (with `--quick` its 3 MB may all fit in its
//! socket buffers, and then neither server has a reason to drop it).

#[path = "fanout/servers.rs"]
mod servers;
#[path = "fanout/subscribers.rs"]
mod subscribers;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// The bound on connecting every subscriber of a case.
const CONNECT_LIMIT: Duration = Duration::from_secs(120);
/// The bound on publishing and delivering every message of a case.
const DELIVERY_LIMIT: Duration = Duration::from_secs(60);
/// The bound on the subscribers' ending after the server is gone.
const END_LIMIT: Duration = Duration::from_secs(30);
/// Most messages per burst (the window is two bursts: well inside the 1024-message queues).
const MAX_BURST: u64 = 256;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(kind) = arg_value(&args, "--serve") {
        match kind.as_str() {
            "resock" => servers::serve_resock(),
            "tokio-tungstenite" => servers::serve_tokio_tungstenite(),
            other => panic!("no server kind {other}"),
        }
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing else: run only
    // when asked to measure.
    if !args.iter().any(|a| a == "--bench") {
        println!("fanout: run with `cargo bench -p resock-tests --bench fanout`");
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let subscribers = env_list("FANOUT_SUBSCRIBERS", if quick { "1,100,1000" } else { "1,100,10000" });
    let sizes = env_list("FANOUT_SIZES", "64,1024");
    let deliveries = env_list("FANOUT_DELIVERIES", if quick { "300000" } else { "3000000" })[0];
    let kinds = std::env::var("FANOUT_SERVERS").unwrap_or_else(|_| "resock,tokio-tungstenite".into());
    let kinds: Vec<&str> = kinds.split(',').map(str::trim).collect();

    println!(
        "| server | subscribers | size | messages | deliveries/s | MB/s | p50 | p99 | max | lost | server dropped |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for &count in &subscribers {
        for &size in &sizes {
            let messages = (deliveries / count).max(20) as u64;
            for kind in &kinds {
                report(kind, count, size, messages, false);
            }
        }
    }
    // The same with one subscriber that stops reading: the others must not wait for it.
    let (count, size) = (env_list("FANOUT_STALLED_SUBSCRIBERS", "100")[0], 1024);
    if count >= 2 {
        let messages = (deliveries / count).max(20) as u64;
        for kind in &kinds {
            report(kind, count, size, messages, true);
        }
    }
}

fn report(kind: &str, count: usize, size: usize, messages: u64, stalled: bool) {
    let shown = if stalled {
        format!("{count} (1 stalled)")
    } else {
        count.to_string()
    };
    match run_case(kind, count, size, messages, stalled) {
        Ok(outcome) => println!("{}", outcome.row(kind, &shown, size, messages)),
        Err(why) => println!("| {kind} | {shown} | {size} | {messages} | failed: {why} |"),
    }
}

/// What one case measured.
struct Outcome {
    deliveries: u64,
    seconds: f64,
    latencies_us: Vec<u32>,
    lost: u64,
    closed: usize,
    /// The stalled subscriber's close code from the server, if it had one and got one.
    stalled_close: Option<u16>,
    server_stats: String,
    timed_out: bool,
}

impl Outcome {
    fn row(&self, kind: &str, count: &str, size: usize, messages: u64) -> String {
        let rate = self.deliveries as f64 / self.seconds;
        let percentile = |p: f64| -> String {
            if self.latencies_us.is_empty() {
                return "-".into();
            }
            let index = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
            micros(self.latencies_us[index])
        };
        let mut dropped = self.server_stats.clone();
        if self.closed > 0 {
            dropped.push_str(&format!(", {} subscribers closed", self.closed));
        }
        if let Some(code) = self.stalled_close {
            dropped.push_str(&format!(", the stalled one closed with {code}"));
        }
        if self.timed_out {
            dropped.push_str(", TIMED OUT");
        }
        format!(
            "| {kind} | {count} | {size} B | {messages} | {:.0} | {:.1} | {} | {} | {} | {} | {dropped} |",
            rate,
            rate * size as f64 / 1e6,
            percentile(0.5),
            percentile(0.99),
            percentile(1.0),
            self.lost,
        )
    }
}

fn micros(us: u32) -> String {
    if us >= 10_000 {
        format!("{:.0} ms", us as f64 / 1000.0)
    } else if us >= 1000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

/// A server child, killed by PID when dropped.
struct ServerProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl ServerProcess {
    fn start(kind: &str) -> Result<(ServerProcess, SocketAddr), String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["--serve", kind])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting the {kind} server: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            child.kill().ok();
            child.wait().ok();
            return Err("the server's pipes".into());
        };
        let mut server = ServerProcess {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        };
        let line = server.line()?;
        let port: u16 = line
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("the server said {line:?}"))?;
        Ok((server, SocketAddr::from(([127, 0, 0, 1], port))))
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(n) if n > 0 => Ok(line.trim().to_owned()),
            _ => Err("the server process ended".into()),
        }
    }

    fn ask(&mut self, command: &str) -> Result<String, String> {
        writeln!(self.stdin, "{command}").map_err(|e| e.to_string())?;
        self.stdin.flush().map_err(|e| e.to_string())?;
        self.line()
    }

    /// `stats accepted=N ...` as numbers and text.
    fn stats(&mut self) -> Result<(usize, String), String> {
        let line = self.ask("stats")?;
        let rest = line.strip_prefix("stats ").unwrap_or(&line).to_owned();
        let accepted = rest
            .split_whitespace()
            .find_map(|w| w.strip_prefix("accepted="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let others = rest
            .split_whitespace()
            .filter(|w| !w.starts_with("accepted="))
            .collect::<Vec<_>>()
            .join(" ");
        Ok((accepted, others))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn run_case(kind: &str, count: usize, size: usize, messages: u64, stalled: bool) -> Result<Outcome, String> {
    let (mut server, addr) = ServerProcess::start(kind)?;
    let (progress, subscribers) = subscribers::start(addr, count, stalled);

    let started = Instant::now();
    while progress.connected.load(std::sync::atomic::Ordering::Acquire)
        + progress.failed.load(std::sync::atomic::Ordering::Acquire)
        < count
    {
        if started.elapsed() > CONNECT_LIMIT {
            return Err("the subscribers did not all connect in time".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let failed = progress.failed.load(std::sync::atomic::Ordering::Acquire);
    if failed > 0 {
        return Err(format!("{failed} subscribers could not connect"));
    }
    // Every connection registered on the server's side too.
    while server.stats()?.0 < count {
        if started.elapsed() > CONNECT_LIMIT {
            return Err("the server did not accept every subscriber in time".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    let burst = (messages / 8).clamp(1, MAX_BURST);
    let mut published = 0u64;
    let mut timed_out = false;
    let start = Instant::now();
    while published < messages {
        let this = burst.min(messages - published);
        server.ask(&format!("publish {this} {size}"))?;
        // At most two bursts ahead: wait for the one before this one (it ends at `published`).
        if !wait_until(|| progress.all_reached(published), start) {
            timed_out = true;
            break;
        }
        published += this;
    }
    if !timed_out && !wait_until(|| progress.all_reached(messages), start) {
        timed_out = true;
    }
    let seconds = start.elapsed().as_secs_f64();
    let (_, server_stats) = server.stats()?;
    // The stalled subscriber reads what reached it (a close frame, for resock) before the
    // server goes.
    progress.release.notify_one();
    std::thread::sleep(Duration::from_millis(if stalled { 500 } else { 0 }));
    drop(server);

    let ended = Instant::now();
    while !subscribers.is_finished() {
        if ended.elapsed() > END_LIMIT {
            return Err("the subscribers did not end after the server did".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut received = subscribers
        .join()
        .map_err(|_| "a subscriber thread panicked".to_owned())?;
    let stalled_close = if stalled && !received.is_empty() {
        received.remove(0).close_code
    } else {
        None
    };
    let live = received.len() as u64;
    let mut latencies_us: Vec<u32> = Vec::new();
    let mut closed = 0;
    for subscriber in &received {
        latencies_us.extend_from_slice(&subscriber.latencies_us);
        closed += usize::from(subscriber.close_code.is_some());
    }
    latencies_us.sort_unstable();
    let deliveries = latencies_us.len() as u64;
    Ok(Outcome {
        deliveries,
        seconds,
        lost: (live * messages).saturating_sub(deliveries),
        latencies_us,
        closed,
        stalled_close,
        server_stats,
        timed_out,
    })
}

/// Polls `reached` until it holds or the case's delivery bound passes.
fn wait_until(reached: impl Fn() -> bool, start: Instant) -> bool {
    while !reached() {
        if start.elapsed() > DELIVERY_LIMIT {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    true
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    let text = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let list: Vec<usize> = text.split(',').filter_map(|n| n.trim().parse().ok()).collect();
    assert!(
        !list.is_empty(),
        "{name}: a comma-separated list of numbers, got {text:?}"
    );
    list
}

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}
