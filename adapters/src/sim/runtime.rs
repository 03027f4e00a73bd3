//! The `sim` runtime on the driver's seam: connecting opens an in-memory connection to the
//! world's simulated server, streams read and write through the world's network, and timers
//! wait on the world's virtual clock.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use resock_core::session::TransportId;

use super::sockets::{Op, Phase, Sockets, failure};
use crate::async_driver::{ByteStream, DriverTimer, Runtime};
use crate::clock::Clock;

/// The runtime of one client in a simulated world.
#[derive(Clone, Debug)]
pub(crate) struct SimRuntime {
    pub(crate) sockets: Arc<Sockets>,
    /// The client's own seed, derived from the world's.
    pub(crate) seed: [u8; 32],
}

impl Runtime for SimRuntime {
    type Tcp = SimStream;
    #[cfg(feature = "rustls")]
    type Tls = SimStream;
    type Timer = SimTimer;
    type Home = ();

    fn clock(&self) -> Clock {
        Clock::Virtual(Arc::clone(&self.sockets.time))
    }

    fn seed(&self) -> [u8; 32] {
        self.seed
    }

    fn timer(&self) -> SimTimer {
        SimTimer {
            sockets: Arc::clone(&self.sockets),
            at: None,
            registered: None,
        }
    }

    /// Every name resolves to one address of the documentation range: the world has one
    /// server, whatever the URL names.
    fn proxy_environment(&self) -> bool {
        false
    }

    fn resolve(&self, _host: String, port: u16) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static {
        std::future::ready(Ok(vec![SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), port))]))
    }

    fn connect(&self, _addr: SocketAddr) -> impl Future<Output = io::Result<SimStream>> + Send + 'static {
        Connecting {
            sockets: Arc::clone(&self.sockets),
            id: None,
        }
    }

    /// The simulated server speaks plain WebSocket on `wss://` URLs too: the application's
    /// configuration runs unchanged, and a certificate failure is scripted with
    /// [`Link::refusal`](resock_core::sim::Link::refusal).
    #[cfg(feature = "rustls")]
    fn tls_connect(
        &self,
        _config: Arc<rustls::ClientConfig>,
        _name: rustls::pki_types::ServerName<'static>,
        tcp: SimStream,
    ) -> impl Future<Output = io::Result<SimStream>> + Send + 'static {
        std::future::ready(Ok(tcp))
    }
}

/// A connect in progress; dropping it (the session gave up) closes the connection.
struct Connecting {
    sockets: Arc<Sockets>,
    id: Option<TransportId>,
}

impl Future for Connecting {
    type Output = io::Result<SimStream>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let sockets = Arc::clone(&self.sockets);
        let mut table = sockets.lock();
        let id = *self.id.get_or_insert_with(|| table.open());
        let Some(endpoint) = table.endpoints.get_mut(&id) else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        match endpoint.phase {
            Phase::Connecting => {
                endpoint.waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Phase::Failed(kind) => {
                table.endpoints.remove(&id);
                self.id = None;
                Poll::Ready(Err(failure(kind)))
            }
            // Open, or already closed by the server: the stream reads what there is.
            _ => {
                self.id = None;
                drop(table);
                Poll::Ready(Ok(SimStream { sockets, id }))
            }
        }
    }
}

impl Drop for Connecting {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let mut table = self.sockets.lock();
            table.endpoints.remove(&id);
            table.ops.push(Op::Finish(id));
        }
    }
}

/// The client's side of a simulated connection.
#[derive(Debug)]
pub(crate) struct SimStream {
    sockets: Arc<Sockets>,
    id: TransportId,
}

impl ByteStream for SimStream {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut table = self.sockets.lock();
        let Some(endpoint) = table.endpoints.get_mut(&self.id) else {
            return Poll::Ready(Ok(0));
        };
        if !endpoint.inbound.is_empty() {
            let n = buf.len().min(endpoint.inbound.len());
            for (slot, byte) in buf.iter_mut().zip(endpoint.inbound.drain(..n)) {
                *slot = byte;
            }
            return Poll::Ready(Ok(n));
        }
        match endpoint.phase {
            Phase::Failed(kind) => Poll::Ready(Err(failure(kind))),
            Phase::Eof | Phase::Gone => Poll::Ready(Ok(0)),
            Phase::Connecting | Phase::Open => {
                endpoint.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn poll_write(&mut self, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut table = self.sockets.lock();
        match table.endpoints.get(&self.id).map(|e| (e.phase, e.finished)) {
            Some((Phase::Failed(kind), _)) => Poll::Ready(Err(failure(kind))),
            Some((_, false)) => {
                table.ops.push(Op::Write(self.id, buf.to_vec()));
                Poll::Ready(Ok(buf.len()))
            }
            _ => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut table = self.sockets.lock();
        if let Some(endpoint) = table.endpoints.get_mut(&self.id) {
            if !endpoint.finished {
                endpoint.finished = true;
                table.ops.push(Op::Finish(self.id));
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for SimStream {
    /// Dropping the stream closes it (FIN) if it was not closed yet.
    fn drop(&mut self) {
        let mut table = self.sockets.lock();
        if let Some(endpoint) = table.endpoints.remove(&self.id) {
            if !endpoint.finished {
                table.ops.push(Op::Finish(self.id));
            }
        }
    }
}

/// A timer on the world's virtual clock.
#[derive(Debug)]
pub(crate) struct SimTimer {
    sockets: Arc<Sockets>,
    at: Option<Instant>,
    /// The key under which the timer's waker is registered with the world.
    registered: Option<(Instant, u64)>,
}

impl SimTimer {
    fn unregister(&mut self) {
        if let Some(key) = self.registered.take() {
            self.sockets.lock().timers.remove(&key);
        }
    }
}

impl DriverTimer for SimTimer {
    fn set_at(&mut self, at: Instant) {
        self.unregister();
        self.at = Some(at);
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(at) = self.at else {
            return Poll::Pending;
        };
        if at <= self.sockets.time.now() {
            self.unregister();
            return Poll::Ready(());
        }
        self.unregister();
        let mut table = self.sockets.lock();
        let key = (at, table.timer_key());
        table.timers.insert(key, cx.waker().clone());
        self.registered = Some(key);
        Poll::Pending
    }
}

impl Drop for SimTimer {
    fn drop(&mut self) {
        self.unregister();
    }
}
