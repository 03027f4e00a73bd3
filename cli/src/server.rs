//! A small multi-client WebSocket server on threads, built on the server role of resock-core's
//! sans-IO `Connection`: one reader thread per client, echo or broadcast, and a stop that
//! closes every client with a close code and releases the port (so it can be bound again).
//!
//! Each client's connection sits behind a mutex that is never held across a blocking read:
//! the reader thread locks it to feed bytes in and drain events; other threads lock it to
//! send (broadcast) or close (stop).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use resock::core::connection::{Connection, Event, Input};
use resock::{CloseCode, Config, Message};

/// How long one socket write may block before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Server::stop`] waits for clients to answer the close before cutting them off.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// What the server does with each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Send it back to its sender.
    Echo,
    /// Send it to every connected client, the sender included.
    Broadcast,
}

/// Builds the message greeting the client with this id, right after its handshake.
pub type Greeting = Arc<dyn Fn(u64) -> Message + Send + Sync>;

/// Receives every [`ServerEvent`], on the thread where it happened.
pub type Observer = Arc<dyn Fn(ServerEvent) + Send + Sync>;

/// How a server behaves.
#[derive(Clone)]
pub struct ServerOptions {
    pub mode: Mode,
    /// Limits of each connection.
    pub config: Config,
    /// Sent to each client once it is connected.
    pub greeting: Option<Greeting>,
}

/// Something that happened on the server.
#[derive(Debug)]
pub enum ServerEvent {
    /// A client completed the handshake.
    Connected {
        id: u64,
        peer: SocketAddr,
        path: String,
        subprotocol: Option<String>,
        /// The agreed extensions as a `Sec-WebSocket-Extensions` value (empty: none).
        extensions: String,
        headers: Vec<(String, String)>,
    },
    /// A client sent a message.
    Message { id: u64, message: Message },
    /// A client's connection ended (`opened` false: the handshake never completed).
    Disconnected {
        id: u64,
        opened: bool,
        code: CloseCode,
        reason: String,
        error: Option<String>,
    },
}

/// A running server; [`stop`](Self::stop) it to release the port.
pub struct Server {
    addr: SocketAddr,
    inner: Arc<Inner>,
    acceptor: Option<JoinHandle<()>>,
}

struct Inner {
    options: ServerOptions,
    observer: Observer,
    stopping: AtomicBool,
    next_id: AtomicU64,
    clients: Mutex<HashMap<u64, Arc<Client>>>,
    /// Signalled whenever a client leaves `clients`.
    left: Condvar,
}

/// One client: the protocol state and the write half of its socket.
struct Client {
    state: Mutex<ClientState>,
}

struct ClientState {
    conn: Connection,
    writer: TcpStream,
    out: Vec<u8>,
    broken: bool,
}

impl Server {
    /// Binds `addr` and starts accepting clients on a thread of its own.
    pub fn start(addr: SocketAddr, options: ServerOptions, observer: Observer) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            options,
            observer,
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            clients: Mutex::new(HashMap::new()),
            left: Condvar::new(),
        });
        let acceptor = {
            let inner = Arc::clone(&inner);
            thread::Builder::new()
                .name("resock-accept".into())
                .spawn(move || accept_loop(&inner, &listener))?
        };
        Ok(Server {
            addr,
            inner,
            acceptor: Some(acceptor),
        })
    }

    /// The address the server listens on (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the accept thread ends (it ends only when the server is stopped).
    pub fn wait(mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }

    /// Stops accepting, closes every client with `code` and `reason`, waits a little for their
    /// answers, cuts off the rest, and releases the port. Returns how many clients were closed.
    pub fn stop(mut self, code: CloseCode, reason: &str) -> usize {
        self.shutdown(code, reason)
    }

    fn shutdown(&mut self, code: CloseCode, reason: &str) -> usize {
        let Some(acceptor) = self.acceptor.take() else {
            return 0;
        };
        self.inner.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own; it sees `stopping` and ends.
        let _ = TcpStream::connect_timeout(&wake_addr(self.addr), Duration::from_secs(1));
        let _ = acceptor.join();

        let clients: Vec<_> = self.inner.lock_clients().values().cloned().collect();
        for client in &clients {
            let mut state = client.lock();
            if state.conn.is_open() {
                let _ = state.conn.close(Instant::now(), code, reason);
            } else {
                // Still in the handshake: abandon it.
                let _ = state.conn.close(Instant::now(), CloseCode::GOING_AWAY, "");
                state.cut_off();
            }
            state.flush();
        }
        if !self.inner.wait_empty(STOP_GRACE) {
            for client in self.inner.lock_clients().values() {
                client.lock().cut_off();
            }
            self.inner.wait_empty(STOP_GRACE);
        }
        clients.len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown(CloseCode::GOING_AWAY, "server shutting down");
    }
}

/// Where to connect to reach a listener on `addr` (an unspecified address means loopback).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

impl Inner {
    fn lock_clients(&self) -> MutexGuard<'_, HashMap<u64, Arc<Client>>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until no client is left, at most `timeout`; true when none is.
    fn wait_empty(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut clients = self.lock_clients();
        while !clients.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            clients = match self.left.wait_timeout(clients, left) {
                Ok((guard, _)) => guard,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }

    /// Sends `message` to every open client.
    fn broadcast(&self, message: &Message) {
        let clients: Vec<_> = self.lock_clients().values().cloned().collect();
        for client in clients {
            client.send(message);
        }
    }
}

impl Client {
    fn lock(&self) -> MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, message: &Message) {
        let mut state = self.lock();
        if state.conn.is_open() && state.conn.send(message).is_ok() {
            state.flush();
        }
    }
}

impl ClientState {
    /// Writes everything the connection has queued; a failed write breaks the transport.
    fn flush(&mut self) {
        while self.conn.poll_transmit(&mut self.out).is_some() {
            if !self.broken {
                if let Err(e) = self.writer.write_all(&self.out) {
                    self.broken = true;
                    let why = format!("writing to the client: {}", e.kind());
                    self.conn.handle_input(Instant::now(), Input::TransportError(&why));
                    // Wake the reader, which then sees the connection's end.
                    let _ = self.writer.shutdown(Shutdown::Both);
                }
            }
            self.out.clear();
        }
    }

    /// Shuts the socket down; the reader wakes and ends the connection.
    fn cut_off(&mut self) {
        let _ = self.writer.shutdown(Shutdown::Both);
    }

    /// The events ready now, with the bytes they caused written out.
    fn drain(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.conn.poll_event() {
            let last = matches!(event, Event::Closed(_));
            events.push(event);
            if last {
                break;
            }
        }
        self.flush();
        events
    }
}

fn accept_loop(inner: &Arc<Inner>, listener: &TcpListener) {
    loop {
        let accepted = listener.accept();
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, peer)) => {
                let inner_for_client = Arc::clone(inner);
                let spawned = thread::Builder::new()
                    .name("resock-client".into())
                    .spawn(move || serve_client(&inner_for_client, stream, peer));
                if spawned.is_err() {
                    // Out of threads: the stream was dropped with the closure; keep accepting.
                    thread::sleep(Duration::from_millis(50));
                }
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn serve_client(inner: &Arc<Inner>, stream: TcpStream, peer: SocketAddr) {
    let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let _ = writer.set_write_timeout(Some(WRITE_TIMEOUT));
    let conn = Connection::server(inner.options.config.clone(), resock::os_seed(), Instant::now());
    let client = Arc::new(Client {
        state: Mutex::new(ClientState {
            conn,
            writer,
            out: Vec::new(),
            broken: false,
        }),
    });
    inner.lock_clients().insert(id, Arc::clone(&client));
    let mut reader = stream;
    let mut opened = false;
    // The request accepted, until the connection's `Opened` says what was agreed.
    let mut requested = None;
    let mut buf = vec![0u8; 16 * 1024];
    let mut read_timeout = None;
    loop {
        let events = client.lock().drain();
        let progressed = !events.is_empty();
        for event in events {
            match event {
                Event::Request(request) => {
                    let subprotocol = request.subprotocols.first().cloned();
                    let mut state = client.lock();
                    state.conn.accept(Instant::now(), &request, subprotocol.as_deref(), &[]);
                    state.flush();
                    requested = Some(request);
                }
                Event::Opened(accepted) => {
                    opened = true;
                    let Some(request) = requested.take() else { continue };
                    (inner.observer)(ServerEvent::Connected {
                        id,
                        peer,
                        path: request.path,
                        subprotocol: accepted.subprotocol.clone(),
                        extensions: accepted.extensions(),
                        headers: request.headers,
                    });
                    if let Some(greeting) = &inner.options.greeting {
                        client.send(&greeting(id));
                    }
                }
                Event::Message(message) => {
                    match inner.options.mode {
                        Mode::Echo => client.send(&message),
                        Mode::Broadcast => inner.broadcast(&message),
                    }
                    (inner.observer)(ServerEvent::Message { id, message });
                }
                Event::Closed(info) => {
                    client.lock().cut_off();
                    inner.lock_clients().remove(&id);
                    inner.left.notify_all();
                    (inner.observer)(ServerEvent::Disconnected {
                        id,
                        opened,
                        code: info.code,
                        reason: info.reason,
                        error: info.error.map(|e| e.to_string()),
                    });
                    return;
                }
                _ => {}
            }
        }
        if progressed {
            continue;
        }
        read_once(&client, &mut reader, &mut buf, &mut read_timeout);
    }
}

/// One blocking read, bounded by the connection's next deadline; its outcome goes into the
/// connection.
fn read_once(client: &Client, reader: &mut TcpStream, buf: &mut [u8], current: &mut Option<Option<Duration>>) {
    let now = Instant::now();
    let deadline = client.lock().conn.poll_timeout();
    let timeout = match deadline {
        Some(at) if at <= now => {
            client.lock().conn.handle_timeout(now);
            return;
        }
        Some(at) => Some((at - now).max(Duration::from_millis(1))),
        None => None,
    };
    if *current != Some(timeout) {
        if reader.set_read_timeout(timeout).is_err() {
            client
                .lock()
                .conn
                .handle_input(now, Input::TransportError("could not set the read timeout"));
            return;
        }
        *current = Some(timeout);
    }
    let result = reader.read(buf);
    let mut state = client.lock();
    let now = Instant::now();
    match result {
        Ok(0) => state.conn.handle_input(now, Input::Eof),
        Ok(n) => state.conn.handle_input(now, Input::Data(&buf[..n])),
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            state.conn.handle_timeout(now);
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
        Err(e) => {
            let why = format!("reading from the client: {}", e.kind());
            state.conn.handle_input(now, Input::TransportError(&why));
        }
    }
}
