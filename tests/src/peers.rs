//! Foreign WebSocket servers (Python `websockets`, Node `ws`) run as child processes for interop
//! tests over loopback. Their behaviour per path and their log format are in `interop/README.md`;
//! `scripts/interop-setup.sh` installs them.
//!
//! ```no_run
//! use resock_tests::peers::{Peer, PeerKind, PeerOptions};
//! if PeerKind::Node.require_or_skip() {
//!     let mut peer = Peer::start(PeerKind::Node, PeerOptions::default()).unwrap();
//!     let url = peer.url("/echo"); // ws://127.0.0.1:<port>/echo
//!     // ... connect, then for a reconnect test:
//!     peer.kill().unwrap();
//!     peer.restart().unwrap(); // same port
//! } // Drop kills and reaps the server
//! ```
//!
//! Every server is stopped by its PID: [`Peer::kill`] (SIGKILL), [`Peer::stop`] (SIGTERM, then
//! SIGKILL after a timeout), and `Drop` (SIGKILL), each followed by a wait that reaps it. A
//! server whose parent dies without running `Drop` exits at the end of its stdin, which is a pipe
//! from the parent.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to print `LISTENING <port>`.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`Peer::stop`] waits after SIGTERM before it kills.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Peer::restart`] keeps retrying while the port is still taken.
pub const RESTART_BIND_TIMEOUT: Duration = Duration::from_secs(5);
/// The interval of every bounded poll here.
const POLL: Duration = Duration::from_millis(10);
/// The exit status both servers use when their address is in use (EADDRINUSE).
const EXIT_ADDR_IN_USE: i32 = 98;
/// The most of a server's stderr kept for error messages.
const STDERR_KEEP: usize = 64 * 1024;
/// Set to `1` to make [`PeerKind::require_or_skip`] fail instead of skip.
pub const REQUIRE_ENV: &str = "RESOCK_REQUIRE_PEERS";

/// The repository root (the parent of `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Which foreign server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerKind {
    /// `interop/python/server.py` on Python `websockets`, from `.venv-interop`.
    Python,
    /// `interop/node/server.js` on Node `ws`, with `node` from `PATH`.
    Node,
}

impl PeerKind {
    /// Both kinds.
    pub const ALL: [PeerKind; 2] = [PeerKind::Python, PeerKind::Node];

    /// `"python"` or `"node"`.
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Python => "python",
            PeerKind::Node => "node",
        }
    }

    /// Whether this server's runtime is set up (by `scripts/interop-setup.sh`, with the current
    /// pins); otherwise a message saying what is missing and how to fix it.
    pub fn available(self) -> Result<(), String> {
        let root = repo_root();
        let fix = "run scripts/interop-setup.sh";
        match self {
            PeerKind::Python => {
                let python = root.join(".venv-interop/bin/python");
                if !python.exists() {
                    return Err(format!(
                        "python peer not set up: {} is missing; {fix}",
                        python.display()
                    ));
                }
                let pins = fs::read(root.join("interop/python/requirements.txt")).map_err(|e| e.to_string())?;
                match fs::read(root.join(".venv-interop/.resock-requirements.txt")) {
                    Ok(installed) if installed == pins => Ok(()),
                    _ => Err(format!(
                        "python peer not set up: .venv-interop does not hold interop/python/requirements.txt; {fix}"
                    )),
                }
            }
            PeerKind::Node => {
                let ws = root.join("interop/node/node_modules/ws/package.json");
                if !ws.exists() {
                    return Err(format!("node peer not set up: {} is missing; {fix}", ws.display()));
                }
                match Command::new("node").arg("--version").stdin(Stdio::null()).output() {
                    Ok(out) if out.status.success() => Ok(()),
                    Ok(out) => Err(format!("node peer: `node --version` failed with {}", out.status)),
                    Err(e) => Err(format!("node peer: cannot run `node` from PATH: {e}")),
                }
            }
        }
    }

    /// For the first line of a test: `true` when the server can run. Otherwise prints a notice and
    /// returns `false` (the test should return, i.e. skip), or panics (fails the test) when
    /// `RESOCK_REQUIRE_PEERS=1`.
    pub fn require_or_skip(self) -> bool {
        match self.available() {
            Ok(()) => true,
            Err(why) if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") => {
                panic!("{why} ({REQUIRE_ENV}=1 makes a missing peer a failure)")
            }
            Err(why) => {
                eprintln!(
                    "SKIPPED ({} peer): {why}; set {REQUIRE_ENV}=1 to fail instead",
                    self.name()
                );
                false
            }
        }
    }

    /// The echo client (`interop/<kind>/client.*`) connecting to `url` with `deflate`.
    fn client_command(self, root: &Path, url: &str, deflate: PeerDeflate) -> Command {
        let mut cmd = match self {
            PeerKind::Python => {
                let mut cmd = Command::new(root.join(".venv-interop/bin/python"));
                cmd.arg("-u").arg(root.join("interop/python/client.py"));
                cmd
            }
            PeerKind::Node => {
                let mut cmd = Command::new("node");
                cmd.arg(root.join("interop/node/client.js"));
                cmd
            }
        };
        cmd.args(["--url", url, "--deflate", deflate.arg()]);
        cmd
    }

    fn command(self, root: &Path) -> Command {
        match self {
            PeerKind::Python => {
                let mut cmd = Command::new(root.join(".venv-interop/bin/python"));
                cmd.arg("-u").arg(root.join("interop/python/server.py"));
                cmd
            }
            PeerKind::Node => {
                let mut cmd = Command::new("node");
                cmd.arg(root.join("interop/node/server.js"));
                cmd
            }
        }
    }
}

impl fmt::Display for PeerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to start a server.
#[derive(Clone, Debug, Default)]
pub struct PeerOptions {
    /// Serve `wss://` with this PEM certificate chain and PEM private key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Listen on this port; `None` lets the OS pick one.
    pub port: Option<u16>,
    /// The server's log file (appended to). `None`: a fresh temporary file that the `Peer`
    /// removes when dropped.
    pub log: Option<PathBuf>,
    /// permessage-deflate (`--deflate`); off by default, as the servers' own default.
    pub deflate: PeerDeflate,
}

/// The permessage-deflate setting of a foreign server or client (`--deflate`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PeerDeflate {
    /// No compression (the servers' default).
    #[default]
    Off,
    /// The library's defaults (Python `websockets`: 12-bit windows; Node `ws`: threshold
    /// 1024 bytes), context takeover both ways.
    On,
    /// On, with `server_no_context_takeover` and `client_no_context_takeover`.
    NoContextTakeover,
}

impl PeerDeflate {
    /// The `--deflate` value.
    pub fn arg(self) -> &'static str {
        match self {
            PeerDeflate::Off => "off",
            PeerDeflate::On => "on",
            PeerDeflate::NoContextTakeover => "no-context-takeover",
        }
    }
}

/// Why a server could not be started or stopped.
#[derive(Debug)]
pub enum PeerError {
    /// The runtime is not set up; see [`PeerKind::available`].
    Unavailable(String),
    /// Spawning the process, or a file operation of the harness, failed.
    Io(io::Error),
    /// No `LISTENING <port>` line within the timeout (the server was killed).
    StartTimeout { kind: PeerKind, stderr: String },
    /// The server exited before it listened.
    Exited {
        kind: PeerKind,
        status: Option<ExitStatus>,
        stderr: String,
    },
    /// The port stayed taken for the whole retry window.
    AddrInUse { kind: PeerKind, port: u16, stderr: String },
    /// The server printed something other than `LISTENING <port>` first.
    BadOutput { kind: PeerKind, line: String },
    /// The server was not running (already killed or stopped).
    NotRunning,
    /// The server did not exit within [`STOP_TIMEOUT`] after SIGTERM and was killed.
    StopTimeout { kind: PeerKind },
    /// The log line did not appear in time; the log as it was.
    LogTimeout { wanted: String, log: Vec<String> },
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Unavailable(why) => f.write_str(why),
            PeerError::Io(e) => write!(f, "peer harness I/O: {e}"),
            PeerError::StartTimeout { kind, stderr } => {
                write!(
                    f,
                    "{kind} peer printed no LISTENING line within {START_TIMEOUT:?}; stderr:\n{stderr}"
                )
            }
            PeerError::Exited { kind, status, stderr } => {
                write!(f, "{kind} peer exited before listening ({status:?}); stderr:\n{stderr}")
            }
            PeerError::AddrInUse { kind, port, stderr } => {
                write!(f, "{kind} peer: port {port} stayed in use; stderr:\n{stderr}")
            }
            PeerError::BadOutput { kind, line } => {
                write!(f, "{kind} peer printed {line:?} instead of LISTENING <port>")
            }
            PeerError::NotRunning => f.write_str("the peer is not running"),
            PeerError::StopTimeout { kind } => {
                write!(f, "{kind} peer ignored SIGTERM for {STOP_TIMEOUT:?} and was killed")
            }
            PeerError::LogTimeout { wanted, log } => write!(f, "no log line {wanted:?}; the log:\n{}", log.join("\n")),
        }
    }
}

impl std::error::Error for PeerError {}

impl From<io::Error> for PeerError {
    fn from(e: io::Error) -> Self {
        PeerError::Io(e)
    }
}

/// A running foreign server (or one between [`Peer::kill`]/[`Peer::stop`] and
/// [`Peer::restart`]). Dropping it kills and reaps the process.
pub struct Peer {
    kind: PeerKind,
    tls: Option<(PathBuf, PathBuf)>,
    deflate: PeerDeflate,
    port: u16,
    log: PathBuf,
    owns_log: bool,
    process: Option<Process>,
}

/// One server process and the pipes the harness holds.
struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<Stderr>>,
}

/// A process's stderr as collected so far.
#[derive(Default)]
struct Stderr {
    text: String,
    ended: bool,
}

impl Peer {
    /// Starts a server and waits (at most [`START_TIMEOUT`]) for it to listen.
    pub fn start(kind: PeerKind, opts: PeerOptions) -> Result<Peer, PeerError> {
        kind.available().map_err(PeerError::Unavailable)?;
        let (log, owns_log) = match opts.log {
            Some(path) => (path, false),
            None => {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                let path = std::env::temp_dir().join(format!(
                    "resock-peer-{}-{}-{}.log",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed),
                    kind.name()
                ));
                File::create(&path)?;
                (path, true)
            }
        };
        let mut peer = Peer {
            kind,
            tls: opts.tls,
            deflate: opts.deflate,
            port: opts.port.unwrap_or(0),
            log,
            owns_log,
            process: None,
        };
        let (process, port) = peer.spawn(opts.port.unwrap_or(0))?;
        peer.port = port;
        peer.process = Some(process);
        Ok(peer)
    }

    /// Which server this is.
    pub fn kind(&self) -> PeerKind {
        self.kind
    }

    /// The port it listens on (kept across [`Peer::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The running process's id, `None` after [`Peer::kill`] or [`Peer::stop`].
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.child.id())
    }

    /// Whether it serves `wss://`.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// `ws://127.0.0.1:{port}{path}`, or `wss://` with TLS; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.is_tls() { "wss" } else { "ws" };
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    /// The server's log file (see `interop/README.md` for its lines).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The log's lines so far (none if it does not exist yet).
    pub fn log_lines(&self) -> Vec<String> {
        fs::read_to_string(&self.log)
            .map(|text| text.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Polls the log until it holds exactly `line` (compared whole, e.g. `"close 1000 "`), for
    /// at most `timeout`; returns all lines then.
    pub fn wait_for_log_line(&self, line: &str, timeout: Duration) -> Result<Vec<String>, PeerError> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.log_lines();
            if lines.iter().any(|l| l == line) {
                return Ok(lines);
            }
            if Instant::now() >= deadline {
                return Err(PeerError::LogTimeout {
                    wanted: line.to_owned(),
                    log: lines,
                });
            }
            thread::sleep(POLL);
        }
    }

    /// What the current (or last) process wrote to stderr, the last 64 KiB.
    pub fn stderr(&self) -> String {
        self.process
            .as_ref()
            .map(|p| p.stderr.lock().unwrap().text.clone())
            .unwrap_or_default()
    }

    /// Whether the process is still running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        match &mut self.process {
            Some(p) => matches!(p.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the server abruptly (SIGKILL to its PID) and reaps it: its connections end without
    /// a close frame, as when a host dies.
    pub fn kill(&mut self) -> Result<(), PeerError> {
        let mut process = self.process.take().ok_or(PeerError::NotRunning)?;
        kill_and_reap(&mut process.child)?;
        Ok(())
    }

    /// Stops the server gracefully: SIGTERM to its PID (the `kill` command), after which it
    /// closes open connections with 1001 and exits. Waits at most [`STOP_TIMEOUT`], then kills it
    /// and returns [`PeerError::StopTimeout`]; either way the process is gone afterwards.
    pub fn stop(&mut self) -> Result<ExitStatus, PeerError> {
        let mut process = self.process.take().ok_or(PeerError::NotRunning)?;
        if let Some(status) = process.child.try_wait()? {
            return Ok(status);
        }
        let pid = process.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !sent.is_ok_and(|s| s.success()) {
            // No `kill` command, or the process is already gone: make sure of the latter.
            kill_and_reap(&mut process.child)?;
            return Err(PeerError::StopTimeout { kind: self.kind });
        }
        match wait_timeout(&mut process.child, STOP_TIMEOUT)? {
            Some(status) => Ok(status),
            None => {
                kill_and_reap(&mut process.child)?;
                Err(PeerError::StopTimeout { kind: self.kind })
            }
        }
    }

    /// Starts the server again on the same port, with the same options and log (if it is still
    /// running, it is first stopped with [`Peer::stop`]). While the port is still taken the
    /// start is retried for at most [`RESTART_BIND_TIMEOUT`].
    pub fn restart(&mut self) -> Result<(), PeerError> {
        if self.process.is_some() {
            match self.stop() {
                Ok(_) | Err(PeerError::StopTimeout { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let deadline = Instant::now() + RESTART_BIND_TIMEOUT;
        loop {
            match self.spawn(self.port) {
                Ok((process, port)) => {
                    debug_assert_eq!(port, self.port);
                    self.process = Some(process);
                    return Ok(());
                }
                Err(PeerError::AddrInUse { .. }) if Instant::now() < deadline => thread::sleep(POLL * 5),
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes the server's stdin, as the death of its parent would; it then exits by itself.
    pub fn close_stdin(&mut self) {
        if let Some(p) = &mut self.process {
            p.stdin = None;
        }
    }

    /// Waits at most `timeout` for the process to exit by itself and reaps it; `None` if it is
    /// still running (or was not).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, PeerError> {
        let Some(p) = &mut self.process else {
            return Err(PeerError::NotRunning);
        };
        let status = wait_timeout(&mut p.child, timeout)?;
        if status.is_some() {
            self.process = None;
        }
        Ok(status)
    }

    /// Spawns one process and waits for its `LISTENING <port>` line.
    fn spawn(&self, port: u16) -> Result<(Process, u16), PeerError> {
        let root = repo_root();
        let mut cmd = self.kind.command(&root);
        cmd.current_dir(&root)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--log")
            .arg(&self.log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((cert, key)) = &self.tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        if self.deflate != PeerDeflate::Off {
            cmd.args(["--deflate", self.deflate.arg()]);
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        let stderr = Arc::new(Mutex::new(Stderr::default()));
        drain_stderr(child.stderr.take().expect("piped"), Arc::clone(&stderr));
        let listening = watch_stdout(child.stdout.take().expect("piped"));
        let process = Process { child, stdin, stderr };
        match listening.recv_timeout(START_TIMEOUT) {
            Ok(Ok(port)) => Ok((process, port)),
            Ok(Err(line)) => {
                let mut process = process;
                kill_and_reap(&mut process.child)?;
                Err(PeerError::BadOutput { kind: self.kind, line })
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let mut process = process;
                kill_and_reap(&mut process.child)?;
                Err(PeerError::StartTimeout {
                    kind: self.kind,
                    stderr: process.stderr.lock().unwrap().text.clone(),
                })
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Stdout ended: the process is exiting or has exited.
                let mut process = process;
                let status = match wait_timeout(&mut process.child, Duration::from_secs(2))? {
                    Some(status) => Some(status),
                    None => {
                        kill_and_reap(&mut process.child)?;
                        None
                    }
                };
                // Stderr may lag the exit by a moment; give its reader a bounded chance.
                let stderr = wait_stderr_eof(&process);
                if status.and_then(|s| s.code()) == Some(EXIT_ADDR_IN_USE) {
                    Err(PeerError::AddrInUse {
                        kind: self.kind,
                        port,
                        stderr,
                    })
                } else {
                    Err(PeerError::Exited {
                        kind: self.kind,
                        status,
                        stderr,
                    })
                }
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = kill_and_reap(&mut process.child);
        }
        if self.owns_log {
            let _ = fs::remove_file(&self.log);
        }
    }
}

/// SIGKILL by PID (unless it already exited), then wait for it.
fn kill_and_reap(child: &mut Child) -> io::Result<ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    // Fails only if the process already exited; the wait below reaps it either way.
    let _ = child.kill();
    child.wait()
}

/// Polls `try_wait` for at most `timeout`.
fn wait_timeout(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(POLL);
    }
}

/// Reads stdout on a thread: sends the port of the first line (or the line, if it is not
/// `LISTENING <port>`), then drains the rest so the server never blocks on a full pipe. The
/// channel closes without a message if stdout ends first.
fn watch_stdout(stdout: impl Read + Send + 'static) -> mpsc::Receiver<Result<u16, String>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let trimmed = line.trim_end();
        let port = trimmed.strip_prefix("LISTENING ").and_then(|p| p.parse::<u16>().ok());
        let _ = tx.send(port.ok_or_else(|| trimmed.to_owned()));
        drop(tx);
        let _ = io::copy(&mut lines, &mut io::sink());
    });
    rx
}

/// Collects stderr on a thread, keeping the last [`STDERR_KEEP`] bytes.
fn drain_stderr(stderr: impl Read + Send + 'static, into: Arc<Mutex<Stderr>>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let kept = &mut into.lock().unwrap().text;
                    kept.push_str(&String::from_utf8_lossy(&line));
                    if kept.len() > STDERR_KEEP {
                        let mut cut = kept.len() - STDERR_KEEP;
                        while !kept.is_char_boundary(cut) {
                            cut += 1;
                        }
                        kept.drain(..cut);
                    }
                }
            }
        }
        into.lock().unwrap().ended = true;
    });
}

/// The stderr of an exited process, waiting briefly (bounded) for its reader to reach EOF.
fn wait_stderr_eof(process: &Process) -> String {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        {
            let stderr = process.stderr.lock().unwrap();
            if stderr.ended || Instant::now() >= deadline {
                return stderr.text.clone();
            }
        }
        thread::sleep(POLL);
    }
}

/// A foreign echo client (`interop/python/client.py`, `interop/node/client.js`) connected to a
/// resock server: it reports the server's `Sec-WebSocket-Extensions` answer and echoes every
/// message until the server closes. Dropping it kills and reaps the process.
pub struct PeerClient {
    kind: PeerKind,
    child: Child,
    _stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<Stderr>>,
}

impl PeerClient {
    /// Starts the client towards `url` (the server must already listen).
    pub fn start(kind: PeerKind, url: &str, deflate: PeerDeflate) -> Result<PeerClient, PeerError> {
        kind.available().map_err(PeerError::Unavailable)?;
        let root = repo_root();
        let mut child = kind
            .client_command(&root, url, deflate)
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stderr = Arc::new(Mutex::new(Stderr::default()));
        drain_stderr(child.stderr.take().expect("piped"), Arc::clone(&stderr));
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(PeerClient {
            kind,
            child,
            _stdin: stdin,
            lines,
            stderr,
        })
    }

    /// The next line the client printed (`EXTENSIONS <value>`, `CLOSED <code>`), waiting at
    /// most `timeout`; `None` when it printed nothing more in time or its stdout ended.
    pub fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Waits at most `timeout` for the client to exit by itself; kills it otherwise.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, PeerError> {
        match wait_timeout(&mut self.child, timeout)? {
            Some(status) => Ok(status),
            None => {
                kill_and_reap(&mut self.child)?;
                Err(PeerError::StopTimeout { kind: self.kind })
            }
        }
    }

    /// What the client wrote to stderr, the last 64 KiB.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().text.clone()
    }
}

impl Drop for PeerClient {
    fn drop(&mut self) {
        let _ = kill_and_reap(&mut self.child);
    }
}
