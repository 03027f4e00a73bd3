//! Shared helpers: the `resock` binary as a child process behind a guard that kills and reaps
//! it by PID on drop, with stdout and stderr collected on threads and every wait bounded.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub mod raw;

pub const BIN: &str = env!("CARGO_BIN_EXE_resock");
/// Bound of every wait in the tests.
pub const LIMIT: Duration = Duration::from_secs(15);

/// Bytes a child wrote to one stream, with a signal for every change.
#[derive(Default)]
struct Collected {
    bytes: Mutex<(Vec<u8>, bool)>,
    changed: Condvar,
}

/// A running `resock`; killed (by PID) and reaped when dropped.
pub struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Collected>,
    stderr: Arc<Collected>,
}

fn collect(mut from: impl Read + Send + 'static) -> Arc<Collected> {
    let collected = Arc::new(Collected::default());
    let sink = Arc::clone(&collected);
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = from.read(&mut buf).unwrap_or(0);
            let mut bytes = sink.bytes.lock().unwrap();
            if n == 0 {
                bytes.1 = true;
            } else {
                bytes.0.extend_from_slice(&buf[..n]);
            }
            drop(bytes);
            sink.changed.notify_all();
            if n == 0 {
                return;
            }
        }
    });
    collected
}

impl Collected {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap().0).into_owned()
    }

    fn wait(&self, what: &str, timeout: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        let mut bytes = self.bytes.lock().unwrap();
        loop {
            let text = String::from_utf8_lossy(&bytes.0).into_owned();
            if done(&text) {
                return text;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && !bytes.1,
                "gave up waiting for {what}; the stream so far:\n{text}"
            );
            bytes = self.changed.wait_timeout(bytes, left).unwrap().0;
        }
    }
}

impl Collected {
    /// Waits until a complete line satisfies `matches`, at most `timeout`; returns that line.
    /// Each line is looked at once, so a stream of many megabytes costs no more than reading
    /// it (a `wait` re-reads the whole stream at every change).
    fn wait_line(&self, what: &str, timeout: Duration, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        let mut scanned = 0;
        let mut bytes = self.bytes.lock().unwrap();
        loop {
            while let Some(end) = bytes.0[scanned..].iter().position(|b| *b == b'\n') {
                let line = String::from_utf8_lossy(&bytes.0[scanned..scanned + end]).into_owned();
                scanned += end + 1;
                if matches(&line) {
                    return line;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || bytes.1 {
                let tail = String::from_utf8_lossy(&bytes.0[bytes.0.len().saturating_sub(4096)..]);
                panic!("gave up waiting for {what}; the end of the stream so far:\n{tail}");
            }
            bytes = self.changed.wait_timeout(bytes, left).unwrap().0;
        }
    }

    /// Waits until the stream has ended (the writer closed it), at most `timeout`.
    fn wait_end(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut bytes = self.bytes.lock().unwrap();
        while !bytes.1 {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the stream did not end");
            bytes = self.changed.wait_timeout(bytes, left).unwrap().0;
        }
    }
}

impl Proc {
    /// Starts `resock` with `args`, all three standard streams piped, colour not forced off.
    pub fn start(args: &[&str]) -> Proc {
        Self::start_with(args, |_| {})
    }

    /// Like [`start`](Self::start), letting `setup` adjust the command (environment).
    pub fn start_with(args: &[&str], setup: impl FnOnce(&mut Command)) -> Proc {
        let mut command = Command::new(BIN);
        command.args(args);
        setup(&mut command);
        Proc::spawn(command)
    }

    /// Starts any program with all three standard streams piped, under the same guard.
    pub fn spawn(command: Command) -> Proc {
        Self::spawn_inner(command, true)
    }

    /// Like [`spawn`](Self::spawn), but the read end of stdout is closed at once, so the
    /// program's writes to stdout fail (as when piped into `head`).
    pub fn spawn_with_closed_stdout(command: Command) -> Proc {
        Self::spawn_inner(command, false)
    }

    fn spawn_inner(mut command: Command, read_stdout: bool) -> Proc {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the program starts");
        let stdout = match child.stdout.take() {
            Some(out) if read_stdout => collect(out),
            _ => {
                let ended = Collected::default();
                ended.bytes.lock().unwrap().1 = true;
                Arc::new(ended)
            }
        };
        let stderr = collect(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        Proc {
            child,
            stdin,
            stdout,
            stderr,
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn write_stdin(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Ends stdin (the client then closes cleanly).
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    pub fn stdout_bytes(&self) -> Vec<u8> {
        self.stdout.bytes.lock().unwrap().0.clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Waits until stdout satisfies `done`; returns it. Panics after [`LIMIT`].
    pub fn wait_stdout(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        self.stdout.wait(what, LIMIT, done)
    }

    /// Waits until a line of stdout satisfies `matches`; returns it. Panics after [`LIMIT`].
    /// For streams too long for [`wait_stdout`](Self::wait_stdout), which re-reads them whole.
    pub fn wait_stdout_line(&self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        self.stdout.wait_line(what, LIMIT, matches)
    }

    /// Waits until stderr satisfies `done`; returns it. Panics after [`LIMIT`].
    pub fn wait_stderr(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        self.stderr.wait(what, LIMIT, done)
    }

    /// Waits for the exit, at most `timeout`, then for both streams to end.
    pub fn wait_exit_within(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.stdout.wait_end(LIMIT);
                self.stderr.wait_end(LIMIT);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "resock did not exit within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn wait_exit(&mut self) -> ExitStatus {
        self.wait_exit_within(LIMIT)
    }

    /// The port of a `resock serve` from its `listening on ws://ADDR` (or `wss://`) line.
    pub fn wait_listening(&self) -> u16 {
        let text = self.wait_stderr("the listening line", |t| {
            t.split_inclusive('\n')
                .any(|l| l.starts_with("listening on ") && l.ends_with('\n'))
        });
        let line = text.lines().find(|l| l.starts_with("listening on ")).unwrap();
        let addr = line.split("://").nth(1).unwrap().split_whitespace().next().unwrap();
        addr.rsplit(':').next().unwrap().parse().expect("a port")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stdin.take();
        // Kill by PID (a no-op error if it already exited), then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `resock serve 127.0.0.1:0 ARGS...` and its port.
pub fn serve(args: &[&str]) -> (Proc, u16) {
    let mut all = vec!["serve", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let server = Proc::start(&all);
    let port = server.wait_listening();
    (server, port)
}

/// A loopback port with nothing listening (bound, read, released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Parses each stdout line as one JSON object.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
            assert!(value.is_object(), "not an object: {line}");
            assert!(value["event"].is_string(), "no event name: {line}");
            value
        })
        .collect()
}

/// The JSON events named `name`.
pub fn events<'a>(all: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    all.iter().filter(|v| v["event"] == name).collect()
}
