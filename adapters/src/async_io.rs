//! The async-io runtime (feature `async`): `async-net` TCP, `futures-rustls` TLS and
//! `async-io` timers. smol and async-std run on async-io, and async-io drives its own reactor
//! thread when nobody else does, so [`Driver`] also runs on any other executor.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

use crate::ClientBuilder;
use crate::async_driver::{ByteStream, DriverTask, DriverTimer, Run, Runtime};
use crate::handle::Client;

/// The async-io runtime.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AsyncIo;

// The futures are `'static`: written out, so that they do not borrow the runtime value.
#[allow(clippy::manual_async_fn)]
impl Runtime for AsyncIo {
    type Tcp = FuturesIo<async_net::TcpStream>;
    #[cfg(feature = "rustls")]
    type Tls = FuturesIo<futures_rustls::client::TlsStream<async_net::TcpStream>>;
    type Timer = async_io::Timer;
    type Home = ();

    fn timer(&self) -> Self::Timer {
        async_io::Timer::never()
    }

    fn resolve(&self, host: String, port: u16) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static {
        async move { async_net::resolve((host.as_str(), port)).await }
    }

    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Tcp>> + Send + 'static {
        async move {
            let stream = async_net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true).ok();
            Ok(FuturesIo(stream))
        }
    }

    #[cfg(feature = "rustls")]
    fn tls_connect(
        &self,
        config: std::sync::Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
        tcp: Self::Tcp,
    ) -> impl Future<Output = io::Result<Self::Tls>> + Send + 'static {
        async move {
            let stream = futures_rustls::TlsConnector::from(config).connect(name, tcp.0).await?;
            Ok(FuturesIo(stream))
        }
    }
}

#[allow(clippy::manual_async_fn)]
impl crate::server::Listen for AsyncIo {
    type Listener = async_io::Async<std::net::TcpListener>;
    #[cfg(feature = "rustls")]
    type TlsServer = FuturesIo<futures_rustls::server::TlsStream<async_net::TcpStream>>;

    fn bind(&self, addr: SocketAddr) -> io::Result<Self::Listener> {
        async_io::Async::<std::net::TcpListener>::bind(addr)
    }

    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr> {
        listener.get_ref().local_addr()
    }

    fn poll_accept(listener: &Self::Listener, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Tcp, SocketAddr)>> {
        loop {
            match listener.get_ref().accept() {
                Ok((stream, peer)) => {
                    stream.set_nodelay(true).ok();
                    let stream = async_net::TcpStream::try_from(stream)?;
                    return Poll::Ready(Ok((FuturesIo(stream), peer)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
            // Not ready: wait for readability, then try again (a spurious wake-up loops once).
            std::task::ready!(listener.poll_readable(cx))?;
        }
    }

    #[cfg(feature = "rustls")]
    fn tls_accept(
        &self,
        config: std::sync::Arc<rustls::ServerConfig>,
        tcp: Self::Tcp,
    ) -> impl Future<Output = io::Result<Self::TlsServer>> + Send + 'static {
        async move {
            let stream = futures_rustls::TlsAcceptor::from(config).accept(tcp.0).await?;
            Ok(FuturesIo(stream))
        }
    }
}

impl DriverTimer for async_io::Timer {
    fn set_at(&mut self, at: Instant) {
        async_io::Timer::set_at(self, at);
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(self).poll(cx).map(|_| ())
    }
}

/// A `futures-io` stream as the driver's [`ByteStream`].
#[derive(Debug)]
pub(crate) struct FuturesIo<S>(S);

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> ByteStream for FuturesIo<S> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// The future that runs a client's session on async-io: spawn it once on any executor
/// (async-io drives its own reactor thread when nobody else does).
///
/// [`ClientBuilder::start_smol`](crate::ClientBuilder) and `start_async_std` spawn it for you;
/// [`ClientBuilder::build_async`] hands it out for other executors (on tokio, use
/// `start_tokio`, which runs on tokio's own IO and timers instead). It ends once the session
/// has closed for good and the last transport is closed, or when every [`Client`] handle was
/// dropped and the resulting close finished.
#[must_use = "the driver does nothing unless spawned or polled"]
pub struct Driver {
    task: DriverTask,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.task).poll(cx)
    }
}

impl ClientBuilder {
    /// Builds the client and the async-io driver future that runs it, for an executor of
    /// your choice (the `smol` and `async-std` features add `start_*` methods that spawn it).
    ///
    /// The session starts connecting when the driver is first polled; until then, messages
    /// sent through the [`Client`] wait in its queue. Fails when a setting can never work
    /// ([`validate`](ClientBuilder::validate)).
    pub fn build_async(self) -> Result<(Client, Driver), resock_core::ConfigError> {
        let (client, task) = Run::build(self, AsyncIo)?;
        Ok((client, Driver { task }))
    }
}

impl crate::ServerBuilder {
    /// Binds `addr` and starts the server on async-io, its tasks (the accept loop and every
    /// connection) started with `spawn`, which must run each to its end on any executor
    /// (`bind_smol` and `bind_async_std` pass their runtime's).
    ///
    /// Fails when a setting can never work ([`validate`](crate::ServerBuilder::validate)) or
    /// when binding fails.
    pub fn bind_async(
        self,
        addr: impl std::net::ToSocketAddrs,
        spawn: impl Fn(Pin<Box<dyn Future<Output = ()> + Send + 'static>>) + Send + Sync + 'static,
    ) -> Result<crate::Server, crate::ServerError> {
        self.bind_on(AsyncIo, crate::server::Spawner::new(spawn), addr)
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use resock_core::session::TransportErrorKind;

    use super::*;
    use crate::async_driver::connect_each;

    #[test]
    fn every_resolved_address_is_tried_in_turn() {
        // A port that refuses: bind, note the address, close the listener.
        let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        let tcp = async_io::block_on(connect_each(&AsyncIo, "h", vec![refused, good])).unwrap();
        assert_eq!(tcp.0.peer_addr().unwrap(), good);
        assert!(tcp.0.nodelay().unwrap());
        let error = async_io::block_on(connect_each(&AsyncIo, "h", vec![refused])).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Refused, "{error}");
        assert!(error.message.contains(&refused.to_string()), "{error}");
        let error = async_io::block_on(connect_each(&AsyncIo, "h", Vec::new())).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Dns, "{error}");
    }
}
