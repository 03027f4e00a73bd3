//! `resock` with no arguments: a scripted tour over loopback. An embedded server (resock's own
//! server role) and the async client exchange typed JSON; the server then goes away and comes
//! back on the same port, and the client shows its backoff, its queue and its heartbeat.

use std::fmt::Display;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use futures_lite::future;
use resock::core::session::{HeartbeatConfig, ReconnectPolicy, SessionEvent, SessionState};
use resock::core::typed::{JsonEnvelope, Router};
use resock::{Client, ClientBuilder, CloseCode, Decision, Message, Peer, ServerBuilder, ServerClose, Subscription};
use serde::{Deserialize, Serialize};

use crate::args::Runtime;
use crate::executor::Executor;
use crate::relay::{Mode, Observer, Relay};
use crate::report::{describe, seconds};
use crate::term::{Paint, Style};

const PING_INTERVAL: Duration = Duration::from_millis(200);
const BACKOFF_INITIAL: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How long the server stays away.
const OUTAGE: Duration = Duration::from_millis(1100);
/// Bound of every wait in the script, so a broken build fails instead of hanging.
const STEP_LIMIT: Duration = Duration::from_secs(5);
/// How long a stopped server's connection tasks may take to finish after the close.
const SERVER_REPORT: Duration = Duration::from_millis(200);

#[derive(Debug, Serialize, Deserialize)]
struct Chat {
    from: String,
    text: String,
}

#[derive(Debug, Deserialize)]
struct Welcome {
    connection: u64,
}

/// What the event reporter saw, for the script's waits and the summary.
#[derive(Debug, Default)]
struct Stats {
    received: u64,
    echoes: u64,
    welcomes: u64,
    opens: u32,
    attempts: u32,
    pongs: u64,
    rtt: Option<(Duration, Duration)>,
    lost_at: Option<Instant>,
    downtime: Option<Duration>,
    delays: Vec<Duration>,
}

/// Timestamped, column-aligned lines on stdout, from any thread.
struct Printer {
    start: Instant,
    paint: Paint,
    lock: Mutex<()>,
}

impl Printer {
    fn line(&self, tag: &str, style: Style, text: impl Display) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let at = format!("{:>7.3}s", self.start.elapsed().as_secs_f64());
        let tag = self.paint.paint(style, format!("{tag:<6}"));
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}  {tag}  {text}", self.paint.paint(Style::Dim, at));
        let _ = out.flush();
    }

    fn section(&self, title: &str) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "\n{}", self.paint.paint(Style::Bold, format!("── {title}")));
        let _ = out.flush();
    }

    fn plain(&self, text: impl Display) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

pub fn run(runtime: Runtime) -> ExitCode {
    if runtime == Runtime::Blocking {
        eprintln!("resock: the demo runs on smol, async-std or tokio (--runtime blocking is for `resock URL`)");
        return ExitCode::from(2);
    }
    let result = Executor::new(runtime).and_then(|executor| executor.block_on(demo(&executor)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("resock demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn lock(stats: &Mutex<Stats>) -> MutexGuard<'_, Stats> {
    stats.lock().unwrap_or_else(|p| p.into_inner())
}

async fn demo(executor: &Executor) -> Result<(), String> {
    let out = Arc::new(Printer {
        start: Instant::now(),
        paint: Paint::stdout(),
        lock: Mutex::new(()),
    });
    let runtime_name = executor.name();
    out.plain(out.paint.paint(
        Style::Bold,
        "resock demo: a WebSocket client that stays connected (loopback only, about 3 s)",
    ));
    out.plain(format!(
        "  heartbeat every {} ms, backoff {} ms doubling up to {} s (jitter off for the demo), client on {runtime_name}",
        PING_INTERVAL.as_millis(),
        BACKOFF_INITIAL.as_millis(),
        BACKOFF_MAX.as_secs()
    ));
    out.section("connect and chat in typed JSON");

    let connections = Arc::new(AtomicU64::new(0));
    let server = start_server(
        executor,
        "127.0.0.1:0".parse().expect("a socket address"),
        &out,
        &connections,
    )?;
    let addr = server.local_addr();
    let url = format!("ws://{addr}/chat");
    out.line(
        "server",
        Style::Magenta,
        format!("listening on {url} (resock's server role, echo)"),
    );

    let mut policy =
        ReconnectPolicy::exponential(BACKOFF_INITIAL, BACKOFF_MAX).healthy_after(Duration::from_millis(500));
    policy.jitter = false;
    let mut heartbeat = HeartbeatConfig::default();
    heartbeat.interval = Some(PING_INTERVAL);
    heartbeat.timeout = Duration::from_secs(1);
    let builder = ClientBuilder::new(&url)
        .map_err(|e| e.to_string())?
        .reconnect(policy)
        .heartbeat(heartbeat)
        .subprotocol("demo.v1")
        .open_timeout(Duration::from_secs(2))
        .close_timeout(Duration::from_secs(2));
    // Subscribed before the driver runs, so the report starts at the first attempt.
    let (client, events) = executor.start(builder);
    let stats = Arc::new(Mutex::new(Stats::default()));
    let reporter = {
        let (out, stats) = (Arc::clone(&out), Arc::clone(&stats));
        thread::spawn(move || future::block_on(report_events(events, &out, &stats)))
    };

    wait_for(executor, "the connection", || lock(&stats).opens >= 1).await?;
    let mut sent = 0u64;
    for text in ["hello", "how is the weather?", "see you"] {
        send_chat(&client, &out, text, false).await?;
        sent += 1;
    }
    wait_for(executor, "the echoes", || lock(&stats).echoes >= 3).await?;
    executor.sleep(Duration::from_millis(650)).await;

    out.section("the server goes away (and the port stays closed for a while)");
    let outage_start = Instant::now();
    let stopped = server.shutdown(executor, SERVER_REPORT).await;
    out.line(
        "server",
        Style::Magenta,
        format!(
            "stopped: closed {} connection with 1001 (going away), port released",
            stopped.open
        ),
    );
    wait_for(executor, "the disconnect", || lock(&stats).lost_at.is_some()).await?;
    executor.sleep(Duration::from_millis(100)).await;
    for text in ["sent while the server is down", "queued, not lost"] {
        send_chat(&client, &out, text, true).await?;
        sent += 1;
    }
    executor.sleep(OUTAGE.saturating_sub(outage_start.elapsed())).await;

    out.section("the server comes back on the same port");
    let server = restart_server(executor, addr, &out, &connections).await?;
    out.line("server", Style::Magenta, format!("listening again on {url}"));
    wait_for(executor, "the reconnect", || lock(&stats).opens >= 2).await?;
    wait_for(executor, "the queued messages' echoes", || lock(&stats).echoes >= sent).await?;
    executor.sleep(Duration::from_millis(450)).await;

    out.section("close");
    out.line("→", Style::Bold, "close 1000 \"demo done\"");
    let why = client.close(CloseCode::NORMAL, "demo done").await;
    drop(client);
    reporter.join().map_err(|_| "the event reporter panicked")?;
    server.shutdown(executor, SERVER_REPORT).await;
    if !matches!(why, resock::core::session::ClosedReason::User) {
        return Err(format!("the session ended unexpectedly: {why}"));
    }
    summary(&out, &lock(&stats), sent);
    Ok(())
}

async fn send_chat(client: &Client, out: &Printer, text: &str, offline: bool) -> Result<(), String> {
    let chat = Chat {
        from: "you".into(),
        text: text.into(),
    };
    client.send_typed("chat", &chat).await.map_err(|e| e.to_string())?;
    let note = match offline {
        true => format!("  (offline: {} waiting in the queue)", client.queued_messages()),
        false => String::new(),
    };
    out.line("→", Style::Bold, format!("chat {text:?}{note}"));
    Ok(())
}

fn summary(out: &Printer, stats: &Stats, sent: u64) {
    out.section("summary");
    let reconnects = stats.opens.saturating_sub(1);
    let delays: Vec<String> = stats.delays.iter().map(|d| seconds(*d)).collect();
    let rows = [
        (
            "sent",
            format!("{sent} messages (2 while the server was down, delivered after the reconnect)"),
        ),
        (
            "received",
            format!(
                "{} messages ({} echoes, {} welcomes)",
                stats.received, stats.echoes, stats.welcomes
            ),
        ),
        (
            "reconnects",
            format!(
                "{reconnects} after {} failed attempts; backoff {}; down for {}",
                stats.attempts.saturating_sub(stats.opens),
                delays.join(" → "),
                stats.downtime.map_or_else(|| "-".into(), seconds)
            ),
        ),
        (
            "RTT",
            match stats.rtt {
                Some((latest, smoothed)) => format!(
                    "latest {}, smoothed {} over {} heartbeat pongs",
                    micros(latest),
                    micros(smoothed),
                    stats.pongs
                ),
                None => "no pong yet".into(),
            },
        ),
        ("total", seconds(out.start.elapsed())),
    ];
    for (name, value) in rows {
        out.plain(format!(
            "  {}  {value}",
            out.paint.paint(Style::Bold, format!("{name:<10}"))
        ));
    }
}

fn micros(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

async fn wait_for(executor: &Executor, what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + STEP_LIMIT;
    while !done() {
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        executor.sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// The demo's server: echo, a welcome for each connection, the `demo.v1` subprotocol.
fn start_server(
    executor: &Executor,
    addr: SocketAddr,
    out: &Arc<Printer>,
    connections: &Arc<AtomicU64>,
) -> Result<Relay, String> {
    let counter = Arc::clone(connections);
    let greeting = Arc::new(move |_| {
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        JsonEnvelope::new()
            .encode("welcome", &serde_json::json!({ "connection": n }), None)
            .unwrap_or_else(|_| Message::text(r#"{"type":"welcome"}"#))
    });
    let builder = ServerBuilder::new().decide(|_| Decision::accept().subprotocol("demo.v1"));
    let server = executor
        .bind(builder, addr)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let observer = Arc::new(ServerLines { out: Arc::clone(out) });
    Ok(Relay::start(
        server,
        executor.spawner(),
        Mode::Echo,
        Some(greeting),
        observer,
    ))
}

/// The server's lines in the demo's output.
struct ServerLines {
    out: Arc<Printer>,
}

impl Observer for ServerLines {
    fn connected(&self, peer: &Peer) {
        let subprotocol = peer.subprotocol().unwrap_or_default();
        self.out.line(
            "server",
            Style::Magenta,
            format!("accepted a client (subprotocol {subprotocol})"),
        );
    }

    fn message(&self, _: u64, _: &Message) {}

    fn disconnected(&self, _: u64, _: &ServerClose) {}
}

/// Binds the same port again; a few tries in case the OS is slow to release it.
async fn restart_server(
    executor: &Executor,
    addr: SocketAddr,
    out: &Arc<Printer>,
    connections: &Arc<AtomicU64>,
) -> Result<Relay, String> {
    let mut tries = 0;
    loop {
        match start_server(executor, addr, out, connections) {
            Ok(server) => return Ok(server),
            Err(e) if tries >= 20 => return Err(e),
            Err(_) => {
                tries += 1;
                executor.sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The handlers' context: where to print and what to count.
struct Seen<'a> {
    out: &'a Printer,
    stats: &'a Mutex<Stats>,
}

async fn report_events(mut events: Subscription, out: &Printer, stats: &Mutex<Stats>) {
    let mut router = Router::<Seen<'_>>::new(JsonEnvelope::new());
    router
        .on("welcome", |seen: &mut Seen<'_>, welcome: Welcome| {
            lock(seen.stats).welcomes += 1;
            let text = format!("welcome: you are connection #{}", welcome.connection);
            seen.out.line("←", Style::Green, text);
        })
        .on("chat", |seen: &mut Seen<'_>, chat: Chat| {
            lock(seen.stats).echoes += 1;
            seen.out.line(
                "←",
                Style::Green,
                format!("chat {:?} from {} (echo)", chat.text, chat.from),
            );
        });
    let mut seen = Seen { out, stats };
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(lagged) => {
                out.line("client", Style::Red, format!("the report {lagged}"));
                continue;
            }
        };
        match event {
            SessionEvent::Message(message) => {
                lock(stats).received += 1;
                if let Err(e) = router.dispatch(&mut seen, &message) {
                    out.line("←", Style::Red, format!("undecodable message: {e}"));
                }
            }
            SessionEvent::StateChanged(state) => state_line(out, stats, state),
            SessionEvent::Opened { subprotocol, .. } => {
                let mut s = lock(stats);
                s.opens += 1;
                let text = match (s.opens, s.lost_at.take()) {
                    (1, _) | (_, None) => format!("open (subprotocol {})", subprotocol.unwrap_or_default()),
                    (_, Some(lost)) => {
                        let down = lost.elapsed();
                        s.downtime = Some(down);
                        format!("reconnected after {} down; the queue drains now", seconds(down))
                    }
                };
                drop(s);
                out.line("client", Style::Green, text);
            }
            SessionEvent::Disconnected {
                reason,
                retry_at: Some(_),
                ..
            } => {
                let first = {
                    let mut s = lock(stats);
                    let first = s.lost_at.is_none();
                    s.lost_at.get_or_insert_with(Instant::now);
                    first
                };
                let what = if first { "lost the connection" } else { "attempt failed" };
                out.line("client", Style::Yellow, format!("{what}: {}", describe(&reason)));
            }
            SessionEvent::Pong { rtt, smoothed } => {
                let mut s = lock(stats);
                s.pongs += 1;
                s.rtt = Some((rtt, smoothed));
                drop(s);
                let text = format!("heartbeat RTT {} (smoothed {})", micros(rtt), micros(smoothed));
                out.line("♥", Style::Red, text);
            }
            SessionEvent::Closed { code, reason, .. } => {
                let mut text = format!("close handshake done: {}", code);
                if !reason.is_empty() {
                    text.push_str(&format!(", reason {reason:?}"));
                }
                out.line("client", Style::Cyan, text);
            }
            SessionEvent::HandedBack { id, .. } => {
                out.line(
                    "client",
                    Style::Red,
                    format!("message #{} was handed back unsent", id.0),
                );
            }
            _ => {}
        }
    }
}

fn state_line(out: &Printer, stats: &Mutex<Stats>, state: SessionState) {
    match state {
        SessionState::Connecting { attempt, .. } => {
            lock(stats).attempts += 1;
            out.line("client", Style::Cyan, format!("connecting (attempt {attempt})"));
        }
        SessionState::WaitingToRetry {
            retry_in: delay,
            attempt,
            ..
        } => {
            lock(stats).delays.push(delay);
            let text = format!("reconnecting in {} (attempt {attempt})", seconds(delay));
            out.line("client", Style::Yellow, text);
        }
        SessionState::Closed(reason) => out.line("client", Style::Cyan, format!("closed for good: {reason}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_line_shows_the_delay_as_scheduled() {
        let out = Printer {
            start: Instant::now(),
            paint: Paint { colour: false },
            lock: Mutex::new(()),
        };
        let stats = Mutex::new(Stats::default());
        // Read later than it was produced: `until` is already in the past.
        let waiting = SessionState::WaitingToRetry {
            until: Instant::now(),
            retry_in: Duration::from_millis(250),
            attempt: 1,
        };
        state_line(&out, &stats, waiting);
        assert_eq!(lock(&stats).delays, [Duration::from_millis(250)]);
    }
}
