//! What the server test files share: the runtimes a server runs on ([`Rt`]: tokio's
//! multi-thread runtime, smol, async-std), an echo loop, and loopback clients (tungstenite,
//! or a raw `std::net::TcpStream` for what tungstenite will not send).
//!
//! The server's tasks run on the runtime's own threads, so a test body is plain blocking code
//! with bounded socket timeouts; it enters the runtime only to await a server handle.

#![allow(dead_code)] // each test file uses what it needs

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use resock::{Server, ServerBuilder};

/// The bound of every wait that should take milliseconds.
pub const LIMIT: Duration = Duration::from_secs(5);

/// A runtime a server runs on.
pub trait Rt: Sized + Send + Sync + 'static {
    /// A runtime for one test.
    fn new() -> Self;
    /// Binds `builder` on 127.0.0.1, port chosen by the system.
    fn bind(&self, builder: ServerBuilder) -> Server {
        self.bind_at(builder, "127.0.0.1:0")
    }
    /// Binds `builder` on `addr`.
    fn bind_at(&self, builder: ServerBuilder, addr: &str) -> Server {
        self.try_bind_at(builder, addr).expect("bind")
    }
    /// Binds `builder` on `addr` with the runtime's own `bind_*` method.
    fn try_bind_at(&self, builder: ServerBuilder, addr: &str) -> Result<Server, resock::ServerError>;
    /// Runs `future` to its end on the test's thread, inside the runtime.
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T;
    /// Runs `future` as a task of the runtime.
    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static);
    /// Starts a resock client on this runtime.
    fn client(&self, builder: resock::ClientBuilder) -> resock::Client;
}

/// tokio's multi-thread runtime, two workers.
#[cfg(feature = "tokio")]
pub struct Tokio(tokio::runtime::Runtime);

#[cfg(feature = "tokio")]
impl Rt for Tokio {
    fn new() -> Self {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime"),
        )
    }

    fn try_bind_at(&self, builder: ServerBuilder, addr: &str) -> Result<Server, resock::ServerError> {
        let _entered = self.0.enter();
        builder.bind_tokio(addr)
    }

    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        self.0.block_on(future)
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        drop(self.0.spawn(future));
    }

    fn client(&self, builder: resock::ClientBuilder) -> resock::Client {
        let _entered = self.0.enter();
        builder.start_tokio().expect("a valid client")
    }
}

/// smol's global executor.
#[cfg(feature = "smol")]
pub struct Smol;

#[cfg(feature = "smol")]
impl Rt for Smol {
    fn new() -> Self {
        Smol
    }

    fn try_bind_at(&self, builder: ServerBuilder, addr: &str) -> Result<Server, resock::ServerError> {
        builder.bind_smol(addr)
    }

    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        smol::block_on(future)
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(future).detach();
    }

    fn client(&self, builder: resock::ClientBuilder) -> resock::Client {
        builder.start_smol().expect("a valid client")
    }
}

/// async-std's executor.
#[cfg(feature = "async-std")]
pub struct AsyncStd;

#[cfg(feature = "async-std")]
impl Rt for AsyncStd {
    fn new() -> Self {
        AsyncStd
    }

    fn try_bind_at(&self, builder: ServerBuilder, addr: &str) -> Result<Server, resock::ServerError> {
        builder.bind_async_std(addr)
    }

    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        async_std::task::block_on(future)
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        drop(async_std::task::spawn(future));
    }

    fn client(&self, builder: resock::ClientBuilder) -> resock::Client {
        builder.start_async_std().expect("a valid client")
    }
}

/// Makes a module per test body named, with a `#[test]` per server runtime of this build.
macro_rules! on_server_runtimes {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[cfg(feature = "tokio")]
                #[test]
                fn tokio() {
                    super::$test::<$crate::server_support::Tokio>();
                }

                #[cfg(feature = "smol")]
                #[test]
                fn smol() {
                    super::$test::<$crate::server_support::Smol>();
                }

                #[cfg(feature = "async-std")]
                #[test]
                fn async_std() {
                    super::$test::<$crate::server_support::AsyncStd>();
                }
            }
        )*
    };
}

/// Starts the server's accept loop as a task: every accepted connection echoes each message
/// back until it ends.
pub fn serve_echo<R: Rt>(rt: &Arc<R>, server: Arc<Server>) {
    let spawner = Arc::clone(rt);
    rt.spawn(async move {
        while let Some(peer) = server.accept().await {
            spawner.spawn(async move {
                while let Some(message) = peer.recv().await {
                    let _ = peer.send(message);
                }
            });
        }
    });
}

/// A tungstenite client socket.
pub type Client = tungstenite::WebSocket<TcpStream>;

/// A loopback TCP connection with read and write timeouts of [`LIMIT`].
pub fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// A tungstenite client of `path`, offering `protocols`.
pub fn connect(addr: SocketAddr, path: &str, protocols: &[&str]) -> Result<(Client, String), tungstenite::Error> {
    use tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    if !protocols.is_empty() {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocols.join(", ").parse().unwrap());
    }
    let (ws, response) = tungstenite::client(request, tcp(addr)).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => panic!("a blocking handshake was interrupted"),
    })?;
    let protocol = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Ok((ws, protocol))
}

/// A valid opening request for `/`, as bytes.
pub fn upgrade_request(addr: SocketAddr) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Writes `request` on a fresh connection and reads the answer's head (and whatever came with
/// it) until the head is complete or the server closes.
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> (TcpStream, String) {
    let mut stream = tcp(addr);
    stream.write_all(request).unwrap();
    let head = read_head(&mut stream);
    (stream, head)
}

/// Reads until the end of an HTTP head (`\r\n\r\n`) or the end of the stream.
pub fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => head.push(byte[0]),
            Err(e) => panic!("reading the answer: {e} (so far {:?})", String::from_utf8_lossy(&head)),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads messages until a close frame; returns its code and the number of data messages seen.
pub fn read_until_close(ws: &mut Client) -> (Option<u16>, usize) {
    let mut messages = 0;
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(frame)) => {
                // tungstenite queued the close reply: send it now.
                let _ = ws.flush();
                return (frame.map(|f| u16::from(f.code)), messages);
            }
            Ok(tungstenite::Message::Text(_) | tungstenite::Message::Binary(_)) => messages += 1,
            Ok(_) => {}
            Err(e) => panic!("reading until the close frame: {e}"),
        }
    }
}

/// Waits (polling, bounded by [`LIMIT`]) until `condition` holds.
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !condition() {
        assert!(start.elapsed() < LIMIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
