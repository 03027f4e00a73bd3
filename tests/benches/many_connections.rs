//! Many connections from one process: N (default 10 000) resock clients on smol, then N on
//! tokio, then N tokio-tungstenite connections, each kind in a fresh process of its own and
//! against a loopback server in another child process (this same binary with `--serve`), so
//! neither the server's memory nor an earlier kind's leftovers count.
//!
//! `cargo bench -p resock-tests --bench many_connections` (`-- --quick` for 1 000 connections
//! and a 5 s idle window; `-- --connections N`, `-- --idle SECONDS`; the default window, 25 s,
//! holds one heartbeat ping per client).
//!
//! Per kind: the time until every client reported `connected`; heap (a counting allocator) and
//! RSS (`VmRSS`) per connection after opening and after the idle window; the process's CPU over
//! the idle window (default settings: a heartbeat ping per client every 20 s); then, for resock, the
//! server is killed and started again on the same port, and the time until every client has
//! reconnected is measured from the kill, with its spread (the reconnect jitter at work).

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use resock::core::session::SessionEvent;
use resock_tests::alloc::{Counting, live_bytes};

#[global_allocator]
static ALLOC: Counting = Counting;

/// Connections per kind, by default and with `--quick`.
const CONNECTIONS: usize = 10_000;
const QUICK_CONNECTIONS: usize = 1_000;
/// File descriptors kept for everything else in a process (stdio, epoll, eventfds, pipes).
const SPARE_FDS: u64 = 256;
/// The bound on opening every connection, and on every reconnect after the restart.
const PHASE_LIMIT: Duration = Duration::from_secs(120);
/// Reconnects are counted in buckets of this width to show how the jitter spreads them.
const BUCKET: Duration = Duration::from_millis(250);

/// The client kinds, in the order they run.
const KINDS: [&str; 3] = ["resock-smol", "resock-tokio", "tokio-tungstenite"];

// ---------------------------------------------------------------------------------------------
// Process limits and counters

/// Raises this process's soft RLIMIT_NOFILE to its hard limit, and the hard limit too when it
/// is below `needed` and the process may (root). Returns (soft before, soft after, hard after).
fn raise_open_files(needed: u64) -> (u64, u64, u64) {
    // SAFETY: getrlimit and setrlimit only read and write the `rlimit` given.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let before = limit.rlim_cur;
        if limit.rlim_max < needed {
            let raised = libc::rlimit {
                rlim_cur: needed,
                rlim_max: needed,
            };
            // Fails without CAP_SYS_RESOURCE or above fs.nr_open: the old hard limit stays.
            libc::setrlimit(libc::RLIMIT_NOFILE, &raised);
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        (before as u64, limit.rlim_cur as u64, limit.rlim_max as u64)
    }
}

/// CPU seconds (user + system) of this whole process, every thread included.
fn process_cpu_seconds() -> f64 {
    // SAFETY: `rusage` is plain data, and getrusage only writes it.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Resident memory of this process in bytes (`VmRSS` of /proc/self/status).
fn rss_bytes() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: i64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Heap and RSS at one moment, to subtract.
#[derive(Clone, Copy)]
struct Memory {
    heap: i64,
    rss: i64,
}

impl Memory {
    fn now() -> Memory {
        Memory {
            heap: live_bytes(),
            rss: rss_bytes(),
        }
    }

    /// Growth since `base`, per connection: (heap, RSS) in bytes.
    fn per_connection_since(self, base: Memory, connections: usize) -> (f64, f64) {
        let per = |bytes: i64| bytes as f64 / connections as f64;
        (per(self.heap - base.heap), per(self.rss - base.rss))
    }
}

// ---------------------------------------------------------------------------------------------
// The server (child process)

/// The child: a current-thread tokio runtime accepting on 127.0.0.1:`port` (0 for any), a task
/// per connection doing the WebSocket handshake with tokio-tungstenite (small read buffers: it
/// holds thousands of idle connections) and reading until the connection ends; tungstenite
/// answers each ping with a pong on its next read. Exits when its stdin closes.
fn serve(port: u16) {
    raise_open_files(0);
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        std::io::stdin().read_to_end(&mut sink).ok();
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = listen(port).await;
        println!("LISTENING {}", listener.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    eprintln!("server: accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                use futures_util::StreamExt;
                let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                    .read_buffer_size(4096)
                    .write_buffer_size(0);
                let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
                    return;
                };
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
}

/// Binds with SO_REUSEADDR (a restarted server takes the port back while the old connections
/// sit in TIME_WAIT) and the largest backlog the kernel allows (`somaxconn` caps it).
async fn listen(port: u16) -> tokio::net::TcpListener {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut last_error = None;
    // The previous server was reaped before this one started; a few tries cover a slow kernel.
    for _ in 0..50 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        match socket.bind(addr).and_then(|()| socket.listen(65_535)) {
            Ok(listener) => return listener,
            Err(error) => last_error = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("server: cannot listen on {addr}: {last_error:?}");
}

/// The server child process; killed by PID and reaped on drop (also on a panic).
struct ServerProcess {
    child: Child,
    port: u16,
}

impl ServerProcess {
    fn start(port: u16) -> ServerProcess {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--serve", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Guard first, so a failure below still kills it.
        let mut server = ServerProcess { child, port: 0 };
        let mut line = String::new();
        BufReader::new(server.child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        server.port = line
            .trim()
            .strip_prefix("LISTENING ")
            .expect("the server's port")
            .parse()
            .unwrap();
        server
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

// ---------------------------------------------------------------------------------------------
// Runtimes for the resock clients

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// smol (the global executor, one thread by default, plus async-io's reactor thread) or a
/// multi-thread tokio runtime with its default worker count (one per CPU).
enum Runtime {
    Smol,
    Tokio(tokio::runtime::Runtime),
}

impl Runtime {
    fn new(kind: &str) -> Runtime {
        match kind {
            "resock-smol" => Runtime::Smol,
            _ => Runtime::Tokio(
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .unwrap(),
            ),
        }
    }

    fn start(&self, url: &str) -> resock::Client {
        let builder = resock::ClientBuilder::new(url).unwrap();
        match self {
            Runtime::Smol => builder.start_smol().unwrap(),
            Runtime::Tokio(runtime) => {
                let _entered = runtime.enter();
                builder.start_tokio().unwrap()
            }
        }
    }

    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        match self {
            Runtime::Smol => smol::block_on(future),
            Runtime::Tokio(runtime) => runtime.block_on(future),
        }
    }

    fn spawn<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> BoxFuture<T> {
        match self {
            Runtime::Smol => Box::pin(smol::spawn(future)),
            Runtime::Tokio(runtime) => {
                let task = runtime.spawn(future);
                Box::pin(async move { task.await.unwrap() })
            }
        }
    }

    /// A sleep of this runtime's own timers (usable inside its tasks and `block_on`).
    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        match self {
            Runtime::Smol => Box::pin(async move {
                smol::Timer::after(duration).await;
            }),
            // Made at its first poll, inside the runtime (`tokio::time::sleep` needs its context).
            Runtime::Tokio(_) => Box::pin(async move { tokio::time::sleep(duration).await }),
        }
    }
}

/// `future`'s output, or `None` once `sleep` ends first.
async fn within<T>(future: impl Future<Output = T>, sleep: BoxFuture<()>) -> Option<T> {
    futures_lite::future::or(async { Some(future.await) }, async {
        sleep.await;
        None
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Measuring one kind (child process)

/// What a measuring process reports, as `key=value` pairs on one `RESULT` line.
type Report = BTreeMap<&'static str, String>;

/// How one client came back after the restart.
struct Reconnect {
    /// When it opened again.
    at: Instant,
    /// The first backoff delay drawn (the jitter), as the session reported it.
    first_delay: Option<Duration>,
    /// Attempts refused or failed before the one that opened.
    failed: u32,
}

/// Waits on `client`'s events (subscribed before the server was killed) until it has lost its
/// connection and opened a new one.
async fn reconnected(client: resock::Client, mut events: resock::Subscription) -> Reconnect {
    let mut losses = 0u32;
    let mut first_delay = None;
    while let Some(event) = events.next().await {
        match event {
            Ok(SessionEvent::Disconnected { retry_in, .. }) => {
                losses += 1;
                if losses == 1 {
                    first_delay = retry_in;
                }
            }
            Ok(SessionEvent::Opened { .. }) if losses > 0 => {
                return Reconnect {
                    at: Instant::now(),
                    first_delay,
                    failed: losses - 1,
                };
            }
            // Fell behind (never seen with the default capacity): the state says enough.
            Err(_) if losses > 0 && client.state() == resock::core::session::SessionState::Open => {
                return Reconnect {
                    at: Instant::now(),
                    first_delay,
                    failed: losses.saturating_sub(1),
                };
            }
            _ => {}
        }
    }
    panic!("the client closed for good instead of reconnecting");
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

/// N resock clients with default settings on `kind`'s runtime.
fn measure_resock(kind: &str, connections: usize, idle: Duration) -> Report {
    let mut server = ServerProcess::start(0);
    let port = server.port;
    let url = format!("ws://127.0.0.1:{port}/");
    let runtime = Runtime::new(kind);
    let mut report = Report::new();

    // One client first, so one-time costs (executor threads, per-thread read buffers, runtime
    // statics) are not counted against the N.
    let warm = runtime.start(&url);
    let warm_open = runtime.block_on(within(warm.connected(), runtime.sleep(PHASE_LIMIT)));
    assert!(matches!(warm_open, Some(Ok(()))), "the warm-up client opened");
    let base = Memory::now();
    let opening = Instant::now();
    let clients: Vec<resock::Client> = (0..connections).map(|_| runtime.start(&url)).collect();
    let all_open = runtime.block_on(within(
        async {
            for client in &clients {
                client.connected().await.expect("opened");
            }
        },
        runtime.sleep(PHASE_LIMIT),
    ));
    assert!(all_open.is_some(), "not every client opened within {PHASE_LIMIT:?}");
    report.insert("open_s", format!("{:.3}", opening.elapsed().as_secs_f64()));
    let (heap, rss) = Memory::now().per_connection_since(base, connections);
    report.insert("heap_open_b", format!("{heap:.0}"));
    report.insert("rss_open_b", format!("{rss:.0}"));

    // A fixed window: the measurement is of what happens meanwhile, not a wait for a condition.
    let cpu = idle_cpu_percent(|| runtime.block_on(runtime.sleep(idle)));
    report.insert("idle_cpu_pct", format!("{cpu:.2}"));
    let pongs = clients.iter().filter(|client| client.rtt().is_some()).count();
    report.insert("pongs", pongs.to_string());
    let (heap, rss) = Memory::now().per_connection_since(base, connections);
    report.insert("heap_idle_b", format!("{heap:.0}"));
    report.insert("rss_idle_b", format!("{rss:.0}"));

    // Restart the server on the same port; every client subscribed to its events before.
    let waiters: Vec<BoxFuture<Reconnect>> = clients
        .iter()
        .map(|client| runtime.spawn(reconnected(client.clone(), client.subscribe())))
        .collect();
    let killed = Instant::now();
    drop(server);
    server = ServerProcess::start(port);
    report.insert("restart_ms", format!("{:.0}", killed.elapsed().as_secs_f64() * 1e3));
    let all_back = runtime.block_on(within(
        async {
            let mut back = Vec::with_capacity(waiters.len());
            for waiter in waiters {
                back.push(waiter.await);
            }
            back
        },
        runtime.sleep(PHASE_LIMIT),
    ));
    let back = all_back.unwrap_or_else(|| panic!("not every client reconnected within {PHASE_LIMIT:?}"));
    let mut after: Vec<Duration> = back.iter().map(|r| r.at.duration_since(killed)).collect();
    after.sort();
    let mut delays: Vec<Duration> = back.iter().filter_map(|r| r.first_delay).collect();
    delays.sort();
    let seconds = |d: Duration| format!("{:.3}", d.as_secs_f64());
    report.insert("reconnect_all_s", seconds(*after.last().unwrap()));
    report.insert("reconnect_first_s", seconds(after[0]));
    report.insert("reconnect_p50_s", seconds(percentile(&after, 0.5)));
    report.insert("reconnect_p99_s", seconds(percentile(&after, 0.99)));
    report.insert(
        "first_delay_s",
        format!(
            "{}/{}/{}",
            seconds(delays[0]),
            seconds(percentile(&delays, 0.5)),
            seconds(*delays.last().unwrap())
        ),
    );
    report.insert(
        "failed_attempts",
        back.iter().map(|r| u64::from(r.failed)).sum::<u64>().to_string(),
    );
    let mut buckets = vec![0usize; (after.last().unwrap().as_nanos() / BUCKET.as_nanos()) as usize + 1];
    for at in &after {
        buckets[(at.as_nanos() / BUCKET.as_nanos()) as usize] += 1;
    }
    let buckets: Vec<String> = buckets.iter().map(ToString::to_string).collect();
    report.insert("reconnects_per_250ms", buckets.join(","));
    drop(server);
    report
}

/// Runs `wait` (the idle window) and returns the process's CPU over it, in % of one core.
fn idle_cpu_percent(wait: impl FnOnce()) -> f64 {
    let cpu = process_cpu_seconds();
    let start = Instant::now();
    wait();
    (process_cpu_seconds() - cpu) / start.elapsed().as_secs_f64() * 100.0
}

/// N tokio-tungstenite connections on a multi-thread tokio runtime: a task per connection
/// connects and then reads until the connection ends, as an application that wants its
/// messages would. No heartbeat and no reconnect (it has neither).
fn measure_tokio_tungstenite(connections: usize, idle: Duration) -> Report {
    use futures_util::StreamExt;
    let server = ServerProcess::start(0);
    let url = format!("ws://127.0.0.1:{}/", server.port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut report = Report::new();
    let open = |url: String, opened: tokio::sync::mpsc::UnboundedSender<bool>| async move {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((mut ws, _)) => {
                opened.send(true).ok();
                drop(opened);
                while let Some(Ok(_)) = ws.next().await {}
            }
            Err(_) => {
                opened.send(false).ok();
            }
        }
    };

    let (warm_tx, mut warm_rx) = tokio::sync::mpsc::unbounded_channel();
    drop(runtime.spawn(open(url.clone(), warm_tx)));
    let warm_open = runtime.block_on(async { tokio::time::timeout(PHASE_LIMIT, warm_rx.recv()).await });
    assert_eq!(warm_open, Ok(Some(true)), "the warm-up connection opened");
    let base = Memory::now();
    let opening = Instant::now();
    let (opened_tx, mut opened_rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..connections {
        drop(runtime.spawn(open(url.clone(), opened_tx.clone())));
    }
    drop(opened_tx);
    let results = runtime.block_on(async {
        tokio::time::timeout(PHASE_LIMIT, async {
            let (mut ok, mut failed) = (0usize, 0usize);
            while ok + failed < connections {
                match opened_rx.recv().await {
                    Some(true) => ok += 1,
                    Some(false) => failed += 1,
                    None => break,
                }
            }
            (ok, failed)
        })
        .await
    });
    let (ok, failed) = results.unwrap_or_else(|_| panic!("not every connection opened within {PHASE_LIMIT:?}"));
    report.insert("open_s", format!("{:.3}", opening.elapsed().as_secs_f64()));
    report.insert("open_failed", failed.to_string());
    assert_eq!(ok, connections, "{failed} connections failed to open");
    let (heap, rss) = Memory::now().per_connection_since(base, connections);
    report.insert("heap_open_b", format!("{heap:.0}"));
    report.insert("rss_open_b", format!("{rss:.0}"));
    let cpu = idle_cpu_percent(|| runtime.block_on(async { tokio::time::sleep(idle).await }));
    report.insert("idle_cpu_pct", format!("{cpu:.2}"));
    let (heap, rss) = Memory::now().per_connection_since(base, connections);
    report.insert("heap_idle_b", format!("{heap:.0}"));
    report.insert("rss_idle_b", format!("{rss:.0}"));
    drop(server);
    report
}

// ---------------------------------------------------------------------------------------------
// Orchestration (the parent process)

/// A measuring child; killed and reaped on drop.
struct MeasureProcess(Child);

impl Drop for MeasureProcess {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Runs one kind in a child process, relays its output and returns its report.
fn run_kind(kind: &str, connections: usize, idle: Duration) -> BTreeMap<String, String> {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--measure",
            kind,
            "--connections",
            &connections.to_string(),
            "--idle",
            &idle.as_secs().to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = MeasureProcess(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut report = BTreeMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        println!("{line}");
        if let Some(fields) = line.strip_prefix("RESULT ") {
            for field in fields.split_whitespace() {
                let (key, value) = field.split_once('=').unwrap();
                report.insert(key.to_owned(), value.to_owned());
            }
        }
    }
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{kind}: the measuring process failed ({status})");
    report
}

fn print_table(connections: usize, idle: Duration, reports: &[(&str, BTreeMap<String, String>)]) {
    let row = |label: &str, cell: &dyn Fn(&BTreeMap<String, String>) -> String| {
        let cells: Vec<String> = reports.iter().map(|(_, report)| cell(report)).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    let get = |report: &BTreeMap<String, String>, key: &str| report.get(key).cloned().unwrap_or_else(|| "-".into());
    let kib = |report: &BTreeMap<String, String>, key: &str| {
        report
            .get(key)
            .map_or("-".into(), |b| format!("{:.1} KiB", b.parse::<f64>().unwrap() / 1024.0))
    };
    println!();
    let names: Vec<&str> = reports.iter().map(|(kind, _)| *kind).collect();
    println!("| {connections} connections | {} |", names.join(" | "));
    println!("|---|{}", "---:|".repeat(reports.len()));
    row("time to open all", &|r| format!("{} s", get(r, "open_s")));
    row("heap per connection, open", &|r| kib(r, "heap_open_b"));
    row("heap per connection, after the idle window", &|r| kib(r, "heap_idle_b"));
    row("RSS per connection, open", &|r| kib(r, "rss_open_b"));
    row("RSS per connection, after the idle window", &|r| kib(r, "rss_idle_b"));
    row(&format!("CPU while idle ({} s), % of one core", idle.as_secs()), &|r| {
        format!("{} %", get(r, "idle_cpu_pct"))
    });
    row("clients with a heartbeat pong", &|r| get(r, "pongs"));
    row("server restart (kill to listening)", &|r| {
        r.get("restart_ms").map_or("-".into(), |ms| format!("{ms} ms"))
    });
    row("all reconnected, from the kill", &|r| {
        r.get("reconnect_all_s").map_or("-".into(), |s| format!("{s} s"))
    });
    row("reconnect first / p50 / p99", &|r| match r.get("reconnect_first_s") {
        Some(first) => format!(
            "{first} / {} / {} s",
            get(r, "reconnect_p50_s"),
            get(r, "reconnect_p99_s")
        ),
        None => "-".into(),
    });
    row("first backoff delay min / p50 / max", &|r| {
        r.get("first_delay_s")
            .map_or("-".into(), |d| format!("{} s", d.replace('/', " / ")))
    });
    row("attempts refused before reconnecting", &|r| get(r, "failed_attempts"));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(port) = arg_value(&args, "--serve") {
        return serve(port.parse().unwrap());
    }
    let quick = args.iter().any(|a| a == "--quick");
    let mut connections = arg_value(&args, "--connections")
        .map_or(if quick { QUICK_CONNECTIONS } else { CONNECTIONS }, |n| {
            n.parse().unwrap()
        });
    // The default heartbeat pings every 20 s from the open: a 25 s window sees exactly one
    // ping (and its pong) per client, however the opens were spread.
    let default_idle = if quick { 5 } else { 25 };
    let idle = Duration::from_secs(arg_value(&args, "--idle").map_or(default_idle, |s| s.parse().unwrap()));

    if let Some(kind) = arg_value(&args, "--measure") {
        raise_open_files(connections as u64 + SPARE_FDS);
        let report = match kind.as_str() {
            "tokio-tungstenite" => measure_tokio_tungstenite(connections, idle),
            kind => measure_resock(kind, connections, idle),
        };
        let fields: Vec<String> = report.iter().map(|(key, value)| format!("{key}={value}")).collect();
        println!("RESULT kind={kind} {}", fields.join(" "));
        return;
    }

    // Children inherit the raised limit; each raises its own again (a no-op then).
    let (before, soft, hard) = raise_open_files(connections as u64 + SPARE_FDS);
    println!("open files: soft {before} -> {soft} (hard {hard})");
    if soft < connections as u64 + SPARE_FDS {
        connections = (soft - SPARE_FDS) as usize;
        println!("open files: too few for the connections asked; measuring {connections}");
    }
    println!(
        "many connections: {connections} per kind over 127.0.0.1, idle window {} s (default \
         heartbeat: a ping per client every 20 s)",
        idle.as_secs()
    );
    let reports: Vec<(&str, BTreeMap<String, String>)> = KINDS
        .iter()
        .map(|kind| (*kind, run_kind(kind, connections, idle)))
        .collect();
    print_table(connections, idle, &reports);
}
