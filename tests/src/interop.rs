//! Interop and chaos helpers: resock's session clients behind one synchronous [`TestClient`]
//! (from [`crate::test_client`]), an in-process tungstenite server ([`TungServer`]) that serves
//! the paths of `interop/README.md` and can be killed or stopped and restarted on the same port,
//! a uniform [`Server`] over it and the foreign [`Peer`]s, a throwaway PKI for `wss://` peers
//! ([`TlsFiles`]), and the interop matrix itself ([`run_matrix`]) with its result table.
//!
//! Every wait here is bounded; every thread and process started here is stopped and joined (or
//! reaped) by the owner's `Drop`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use resock::tls::TlsOptions;
use resock::{ClientBuilder, CloseCode, Message};
use resock_core::Initiator;
use resock_core::session::{
    ClosedReason, HandBackReason, HeartbeatConfig, MessageId, QueueConfig, ReconnectPolicy, SessionEvent, SessionState,
};
use tungstenite::handshake::HandshakeError;
use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::CloseFrame;

use crate::peers::{Peer, PeerKind, PeerOptions};
pub use crate::test_client::{LIMIT, Record, Runtime, TestClient, describe};

/// The bound of a wait that moves 16 MiB each way on a debug build.
pub const BIG_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The in-process tungstenite server
// ---------------------------------------------------------------------------------------------

/// A `msg`/`close` log in memory, with a condition variable for bounded waits.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

impl Log {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
        self.grew.notify_all();
    }
}

/// `\` → `\\`, line feed → `\n`, carriage return → `\r` (the log's escaping).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// What a path does (`interop/README.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Echo,
    Headers,
    Subprotocol,
    Close(u16),
    ClosedByClient,
    Count,
}

fn route(path: &str) -> Option<Route> {
    match path {
        "/echo" => Some(Route::Echo),
        "/headers" => Some(Route::Headers),
        "/subprotocol" => Some(Route::Subprotocol),
        "/closed-by-client" => Some(Route::ClosedByClient),
        "/count" => Some(Route::Count),
        _ => {
            let digits = path.strip_prefix("/close/")?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 4 {
                return None;
            }
            let code: u16 = digits.parse().ok()?;
            let sendable = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            sendable.then_some(Route::Close(code))
        }
    }
}

/// The subprotocols the servers support.
const SUBPROTOCOLS: [&str; 2] = ["chat.v2", "chat.v1"];

/// What the handshake callback learned.
#[derive(Default)]
struct Accepted {
    route: Option<Route>,
    headers_json: String,
    subprotocol: Option<String>,
}

struct Handshake(Arc<Mutex<Accepted>>);

impl Callback for Handshake {
    fn on_request(self, request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
        let Some(route) = route(request.uri().path()) else {
            let mut not_found = ErrorResponse::new(Some("not found".to_owned()));
            *not_found.status_mut() = tungstenite::http::StatusCode::NOT_FOUND;
            return Err(not_found);
        };
        // Request headers as compact JSON, names lowercased, repeats joined with ", ".
        let mut joined: Vec<(String, String)> = Vec::new();
        for (name, value) in request.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match joined.iter_mut().find(|(n, _)| n == name.as_str()) {
                Some((_, v)) => {
                    v.push_str(", ");
                    v.push_str(&value);
                }
                None => joined.push((name.as_str().to_owned(), value)),
            }
        }
        let mut json = String::from("{");
        for (i, (name, value)) in joined.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json_string(name, &mut json);
            json.push(':');
            json_string(value, &mut json);
        }
        json.push('}');
        // The first offered subprotocol the server supports.
        let offered: Vec<String> = request
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|p| p.trim().to_owned()))
            .collect();
        let chosen = offered.into_iter().find(|p| SUBPROTOCOLS.contains(&p.as_str()));
        if let Some(chosen) = &chosen {
            let value = tungstenite::http::HeaderValue::from_str(chosen).expect("a token");
            response.headers_mut().insert("sec-websocket-protocol", value);
        }
        *self.0.lock().unwrap() = Accepted {
            route: Some(route),
            headers_json: json,
            subprotocol: chosen,
        };
        Ok(response)
    }
}

const RUN: u8 = 0;
const GRACEFUL: u8 = 1;
const ABRUPT: u8 = 2;
/// How often a connection thread looks at the stop flag (its socket read timeout).
const SERVER_POLL: Duration = Duration::from_millis(10);
/// How long a graceful stop waits for each client's close reply (as the foreign servers do).
const STOP_GRACE: Duration = Duration::from_secs(2);

fn server_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_frame_size(None)
        .max_message_size(Some(17 << 20))
}

/// A connection's socket (a clone, to cut it off) and its thread.
type Connection = (TcpStream, JoinHandle<()>);

struct Running {
    addr: SocketAddr,
    stop: Arc<AtomicU8>,
    accept: JoinHandle<()>,
    conns: Arc<Mutex<Vec<Connection>>>,
}

/// A tungstenite server on 127.0.0.1 with the paths of `interop/README.md` and an in-memory
/// log, restartable on the same port. [`kill`](Self::kill) drops every connection without a
/// close frame; [`stop`](Self::stop) closes them with 1001 first. Dropping it kills it and
/// joins every thread.
pub struct TungServer {
    port: u16,
    log: Arc<Log>,
    /// Handshakes completed, over all runs.
    handshakes: Arc<(Mutex<usize>, Condvar)>,
    running: Option<Running>,
}

impl TungServer {
    /// Starts on a free port.
    pub fn start() -> TungServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let mut server = TungServer {
            port,
            log: Arc::default(),
            handshakes: Arc::default(),
            running: None,
        };
        server.running = Some(server.launch(listener));
        server
    }

    /// The port (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `ws://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    /// The log so far, over every run.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lines.lock().unwrap().clone()
    }

    /// Waits (at most `timeout`) until the log holds exactly `line`; all lines on success.
    pub fn wait_for_log_line(&self, line: &str, timeout: Duration) -> Result<Vec<String>, Vec<String>> {
        let lines = self.log.lines.lock().unwrap();
        let (lines, _) = self
            .log
            .grew
            .wait_timeout_while(lines, timeout, |lines| !lines.iter().any(|l| l == line))
            .unwrap();
        if lines.iter().any(|l| l == line) {
            Ok(lines.clone())
        } else {
            Err(lines.clone())
        }
    }

    /// Completed WebSocket handshakes over every run.
    pub fn handshakes(&self) -> usize {
        *self.handshakes.0.lock().unwrap()
    }

    /// Waits (at most `timeout`) until at least `count` handshakes completed; returns whether.
    pub fn wait_for_handshakes(&self, count: usize, timeout: Duration) -> bool {
        let (lock, cond) = &*self.handshakes;
        let guard = lock.lock().unwrap();
        let (guard, _) = cond.wait_timeout_while(guard, timeout, |n| *n < count).unwrap();
        *guard >= count
    }

    /// Whether it is running.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    fn launch(&self, listener: TcpListener) -> Running {
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicU8::new(RUN));
        let conns: Arc<Mutex<Vec<Connection>>> = Arc::default();
        let accept = {
            let stop = Arc::clone(&stop);
            let conns = Arc::clone(&conns);
            let log = Arc::clone(&self.log);
            let handshakes = Arc::clone(&self.handshakes);
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) != RUN {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (Ok(handle), Ok(own)) = (stream.try_clone(), stream.try_clone()) else {
                        continue;
                    };
                    let stop = Arc::clone(&stop);
                    let log = Arc::clone(&log);
                    let handshakes = Arc::clone(&handshakes);
                    let thread = thread::spawn(move || {
                        serve(stream, &stop, &log, &handshakes);
                        // The registry's clone keeps the socket open: end the TCP connection
                        // now, as a server does once it is done with a connection.
                        let _ = own.shutdown(Shutdown::Both);
                    });
                    conns.lock().unwrap().push((handle, thread));
                }
            })
        };
        Running {
            addr,
            stop,
            accept,
            conns,
        }
    }

    fn halt(&mut self, how: u8) {
        let Some(running) = self.running.take() else {
            panic!("the tungstenite server is not running");
        };
        running.stop.store(how, Ordering::SeqCst);
        // Wake the blocking accept so its thread sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(&running.addr, Duration::from_secs(1));
        let accept_panicked = running.accept.join().is_err();
        let conns = std::mem::take(&mut *running.conns.lock().unwrap());
        if how == ABRUPT {
            for (stream, _) in &conns {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        let deadline = Instant::now() + STOP_GRACE + Duration::from_secs(1);
        let mut panicked = accept_panicked;
        for (stream, thread) in conns {
            while !thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
            // A thread still running past the grace period is stuck in a write: cut it off.
            let _ = stream.shutdown(Shutdown::Both);
            panicked |= thread.join().is_err();
        }
        assert!(!panicked || thread::panicking(), "a tungstenite server thread panicked");
    }

    /// Drops every connection without a close frame (as a dying host would) and stops listening.
    pub fn kill(&mut self) {
        self.halt(ABRUPT);
    }

    /// Closes every connection with 1001 (waiting at most 2 s for each reply) and stops
    /// listening.
    pub fn stop(&mut self) {
        self.halt(GRACEFUL);
    }

    /// Listens again on the same port (retrying for at most 5 s while it is taken).
    pub fn restart(&mut self) {
        assert!(self.running.is_none(), "restart of a running server");
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(listener) => break listener,
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("rebinding port {}: {e}", self.port),
            }
        };
        self.running = Some(self.launch(listener));
    }
}

impl Drop for TungServer {
    fn drop(&mut self) {
        if self.running.is_some() {
            self.halt(ABRUPT);
        }
    }
}

fn is_timeout(error: &tungstenite::Error) -> bool {
    matches!(error, tungstenite::Error::Io(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
}

/// One connection of [`TungServer`], until it ends or the server stops.
fn serve(stream: TcpStream, stop: &AtomicU8, log: &Log, handshakes: &(Mutex<usize>, Condvar)) {
    let _ = stream.set_nodelay(true);
    if stream.set_read_timeout(Some(SERVER_POLL)).is_err() || stream.set_write_timeout(Some(LIMIT)).is_err() {
        return;
    }
    let accepted = Arc::new(Mutex::new(Accepted::default()));
    let handshake_deadline = Instant::now() + LIMIT;
    let mut attempt =
        tungstenite::accept_hdr_with_config(stream, Handshake(Arc::clone(&accepted)), Some(server_config()));
    let mut ws = loop {
        match attempt {
            Ok(ws) => break ws,
            Err(HandshakeError::Interrupted(mid)) => {
                if stop.load(Ordering::SeqCst) != RUN || Instant::now() >= handshake_deadline {
                    return;
                }
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(_)) => return,
        }
    };
    {
        let (count, grew) = handshakes;
        *count.lock().unwrap() += 1;
        grew.notify_all();
    }
    let Accepted {
        route,
        headers_json,
        subprotocol,
    } = std::mem::take(&mut *accepted.lock().unwrap());
    let route = route.expect("the callback saw the request");
    let greeting = match route {
        Route::Headers => Some(headers_json),
        Route::Subprotocol => Some(subprotocol.unwrap_or_default()),
        _ => None,
    };
    if let Some(text) = greeting
        && ws.send(tungstenite::Message::text(text)).is_err()
    {
        return;
    }
    // Set once we sent a close frame: the path's own close or a graceful stop.
    let mut server_closing = false;
    let mut close_deadline: Option<Instant> = None;
    let mut client_close: Option<(u16, String)> = None;
    loop {
        // Looked at before every read: a client that never pauses must not delay a stop.
        match stop.load(Ordering::SeqCst) {
            ABRUPT => return,
            GRACEFUL if !server_closing => {
                server_closing = true;
                close_deadline = Some(Instant::now() + STOP_GRACE);
                let frame = CloseFrame {
                    code: 1001.into(),
                    reason: "going away".into(),
                };
                if ws.close(Some(frame)).is_err() {
                    return;
                }
            }
            _ => {}
        }
        if close_deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        match ws.read() {
            Ok(message @ (tungstenite::Message::Text(_) | tungstenite::Message::Binary(_))) => {
                if let Route::Close(code) = route {
                    if !server_closing {
                        let frame = CloseFrame {
                            code: code.into(),
                            reason: "bye".into(),
                        };
                        server_closing = true;
                        close_deadline = Some(Instant::now() + STOP_GRACE);
                        if ws.close(Some(frame)).is_err() {
                            return;
                        }
                    }
                    continue;
                }
                if route == Route::Count
                    && let tungstenite::Message::Text(text) = &message
                {
                    log.push(format!("msg {}", escape(text.as_str())));
                }
                // After our close frame a message can still arrive; it cannot be echoed.
                if ws.can_write()
                    && let Err(e) = ws.send(message)
                    && !is_timeout(&e)
                {
                    return;
                }
            }
            Ok(tungstenite::Message::Close(frame)) => {
                if !server_closing {
                    client_close = Some(
                        frame
                            .map(|f| (u16::from(f.code), f.reason.as_str().to_owned()))
                            .unwrap_or((1005, String::new())),
                    );
                }
            }
            Ok(_) => {}
            // Nothing to read for a poll interval: look at the stop flag again.
            Err(e) if is_timeout(&e) => {}
            Err(_) => {
                // The connection ended. Log what the client did, unless we closed or stop.
                if !server_closing && stop.load(Ordering::SeqCst) == RUN {
                    match client_close {
                        Some((code, reason)) => log.push(format!("close {code} {}", escape(&reason))),
                        None => log.push("close 1006 ".to_owned()),
                    }
                }
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Servers of every kind, and the PKI for wss://
// ---------------------------------------------------------------------------------------------

/// Which server an interop case talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// [`TungServer`], in this process.
    Tungstenite,
    /// A foreign server (`resock_tests::peers`).
    Peer(PeerKind),
}

impl ServerKind {
    /// `"tungstenite"`, `"python"` or `"node"`.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Tungstenite => "tungstenite",
            ServerKind::Peer(kind) => kind.name(),
        }
    }
}

/// A running server of any kind.
pub enum Server {
    /// In process.
    Tung(TungServer),
    /// A child process.
    Peer(Peer),
}

impl Server {
    /// Starts one; `tls` only for foreign servers.
    pub fn start(kind: ServerKind, tls: Option<&TlsFiles>) -> Server {
        match kind {
            ServerKind::Tungstenite => {
                assert!(tls.is_none(), "the tungstenite server speaks plain ws:// only");
                Server::Tung(TungServer::start())
            }
            ServerKind::Peer(kind) => {
                let opts = PeerOptions {
                    tls: tls.map(|t| (t.cert.clone(), t.key.clone())),
                    ..PeerOptions::default()
                };
                Server::Peer(Peer::start(kind, opts).unwrap_or_else(|e| panic!("starting the {kind} peer: {e}")))
            }
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        match self {
            Server::Tung(s) => s.url(path),
            Server::Peer(p) => p.url(path),
        }
    }

    /// The log so far.
    pub fn log_lines(&self) -> Vec<String> {
        match self {
            Server::Tung(s) => s.log_lines(),
            Server::Peer(p) => p.log_lines(),
        }
    }

    /// Waits (at most `timeout`) for `line` in the log; panics with the log otherwise.
    pub fn expect_log_line(&self, line: &str, timeout: Duration) {
        let result = match self {
            Server::Tung(s) => s.wait_for_log_line(line, timeout).map(drop),
            Server::Peer(p) => p
                .wait_for_log_line(line, timeout)
                .map(drop)
                .map_err(|e| vec![e.to_string()]),
        };
        if let Err(log) = result {
            panic!("the server log has no line {line:?}:\n{}", log.join("\n"));
        }
    }

    /// The numbers of the `msg <n>` lines, in log order.
    pub fn logged_numbers(&self) -> Vec<u64> {
        self.log_lines()
            .iter()
            .filter_map(|l| l.strip_prefix("msg "))
            .map(|n| n.parse().unwrap_or_else(|_| panic!("a non-numeric msg line {n:?}")))
            .collect()
    }

    /// Graceful stop: connections are closed with 1001.
    pub fn stop(&mut self) {
        match self {
            Server::Tung(s) => s.stop(),
            Server::Peer(p) => {
                p.stop()
                    .unwrap_or_else(|e| panic!("stopping the {} peer: {e}", p.kind()));
            }
        }
    }

    /// Abrupt stop: no close frames (SIGKILL for a foreign server).
    pub fn kill(&mut self) {
        match self {
            Server::Tung(s) => s.kill(),
            Server::Peer(p) => p
                .kill()
                .unwrap_or_else(|e| panic!("killing the {} peer: {e}", p.kind())),
        }
    }

    /// Starts again on the same port.
    pub fn restart(&mut self) {
        match self {
            Server::Tung(s) => s.restart(),
            Server::Peer(p) => p
                .restart()
                .unwrap_or_else(|e| panic!("restarting the {} peer: {e}", p.kind())),
        }
    }
}

/// A CA and a leaf for `localhost` and `127.0.0.1` made for one test, written as PEM files for
/// a foreign server's `--tls-cert`/`--tls-key`; removed when dropped.
pub struct TlsFiles {
    dir: PathBuf,
    /// The leaf certificate, then the CA (PEM).
    pub cert: PathBuf,
    /// The leaf's private key (PKCS#8 PEM).
    pub key: PathBuf,
    /// The CA certificate (PEM), for the client to trust.
    pub ca_pem: String,
}

impl TlsFiles {
    /// Generates the CA and the leaf, and writes the files into a fresh temporary directory.
    pub fn generate() -> TlsFiles {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "resock interop test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key")).expect("CA certificate");

        // 0.0.0.0: Linux connects it to this machine, and proxy variables never apply to loopback,
        // so tests of the environment's proxy name the server so.
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "0.0.0.0".to_owned()];
        let mut leaf_params = CertificateParams::new(names).expect("leaf params");
        leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf certificate");

        let dir = std::env::temp_dir().join(format!(
            "resock-interop-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create the TLS directory");
        let cert = dir.join("chain.pem");
        let key = dir.join("key.pem");
        fs::write(&cert, format!("{}{}", leaf.pem(), ca.pem())).expect("write the chain");
        fs::write(&key, leaf_key.serialize_pem()).expect("write the key");
        TlsFiles {
            dir,
            cert,
            key,
            ca_pem: ca.pem(),
        }
    }

    /// Client TLS options that trust only this CA.
    pub fn client_tls(&self) -> TlsOptions {
        TlsOptions::no_default_roots()
            .add_root_pem(self.ca_pem.as_bytes())
            .expect("the CA parses")
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// Case results and the table
// ---------------------------------------------------------------------------------------------

/// How one case went.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case name, e.g. `echo-16MiB`.
    pub case: String,
    /// `Ok(detail)` (the detail may be empty) or the failure message.
    pub outcome: Result<String, String>,
    /// How long it took.
    pub took: Duration,
}

/// Writes a line to the real stderr, past the test harness's output capture, so that it shows
/// in every run (`cargo test` without `--nocapture` too).
pub fn report_line(line: &str) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}

/// Runs one case, catching its panic; prints `interop <server> <runtime> <case> ok|FAILED`.
pub fn run_case(
    server: &str,
    runtime: Runtime,
    case: &str,
    results: &mut Vec<CaseResult>,
    body: impl FnOnce() -> String,
) {
    let start = Instant::now();
    let outcome = panic::catch_unwind(AssertUnwindSafe(body)).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic without a message".to_owned())
    });
    let took = start.elapsed();
    let line = match &outcome {
        Ok(detail) if detail.is_empty() => format!("interop {server} {runtime} {case} ok ({} ms)", took.as_millis()),
        Ok(detail) => format!(
            "interop {server} {runtime} {case} ok ({} ms; {detail})",
            took.as_millis()
        ),
        Err(why) => {
            let mut first = why.lines().next().unwrap_or("").to_owned();
            first.truncate(300);
            format!(
                "interop {server} {runtime} {case} FAILED ({} ms): {first}",
                took.as_millis()
            )
        }
    };
    report_line(&line);
    results.push(CaseResult {
        case: case.to_owned(),
        outcome,
        took,
    });
}

/// A Markdown table: one row per case, one column per runtime.
pub fn matrix_table(title: &str, columns: &[(Runtime, Vec<CaseResult>)]) -> String {
    let mut cases: Vec<&str> = Vec::new();
    for (_, results) in columns {
        for r in results {
            if !cases.contains(&r.case.as_str()) {
                cases.push(&r.case);
            }
        }
    }
    let mut out = format!("\n{title}\n\n| case |");
    for (runtime, _) in columns {
        let _ = write!(out, " {runtime} |");
    }
    out.push_str("\n|---|");
    for _ in columns {
        out.push_str("---|");
    }
    out.push('\n');
    for case in cases {
        let _ = write!(out, "| {case} |");
        for (_, results) in columns {
            let cell = match results.iter().find(|r| r.case == case) {
                Some(CaseResult {
                    outcome: Ok(detail),
                    took,
                    ..
                }) if detail.is_empty() => format!("ok {} ms", took.as_millis()),
                Some(CaseResult {
                    outcome: Ok(detail),
                    took,
                    ..
                }) => format!("ok {} ms ({detail})", took.as_millis()),
                Some(CaseResult { outcome: Err(_), .. }) => "**FAILED**".to_owned(),
                None => "-".to_owned(),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

/// Runs the matrix of `kind` on every runtime (in parallel threads), prints the table, writes
/// it to `<dir>/interop-matrix-<name>.md`, and panics listing the failed cases, if any.
pub fn run_matrix_on_all_runtimes(kind: ServerKind, tls: Option<&TlsFiles>, dir: &Path, name: &str) {
    let start = Instant::now();
    let columns: Vec<(Runtime, Vec<CaseResult>)> = thread::scope(|scope| {
        let runs: Vec<_> = Runtime::ALL
            .iter()
            .map(|&runtime| (runtime, scope.spawn(move || run_matrix(kind, runtime, tls))))
            .collect();
        runs.into_iter()
            .map(|(runtime, run)| (runtime, run.join().expect("the matrix thread panicked outside a case")))
            .collect()
    });
    let title = format!(
        "interop matrix: resock client × {name} (wall time {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    let table = matrix_table(&title, &columns);
    report_line(&table);
    let _ = fs::create_dir_all(dir);
    let _ = fs::write(dir.join(format!("interop-matrix-{name}.md")), &table);
    let failed: Vec<String> = columns
        .iter()
        .flat_map(|(runtime, results)| {
            results.iter().filter_map(move |r| match &r.outcome {
                Err(why) => Some(format!("{runtime} {}: {why}", r.case)),
                Ok(_) => None,
            })
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The interop cases
// ---------------------------------------------------------------------------------------------

/// Payload sizes of the echo cases and their names.
pub const ECHO_SIZES: [(usize, &str); 8] = [
    (0, "0B"),
    (1, "1B"),
    (125, "125B"),
    (126, "126B"),
    (65_535, "65535B"),
    (65_536, "65536B"),
    (1 << 20, "1MiB"),
    (16 << 20, "16MiB"),
];

/// A client builder for `path` on `server` with the matrix settings: no heartbeat, fast
/// reconnects, 17 MiB messages and a queue that holds two 16 MiB messages.
pub fn matrix_builder(server: &Server, path: &str, tls: Option<&TlsFiles>) -> ClientBuilder {
    let mut queue = QueueConfig::default();
    queue.max_bytes = 40 << 20;
    let builder = ClientBuilder::new(&server.url(path))
        .expect("a valid URL")
        .heartbeat(HeartbeatConfig::disabled())
        .reconnect(ReconnectPolicy::exponential(
            Duration::from_millis(10),
            Duration::from_millis(100),
        ))
        .open_timeout(Duration::from_secs(10))
        .close_timeout(Duration::from_secs(5))
        .max_message_size(17 << 20)
        .queue(queue);
    match tls {
        Some(tls) => builder.tls(tls.client_tls()),
        None => builder,
    }
}

fn text_of(size: usize) -> String {
    (0..size).map(|i| char::from(b'a' + (i % 26) as u8)).collect()
}

fn binary_of(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 7 % 251) as u8).collect()
}

fn assert_closed_by_user(client: &mut TestClient) {
    let state = client.close(CloseCode::NORMAL, "");
    assert_eq!(
        state,
        SessionState::Closed(ClosedReason::User),
        "the close did not finish"
    );
    assert!(client.finish(LIMIT), "the session did not end after its close");
}

fn case_handshake(server: &Server, runtime: Runtime, tls: Option<&TlsFiles>) -> String {
    let mut client = TestClient::open(runtime, matrix_builder(server, "/echo", tls));
    let start = Instant::now();
    assert_eq!(client.expect_opened(LIMIT), None, "no subprotocol was offered");
    let took = start.elapsed();
    assert_eq!(client.state(), SessionState::Open);
    assert_closed_by_user(&mut client);
    format!("open in {:.1} ms", took.as_secs_f64() * 1e3)
}

fn case_echo(server: &Server, runtime: Runtime, tls: Option<&TlsFiles>, size: usize) -> String {
    let limit = if size > 1 << 20 { BIG_LIMIT } else { LIMIT };
    let mut client = TestClient::open(runtime, matrix_builder(server, "/echo", tls));
    client.expect_opened(LIMIT);
    let text = Message::text(text_of(size));
    let start = Instant::now();
    client.send(text.clone()).expect("text accepted");
    let back = client.expect_message(limit, "the text echo");
    assert!(
        back == text,
        "text of {size} bytes came back changed ({} bytes, text: {})",
        back.len(),
        back.is_text()
    );
    drop((text, back));
    let binary = Message::binary(binary_of(size));
    client.send(binary.clone()).expect("binary accepted");
    let back = client.expect_message(limit, "the binary echo");
    assert!(
        back == binary,
        "binary of {size} bytes came back changed ({} bytes, text: {})",
        back.len(),
        back.is_text()
    );
    let took = start.elapsed();
    assert_closed_by_user(&mut client);
    if size >= 1 << 20 {
        let mib_per_s = (4 * size) as f64 / (1 << 20) as f64 / took.as_secs_f64();
        format!("{mib_per_s:.0} MiB/s both ways")
    } else {
        String::new()
    }
}

fn case_ping_pong(server: &Server, runtime: Runtime, tls: Option<&TlsFiles>) -> String {
    let mut heartbeat = HeartbeatConfig::default();
    heartbeat.interval = Some(Duration::from_millis(100));
    heartbeat.timeout = Duration::from_secs(10);
    let mut client = TestClient::open(runtime, matrix_builder(server, "/echo", tls).heartbeat(heartbeat));
    client.expect_opened(LIMIT);
    assert_eq!(client.rtt(), None, "an rtt before any pong");
    let start = Instant::now();
    for _ in 0..2 {
        client.expect_event(Duration::from_secs(5), "a pong", |e| {
            matches!(e, SessionEvent::Pong { .. })
        });
    }
    let took = start.elapsed();
    let rtt = client.rtt().expect("an rtt after the pongs");
    assert!(rtt.latest < Duration::from_secs(5) && rtt.smoothed < Duration::from_secs(5));
    // Two pings 100 ms apart: the second pong cannot come much sooner than one interval.
    assert!(took >= Duration::from_millis(90), "two pongs within {took:?}");
    assert_closed_by_user(&mut client);
    format!("rtt {:.2} ms", rtt.latest.as_secs_f64() * 1e3)
}

fn case_client_close(server: &Server, runtime: Runtime, tls: Option<&TlsFiles>) -> String {
    let mut client = TestClient::open(runtime, matrix_builder(server, "/closed-by-client", tls));
    client.expect_opened(LIMIT);
    let state = client.close(CloseCode(4000), "bye");
    assert_eq!(state, SessionState::Closed(ClosedReason::User));
    assert!(client.finish(LIMIT), "the session did not end");
    assert_eq!(
        client.record().closed,
        [(CloseCode(4000), "bye".to_owned(), Initiator::Local)],
        "the client's Closed events"
    );
    server.expect_log_line("close 4000 bye", LIMIT);
    String::new()
}

fn case_server_close(server: &Server, runtime: Runtime, tls: Option<&TlsFiles>) -> String {
    let builder = matrix_builder(server, "/close/4001", tls).reconnect(ReconnectPolicy::disabled());
    let mut client = TestClient::open(runtime, builder);
    client.expect_opened(LIMIT);
    client.send_text("please close");
    let event = client.expect_event(LIMIT, "the server's close", |e| {
        matches!(e, SessionEvent::Closed { .. } | SessionEvent::Message(_))
    });
    let SessionEvent::Closed {
        code,
        reason,
        initiator,
    } = event
    else {
        panic!("the message was echoed instead of closing: {}", describe(&event));
    };
    assert_eq!(
        (code, reason.as_str(), initiator),
        (CloseCode(4001), "bye", Initiator::Remote)
    );
    assert!(client.finish(LIMIT), "the session did not end without reconnects");
    assert!(
        matches!(client.state(), SessionState::Closed(ClosedReason::Fatal(_))),
        "state {}",
        client.state()
    );
    String::new()
}

fn case_subprotocol(
    server: &Server,
    runtime: Runtime,
    tls: Option<&TlsFiles>,
    offer: &[&str],
    expected: Option<&str>,
) -> String {
    let mut builder = matrix_builder(server, "/subprotocol", tls);
    for name in offer {
        builder = builder.subprotocol(*name);
    }
    let mut client = TestClient::open(runtime, builder);
    assert_eq!(
        client.expect_opened(LIMIT).as_deref(),
        expected,
        "the agreed subprotocol"
    );
    let said = client.expect_message(LIMIT, "the server's subprotocol message");
    assert_eq!(
        said.as_text(),
        Some(expected.unwrap_or("")),
        "what the server says it chose"
    );
    assert_closed_by_user(&mut client);
    String::new()
}

fn case_headers(server: &Server, runtime: Runtime, tls: Option<&TlsFiles>) -> String {
    let value = format!("interop-{runtime}-42");
    let builder = matrix_builder(server, "/headers", tls).header("X-Resock-Test", value.as_str());
    let mut client = TestClient::open(runtime, builder);
    client.expect_opened(LIMIT);
    let json = client.expect_message(LIMIT, "the request headers");
    let json = json.as_text().expect("a text message");
    let wanted = format!("\"x-resock-test\":\"{value}\"");
    assert!(
        json.contains(&wanted),
        "{wanted} is not in the headers the server saw: {json}"
    );
    assert_closed_by_user(&mut client);
    String::new()
}

/// Echoes of `/count` messages as numbers.
fn number_of(message: &Message) -> u64 {
    message
        .as_text()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("an echo that is not a number: {} bytes", message.len()))
}

/// The graceful restart: 1..=10 delivered (echoed), the server stops (1001), 11..=25 queue
/// during the outage, it restarts on the same port; the log then holds 1..=25 exactly once, in
/// order.
fn case_restart_graceful(kind: ServerKind, runtime: Runtime, tls: Option<&TlsFiles>) -> String {
    const FIRST: u64 = 10;
    const TOTAL: u64 = 25;
    let mut server = Server::start(kind, tls);
    let mut client = TestClient::open(runtime, matrix_builder(&server, "/count", tls));
    client.expect_opened(LIMIT);
    for n in 1..=FIRST {
        client.send_text(n.to_string());
    }
    for n in 1..=FIRST {
        assert_eq!(number_of(&client.expect_message(LIMIT, "an echo")), n);
    }
    // Stop on another thread: the blocking client answers the 1001 only while it is driven.
    let stop = Instant::now();
    let (stopped_in, closed) = thread::scope(|scope| {
        let stopping = scope.spawn(|| {
            server.stop();
            stop.elapsed()
        });
        let closed = client.expect_event(LIMIT, "the server's going-away close", |e| {
            matches!(e, SessionEvent::Closed { .. } | SessionEvent::Disconnected { .. })
        });
        (stopping.join().expect("the stop panicked"), closed)
    });
    assert!(
        matches!(
            closed,
            SessionEvent::Closed {
                code: CloseCode(1001),
                initiator: Initiator::Remote,
                ..
            }
        ),
        "expected a 1001 close from the server, got {}",
        describe(&closed)
    );
    client.expect_event(LIMIT, "Disconnected with a retry", |e| {
        matches!(e, SessionEvent::Disconnected { retry_at: Some(_), .. })
    });
    for n in FIRST + 1..=TOTAL {
        client.send_text(n.to_string());
    }
    assert_eq!(
        client.queued_messages() as u64,
        TOTAL - FIRST,
        "queued during the outage"
    );
    let outage = Instant::now();
    server.restart();
    client.expect_opened(LIMIT);
    let reconnected_in = outage.elapsed();
    for n in FIRST + 1..=TOTAL {
        assert_eq!(number_of(&client.expect_message(LIMIT, "an echo after the restart")), n);
    }
    assert_closed_by_user(&mut client);
    let logged = server.logged_numbers();
    let expected: Vec<u64> = (1..=TOTAL).collect();
    assert_eq!(logged, expected, "the server's msg lines over both runs");
    assert!(
        client.handed_back().is_empty(),
        "handed back: {:?}",
        client.handed_back()
    );
    format!(
        "stop {} ms, reconnect {} ms after restart began",
        stopped_in.as_millis(),
        reconnected_in.as_millis()
    )
}

/// The abrupt restart: 1..=10 sent, the server is killed after echoing 5, 11..=20 are sent
/// during the outage, it restarts, and 21 is sent once reconnected. The log must be strictly
/// increasing; every number missing from it must have been handed back or written to the
/// killed connection; 21 and everything written to the second connection must be there.
fn case_restart_kill(kind: ServerKind, runtime: Runtime, tls: Option<&TlsFiles>) -> String {
    const FIRST: u64 = 10;
    const OUTAGE: u64 = 20;
    const LAST: u64 = 21;
    let mut server = Server::start(kind, tls);
    let mut client = TestClient::open(runtime, matrix_builder(&server, "/count", tls));
    client.expect_opened(LIMIT);
    let mut ids = HashMap::new();
    for n in 1..=FIRST {
        ids.insert(client.send_text(n.to_string()), n);
    }
    while number_of(&client.expect_message(LIMIT, "an echo")) < 5 {}
    server.kill();
    for n in FIRST + 1..=OUTAGE {
        ids.insert(client.send_text(n.to_string()), n);
    }
    server.restart();
    // Wait for the second connection, then write the last number to it.
    while client.record().opened < 2 {
        client.expect_event(LIMIT, "the reconnect", |e| matches!(e, SessionEvent::Opened { .. }));
    }
    ids.insert(client.send_text(LAST.to_string()), LAST);
    while number_of(&client.expect_message(LIMIT, "the echo of the last number")) != LAST {}
    assert_closed_by_user(&mut client);
    let logged = server.logged_numbers();
    assert!(
        logged.windows(2).all(|w| w[0] < w[1]),
        "the log is not strictly increasing: {logged:?}"
    );
    let accounting = account(&ids, client.record(), &logged);
    assert_eq!(
        accounting.received + accounting.handed_back + accounting.lost_with_connection,
        LAST as usize
    );
    format!(
        "received {}, handed back {}, lost with the killed connection {}",
        accounting.received, accounting.handed_back, accounting.lost_with_connection
    )
}

/// Where every accepted message ended up.
#[derive(Debug, Default, Clone, Copy)]
pub struct Accounting {
    /// Accepted by `send`.
    pub accepted: usize,
    /// In the server's log.
    pub received: usize,
    /// Handed back (never written).
    pub handed_back: usize,
    /// Handed back because the drop-oldest policy evicted them.
    pub dropped: usize,
    /// Written (`Sent`) to a connection that then died, and not in the log.
    pub lost_with_connection: usize,
    /// Of those, written to a connection the server closed with a close frame (a graceful
    /// stop) rather than dropped.
    pub lost_on_server_close: usize,
}

/// Checks the delivery contract and counts: every accepted id (mapped to its number in `ids`)
/// has exactly one `Sent` or `HandedBack`; a handed-back number is not in the log; a number
/// missing from the log was handed back or written to a connection other than the last one
/// (which the client closed cleanly). `logged` must already be checked for order; a number in
/// it that was never accepted also fails.
pub fn account(ids: &HashMap<MessageId, u64>, record: &Record, logged: &[u64]) -> Accounting {
    let in_log: std::collections::HashSet<u64> = logged.iter().copied().collect();
    assert_eq!(in_log.len(), logged.len(), "a number was logged twice");
    let numbers: std::collections::HashSet<u64> = ids.values().copied().collect();
    for n in logged {
        assert!(numbers.contains(n), "the server logged {n}, which was never accepted");
    }
    let mut sent: HashMap<MessageId, u32> = HashMap::new();
    for (id, conn) in &record.sent {
        assert!(ids.contains_key(id), "Sent for an unknown id {id:?}");
        assert!(sent.insert(*id, *conn).is_none(), "two Sent events for {id:?}");
    }
    let mut handed: HashMap<MessageId, HandBackReason> = HashMap::new();
    for h in &record.handed_back {
        assert!(ids.contains_key(&h.id), "HandedBack for an unknown id {:?}", h.id);
        assert!(
            handed.insert(h.id, h.reason).is_none(),
            "two HandedBack events for {:?}",
            h.id
        );
        assert_eq!(
            h.message,
            Message::text(ids[&h.id].to_string()),
            "a handed-back message changed"
        );
    }
    let last_connection = record.opened;
    let mut acc = Accounting {
        accepted: ids.len(),
        ..Accounting::default()
    };
    for (id, n) in ids {
        match (sent.get(id), handed.get(id)) {
            (Some(_), Some(_)) => panic!("{n} ({id:?}) was both sent and handed back"),
            (None, None) => panic!("{n} ({id:?}) was neither sent nor handed back: silently dropped"),
            (None, Some(reason)) => {
                assert!(!in_log.contains(n), "{n} was handed back and received too");
                acc.handed_back += 1;
                acc.dropped += usize::from(*reason == HandBackReason::Dropped);
            }
            (Some(conn), None) => {
                if in_log.contains(n) {
                    acc.received += 1;
                } else {
                    assert!(
                        *conn < last_connection,
                        "{n} was written to the last connection ({conn}), which closed cleanly, and never arrived"
                    );
                    acc.lost_with_connection += 1;
                    acc.lost_on_server_close += usize::from(record.closed_by_server.contains(conn));
                }
            }
        }
    }
    acc
}

/// Runs every interop case of `kind` on `runtime` (a reduced set over `wss://` when `tls` is
/// given) and returns the results; each case also prints its summary line.
pub fn run_matrix(kind: ServerKind, runtime: Runtime, tls: Option<&TlsFiles>) -> Vec<CaseResult> {
    let name = match tls {
        Some(_) => format!("{}-tls", kind.name()),
        None => kind.name().to_owned(),
    };
    let name = name.as_str();
    let mut results = Vec::new();
    let server = Server::start(kind, tls);
    let s = &server;
    run_case(name, runtime, "handshake", &mut results, || {
        case_handshake(s, runtime, tls)
    });
    for (size, label) in ECHO_SIZES {
        if tls.is_some() && !matches!(size, 125 | 65_536 | 0x10_0000) {
            continue;
        }
        run_case(name, runtime, &format!("echo-{label}"), &mut results, || {
            case_echo(s, runtime, tls, size)
        });
    }
    run_case(name, runtime, "ping-pong", &mut results, || {
        case_ping_pong(s, runtime, tls)
    });
    run_case(name, runtime, "close-by-client-4000", &mut results, || {
        case_client_close(s, runtime, tls)
    });
    run_case(name, runtime, "close-by-server-4001", &mut results, || {
        case_server_close(s, runtime, tls)
    });
    if tls.is_none() {
        run_case(name, runtime, "subprotocol-chat.v2", &mut results, || {
            case_subprotocol(s, runtime, tls, &["chat.v2"], Some("chat.v2"))
        });
        run_case(name, runtime, "subprotocol-fallback", &mut results, || {
            case_subprotocol(s, runtime, tls, &["chat.v3", "chat.v1"], Some("chat.v1"))
        });
        run_case(name, runtime, "subprotocol-none", &mut results, || {
            case_subprotocol(s, runtime, tls, &[], None)
        });
    }
    run_case(name, runtime, "headers", &mut results, || case_headers(s, runtime, tls));
    drop(server);
    run_case(name, runtime, "restart-graceful-count", &mut results, || {
        case_restart_graceful(kind, runtime, tls)
    });
    if tls.is_none() {
        run_case(name, runtime, "restart-kill-count", &mut results, || {
            case_restart_kill(kind, runtime, tls)
        });
    }
    if let Some(tls) = tls {
        run_case(name, runtime, "tls-untrusted-refused", &mut results, || {
            case_untrusted(kind, runtime, tls)
        });
    }
    results
}

/// A client that does not trust the test CA must not open (and, without reconnects, closes).
fn case_untrusted(kind: ServerKind, runtime: Runtime, tls: &TlsFiles) -> String {
    let server = Server::start(kind, Some(tls));
    let other_ca = TlsFiles::generate();
    let builder = matrix_builder(&server, "/echo", Some(&other_ca)).reconnect(ReconnectPolicy::disabled());
    let mut client = TestClient::open(runtime, builder);
    let event = client.expect_event(LIMIT, "the failed attempt", |e| {
        matches!(e, SessionEvent::Disconnected { .. } | SessionEvent::Opened { .. })
    });
    let SessionEvent::Disconnected { reason, .. } = event else {
        panic!("a connection opened with an untrusted certificate");
    };
    assert!(client.finish(LIMIT), "the session did not end");
    assert!(
        matches!(client.state(), SessionState::Closed(_)),
        "state {}",
        client.state()
    );
    let mut why = reason.to_string();
    why.truncate(80);
    why
}
