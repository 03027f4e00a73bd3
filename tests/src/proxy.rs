//! Proxies for the proxy tests, on loopback: [`Pproxy`], the real `pproxy` server from PyPI
//! (pinned in `interop/python/requirements.txt`, installed into `.venv-interop` by
//! `scripts/interop-setup.sh`), speaking HTTP `CONNECT` and SOCKS5 on one port with optional
//! credentials; and [`Hostile`], a scripted proxy written here for what a real one will not do.
//!
//! Both are stopped when dropped: `pproxy` by its PID (SIGKILL, then reaped), the hostile one by
//! closing its listener and joining its thread.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::interop::TlsFiles;
use crate::peers::{PeerKind, repo_root};

/// How long `pproxy` may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// The interval of every bounded poll here.
const POLL: Duration = Duration::from_millis(10);

/// A running `pproxy` (HTTP `CONNECT` and SOCKS5 on one loopback port).
pub struct Pproxy {
    child: Child,
    port: u16,
    log: PathBuf,
    credentials: Option<(String, String)>,
}

impl Pproxy {
    /// For the first line of a test: whether `.venv-interop` holds the pinned requirements
    /// (websockets and pproxy); otherwise the Python peer's skip or failure rule applies.
    pub fn require_or_skip() -> bool {
        PeerKind::Python.require_or_skip()
    }

    /// Starts `pproxy` on a free loopback port, requiring `credentials` (user, password) when
    /// given; `--auth 0` makes it check them on every connection (it otherwise trusts an
    /// address that authenticated once).
    pub fn start(credentials: Option<(&str, &str)>) -> Pproxy {
        Pproxy::start_with(credentials, None)
    }

    /// Like [`start`](Self::start), serving HTTP `CONNECT` over TLS (an `https://` proxy)
    /// with `tls`'s certificate chain and key instead.
    pub fn start_tls(credentials: Option<(&str, &str)>, tls: &TlsFiles) -> Pproxy {
        Pproxy::start_with(credentials, Some(tls))
    }

    fn start_with(credentials: Option<(&str, &str)>, tls: Option<&TlsFiles>) -> Pproxy {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = repo_root();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut listen = match tls {
                Some(_) => format!("http+ssl://127.0.0.1:{port}/"),
                None => format!("http+socks5://127.0.0.1:{port}/"),
            };
            if let Some((user, password)) = credentials {
                listen.push_str(&format!("#{user}:{password}"));
            }
            let log = std::env::temp_dir().join(format!(
                "resock-pproxy-{}-{}.log",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let out = fs::File::create(&log).unwrap();
            let mut command = Command::new(root.join(".venv-interop/bin/python"));
            command.args(["-u", "-m", "pproxy", "-l", &listen, "-v", "--auth", "0"]);
            if let Some(tls) = tls {
                command
                    .arg("--ssl")
                    .arg(format!("{},{}", tls.cert.display(), tls.key.display()));
            }
            let child = command
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("starting pproxy");
            let mut proxy = Pproxy {
                child,
                port,
                log,
                credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
            };
            let deadline = Instant::now() + START_TIMEOUT;
            while Instant::now() < deadline {
                if proxy.log().contains("Serving on") {
                    return proxy;
                }
                if proxy.child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile: try another
                }
                thread::sleep(POLL);
            }
            eprintln!("pproxy did not start on {port}: {}", proxy.log());
        }
        panic!("pproxy did not start");
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `scheme://[user:password@]127.0.0.1:port`, the credentials percent-encoded, when
    /// `with_credentials` and the proxy has some.
    pub fn url(&self, scheme: &str, with_credentials: bool) -> String {
        match (&self.credentials, with_credentials) {
            (Some((user, password)), true) => {
                format!(
                    "{scheme}://{}:{}@127.0.0.1:{}",
                    encode(user),
                    encode(password),
                    self.port
                )
            }
            _ => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// `https://[user:password@]localhost:port` for a proxy from [`start_tls`](Self::start_tls)
    /// (its certificate names `localhost`), the credentials percent-encoded when it has some.
    pub fn https_url(&self) -> String {
        match &self.credentials {
            Some((user, password)) => format!("https://{}:{}@localhost:{}", encode(user), encode(password), self.port),
            None => format!("https://localhost:{}", self.port),
        }
    }

    /// Everything `pproxy` printed so far (with `-v`: a line per tunnel, `http 127.0.0.1:x ->
    /// host:port` or `socks5 ...`).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until the log holds `text`; the log either way.
    pub fn wait_for_log(&self, text: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(text) {
                return Ok(log);
            }
            if Instant::now() >= deadline {
                return Err(log);
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for Pproxy {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        fs::remove_file(&self.log).ok();
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a [`Hostile`] proxy does with each connection.
#[derive(Clone, Debug)]
pub enum Script {
    /// Read an HTTP request head, answer these bytes, then keep the connection open until the
    /// client closes it.
    Http(Vec<u8>),
    /// Read the SOCKS5 greeting (3 or 4 bytes), answer these bytes, then keep it open.
    Socks(Vec<u8>),
    /// Accept and say nothing.
    Silent,
}

/// A scripted proxy on a loopback port; every connection gets the same [`Script`].
pub struct Hostile {
    port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    thread: Option<JoinHandle<()>>,
}

impl Hostile {
    /// Starts the proxy.
    pub fn start(script: Script) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, accepted, requests) = (Arc::clone(&stop), Arc::clone(&accepted), Arc::clone(&requests));
            thread::spawn(move || {
                let mut open = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                            if let Some(stream) = serve(stream, &script, &requests) {
                                open.push(stream);
                            }
                        }
                        Err(_) => thread::sleep(POLL),
                    }
                }
            })
        };
        Hostile {
            port,
            stop,
            accepted,
            requests,
            thread: Some(thread),
        }
    }

    /// `scheme://[credentials@]127.0.0.1:port`.
    pub fn url(&self, scheme: &str, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((u, p)) => format!("{scheme}://{}:{}@127.0.0.1:{}", encode(u), encode(p), self.port),
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// How many connections it accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// The requests it read, one per connection.
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// Reads what the script expects, records it in `requests` (before answering, so a client that
/// has the answer finds its request recorded), writes its answer; the stream stays open with
/// the caller.
fn serve(mut stream: TcpStream, script: &Script, requests: &Mutex<Vec<Vec<u8>>>) -> Option<TcpStream> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    match script {
        Script::Silent => {
            requests.lock().unwrap().push(request);
            return Some(stream);
        }
        Script::Http(answer) => {
            while !request.ends_with(b"\r\n\r\n") && request.len() < 64 * 1024 {
                if stream.read(&mut byte).ok()? == 0 {
                    return None;
                }
                request.push(byte[0]);
            }
            requests.lock().unwrap().push(request);
            stream.write_all(answer).ok()?;
        }
        Script::Socks(answer) => {
            let mut head = [0u8; 2];
            stream.read_exact(&mut head).ok()?;
            let mut methods = vec![0u8; usize::from(head[1])];
            stream.read_exact(&mut methods).ok()?;
            request.extend_from_slice(&head);
            request.extend_from_slice(&methods);
            requests.lock().unwrap().push(request);
            stream.write_all(answer).ok()?;
        }
    }
    Some(stream)
}
