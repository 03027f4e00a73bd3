//! The listening side of the runtime seam: what the server needs from a runtime beyond what
//! the client's driver uses ([`Runtime`]: streams and timers). Implemented by the real
//! runtimes only (`crate::tokio`, `crate::async_io`); the simulated world has no listener.
//!
//! Spawning is not part of the trait: a [`Spawner`] value travels with the server, so the
//! `async` feature can run on the caller's executor and smol, async-std and tokio each pass
//! their own `spawn`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

#[cfg(feature = "rustls")]
use crate::async_driver::ByteStream;
use crate::async_driver::{DriverTimer, Runtime};

/// A boxed task, as a [`Spawner`] receives it.
pub(crate) type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// How the server starts a task (the accept loop, each connection, each refusal).
#[derive(Clone)]
pub(crate) struct Spawner(Arc<dyn Fn(Task) + Send + Sync>);

impl Spawner {
    /// A spawner calling `spawn` with each task; the task must be run to its end.
    pub(crate) fn new(spawn: impl Fn(Task) + Send + Sync + 'static) -> Self {
        Spawner(Arc::new(spawn))
    }

    /// Starts `task`.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        (self.0)(Box::pin(task));
    }
}

impl std::fmt::Debug for Spawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spawner")
    }
}

/// A timer of any runtime behind one type, for the parts of the server that are not generic.
pub(crate) type AnyTimer = Box<dyn DriverTimer>;

impl DriverTimer for AnyTimer {
    fn set_at(&mut self, at: std::time::Instant) {
        (**self).set_at(at);
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        (**self).poll_fired(cx)
    }
}

/// What a runtime adds for the server: a listening socket and server-side TLS.
pub(crate) trait Listen: Runtime {
    /// A bound, listening TCP socket.
    type Listener: Unpin + Send + Sync + 'static;
    /// TLS over [`Runtime::Tcp`], server side.
    #[cfg(feature = "rustls")]
    type TlsServer: ByteStream;

    /// Binds and listens on `addr` (called on the runtime: tokio needs its context).
    fn bind(&self, addr: SocketAddr) -> io::Result<Self::Listener>;
    /// The address `listener` is bound to (the port chosen for port 0).
    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr>;
    /// Accepts the next connection, with `TCP_NODELAY` set, and the peer's address.
    fn poll_accept(listener: &Self::Listener, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Tcp, SocketAddr)>>;
    /// Runs the server side of the TLS handshake on `tcp`.
    #[cfg(feature = "rustls")]
    fn tls_accept(
        &self,
        config: Arc<rustls::ServerConfig>,
        tcp: Self::Tcp,
    ) -> impl Future<Output = io::Result<Self::TlsServer>> + Send + 'static;
}
