//! The one seam between the async driver and a runtime: how to resolve a host and connect a
//! TCP stream, how to put TLS on it, and a timer that fires at an instant. The driver, the
//! handles and the session are the same on every runtime; each runtime is a thin
//! implementation of [`Runtime`] (`crate::async_io` for smol, async-std and any executor,
//! `crate::tokio` for tokio), and spawning the driver task is a one-line `start_*` method of
//! the runtime's own module.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::clock::Clock;

/// Byte-stream IO as the driver uses it; each runtime adapts its own stream traits
/// (`futures-io` or tokio's) to this.
pub(crate) trait ByteStream: Unpin + Send + 'static {
    /// Reads into `buf`; `Ok(0)` is end of stream.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    /// Writes some of `buf`.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    /// Flushes what was written (TLS buffers records).
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Closes the write side (TLS `close_notify`, then TCP FIN).
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// A resettable timer, made unarmed by [`Runtime::timer`].
pub(crate) trait DriverTimer: Unpin + Send + 'static {
    /// Arms the timer for `at` (an instant in the past fires at once).
    fn set_at(&mut self, at: Instant);
    /// `Ready` once the armed instant has passed; `Pending` (forever) when not armed.
    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

/// What the async driver needs from a runtime. A value of it travels with the driver (the
/// real runtimes are unit structs; the simulator's holds its world).
pub(crate) trait Runtime: Clone + Unpin + Send + Sync + 'static {
    /// A connected TCP stream, with `TCP_NODELAY` set.
    type Tcp: ByteStream;
    /// TLS over [`Tcp`](Self::Tcp).
    #[cfg(feature = "rustls")]
    type Tls: ByteStream;
    /// The timer of the driver and of closing transports.
    type Timer: DriverTimer;
    /// Which runtime instance a thread is in (see [`home`](Self::home)).
    type Home: Copy + Eq + Send + 'static;

    /// The runtime the calling thread is in, for a runtime whose IO and timers a `recv` may
    /// poll on its own task when it is in the driver task's runtime; `None` (the default, and
    /// always for runtimes that do not allow it) keeps every poll of the loop on its task.
    fn home(&self) -> Option<Self::Home> {
        None
    }

    /// Where the driver and the handles read the time (the system clock by default).
    fn clock(&self) -> Clock {
        Clock::System
    }

    /// The seed of the session's CSPRNG (mask keys, jitter): from the OS by default.
    fn seed(&self) -> [u8; 32] {
        crate::os_seed()
    }

    /// Whether the client may read curl's proxy variables from the process environment (not
    /// in a simulated world, whose runs must not depend on it).
    fn proxy_environment(&self) -> bool {
        true
    }

    /// A timer that is not armed (never fires until [`DriverTimer::set_at`]).
    fn timer(&self) -> Self::Timer;

    /// Resolves `host` (fresh on every call: DNS may change between attempts).
    fn resolve(&self, host: String, port: u16) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static;
    /// Connects to one address.
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Tcp>> + Send + 'static;
    /// Runs the TLS handshake on `tcp` as a client of `name`.
    #[cfg(feature = "rustls")]
    fn tls_connect(
        &self,
        config: std::sync::Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
        tcp: Self::Tcp,
    ) -> impl Future<Output = io::Result<Self::Tls>> + Send + 'static;
}
