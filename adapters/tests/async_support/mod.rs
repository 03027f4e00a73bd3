//! What the async test files share: the runtimes a test body runs on, a bounded wait, and a
//! loopback server thread that is stopped and joined when dropped.

#![allow(dead_code)] // each test file uses what it needs

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use async_io::Timer;
use futures_lite::future;
use resock::{Client, ClientBuilder, Driver, Subscription};
use resock_core::session::{HeartbeatConfig, ReconnectPolicy};

/// The bound of every wait that should take milliseconds.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Runs a test body and the driver on one runtime.
pub trait Runtime {
    fn block_on<T>(future: impl Future<Output = T>) -> T;
    /// Spawns a driver; the future resolves when its task ends.
    fn spawn(driver: Driver) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// Spawns a driver that runs on its own.
    fn detach(driver: Driver);

    /// A client with `subscriptions` made before its driver runs, so they see every event.
    fn start_subscribed<const N: usize>(builder: ClientBuilder) -> (Client, [Subscription; N]) {
        let (client, driver) = builder.build_async().expect("a valid configuration");
        let subscriptions = std::array::from_fn(|_| client.subscribe());
        Self::detach(driver);
        (client, subscriptions)
    }
}

#[cfg(feature = "smol")]
pub struct Smol;

#[cfg(feature = "smol")]
impl Runtime for Smol {
    fn block_on<T>(future: impl Future<Output = T>) -> T {
        smol::block_on(future)
    }

    fn spawn(driver: Driver) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(smol::spawn(driver))
    }

    fn detach(driver: Driver) {
        smol::spawn(driver).detach();
    }
}

#[cfg(feature = "async-std")]
pub struct AsyncStd;

#[cfg(feature = "async-std")]
impl Runtime for AsyncStd {
    fn block_on<T>(future: impl Future<Output = T>) -> T {
        async_std::task::block_on(future)
    }

    fn spawn(driver: Driver) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async_std::task::spawn(driver))
    }

    fn detach(driver: Driver) {
        drop(async_std::task::spawn(driver));
    }
}

/// Makes a module per test function named, with a `#[test]` per async runtime of this build.
macro_rules! on_async_runtimes {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[cfg(feature = "smol")]
                #[test]
                fn smol() {
                    super::$test::<$crate::async_support::Smol>();
                }

                #[cfg(feature = "async-std")]
                #[test]
                fn async_std() {
                    super::$test::<$crate::async_support::AsyncStd>();
                }
            }
        )*
    };
}

/// `future`, or a panic naming `what` after `limit`.
pub async fn within_for<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    let timeout = async {
        Timer::after(limit).await;
        None
    };
    future::or(async { Some(future.await) }, timeout)
        .await
        .unwrap_or_else(|| panic!("timed out after {limit:?}: {what}"))
}

/// `future`, or a panic naming `what` after [`LIMIT`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    within_for(LIMIT, what, future).await
}

/// A builder for `server` with no heartbeat and no reconnect, unless a test sets them.
pub fn builder(server: &Server) -> ClientBuilder {
    ClientBuilder::new(&server.url())
        .unwrap()
        .heartbeat(HeartbeatConfig::disabled())
        .reconnect(ReconnectPolicy::disabled())
        .open_timeout(LIMIT)
}

/// A loopback server thread handling accepted connections one after another.
pub struct Server {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// Serves on 127.0.0.1; `handler` gets the connection's index and the stream.
    pub fn start(handler: impl FnMut(usize, TcpStream) + Send + 'static) -> Server {
        Server::on(TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1"), handler)
    }

    /// Serves on `listener`.
    pub fn on(listener: TcpListener, mut handler: impl FnMut(usize, TcpStream) + Send + 'static) -> Server {
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                stream.set_read_timeout(Some(LIMIT)).unwrap();
                stream.set_write_timeout(Some(LIMIT)).unwrap();
                handler(index, stream);
            }
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        TcpStream::connect_timeout(&self.addr, LIMIT).ok();
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if result.is_err() && !thread::panicking() {
                panic!("the server thread panicked");
            }
        }
    }
}

/// Accepts a WebSocket with no message size limit.
pub fn accept<S: Read + Write>(stream: S) -> tungstenite::WebSocket<S> {
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_frame_size(None)
        .max_message_size(Some(64 << 20));
    tungstenite::accept_with_config(stream, Some(config)).expect("server handshake")
}

/// Reads (answering pings, dropping data) until the connection ends.
pub fn read_until_closed<S: Read + Write>(ws: &mut tungstenite::WebSocket<S>) {
    while ws.read().is_ok() {}
}
