//! Runs the async driver natively on tokio (feature `tokio`): tokio's own TCP and timers, and
//! rustls through `tokio-rustls`; no other reactor or thread is started. The [`Client`] handle
//! is the same one smol and async-std programs use.
//!
//! Call [`ClientBuilder::start_tokio`] from inside a tokio runtime with IO and time enabled
//! (`#[tokio::main]` and `Runtime::enter` do, as does `Builder::new_current_thread().enable_all()`).
//! It works on the current-thread and the multi-thread runtime alike.
//!
//! ```no_run
//! use resock::ClientBuilder;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let client = ClientBuilder::new("ws://127.0.0.1:9001")?.start_tokio()?;
//!     client.send_text("hello").await?;
//!     if let Ok(message) = client.recv().await {
//!         println!("{message:?}");
//!     }
//!     client.close(resock::CloseCode::NORMAL, "bye").await;
//!     Ok(())
//! }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use resock_core::ConfigError;

use crate::async_driver::{ByteStream, DriverTask, DriverTimer, Run, Runtime};
use crate::{Client, ClientBuilder};

impl ClientBuilder {
    /// Starts the client on the tokio runtime this is called from: the driver task is
    /// spawned with that runtime's `spawn` and starts connecting at once. The returned handle
    /// works from any task or thread.
    ///
    /// Fails, before anything connects, when a setting can never work
    /// ([`validate`](ClientBuilder::validate)), or when called outside a tokio runtime (the
    /// error names the setting `runtime`).
    pub fn start_tokio(self) -> Result<Client, ConfigError> {
        let handle = ::tokio::runtime::Handle::try_current().map_err(|_| {
            ConfigError::new(
                "runtime",
                "start_tokio needs a tokio runtime: call it inside #[tokio::main], a tokio task, or Runtime::enter",
            )
        })?;
        let (client, driver) = self.build_tokio()?;
        drop(handle.spawn(driver));
        Ok(client)
    }

    /// Builds the client and the tokio [`Driver`] future that runs it, to spawn yourself (on a
    /// `LocalSet`, a chosen runtime handle, or with a `JoinHandle` to await its end). It must be
    /// polled inside a tokio runtime with IO and time enabled.
    ///
    /// The session starts connecting when the driver is first polled; until then, messages
    /// sent through the [`Client`] wait in its queue. Fails when a setting can never work
    /// ([`validate`](ClientBuilder::validate)).
    pub fn build_tokio(self) -> Result<(Client, Driver), ConfigError> {
        let (client, task) = Run::build(self, Tokio)?;
        Ok((client, Driver { task }))
    }
}

impl crate::ServerBuilder {
    /// Binds `addr` and starts the server on the tokio runtime this is called from: the
    /// accept loop and every connection run as tasks of that runtime's `spawn`.
    ///
    /// Fails when a setting can never work ([`validate`](crate::ServerBuilder::validate)),
    /// when binding fails, or outside a tokio runtime.
    pub fn bind_tokio(self, addr: impl std::net::ToSocketAddrs) -> Result<crate::Server, crate::ServerError> {
        let handle = ::tokio::runtime::Handle::try_current().map_err(|_| {
            crate::ServerError::Runtime(
                "bind_tokio needs a tokio runtime: call it inside #[tokio::main], a tokio task, or Runtime::enter",
            )
        })?;
        let _entered = handle.enter();
        let spawner = crate::server::Spawner::new(move |task: crate::server::Task| drop(handle.spawn(task)));
        self.bind_on(Tokio, spawner, addr)
    }
}

/// The future that runs a client's session on tokio (from [`ClientBuilder::build_tokio`]).
///
/// It ends once the session has closed for good and the last transport is closed, or when
/// every [`Client`] handle was dropped and the resulting close finished.
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

/// The tokio runtime.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tokio;

// The futures are `'static`: written out, so that they do not borrow the runtime value.
#[allow(clippy::manual_async_fn)]
impl Runtime for Tokio {
    type Tcp = TokioIo<::tokio::net::TcpStream>;
    #[cfg(feature = "rustls")]
    type Tls = TokioIo<tokio_rustls::client::TlsStream<::tokio::net::TcpStream>>;
    type Timer = TokioTimer;
    type Home = ::tokio::runtime::Id;

    /// tokio's IO and timers may be polled from any task of the runtime they belong to.
    fn home(&self) -> Option<Self::Home> {
        ::tokio::runtime::Handle::try_current().ok().map(|handle| handle.id())
    }

    fn timer(&self) -> Self::Timer {
        TokioTimer(None)
    }

    fn resolve(&self, host: String, port: u16) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static {
        async move { Ok(::tokio::net::lookup_host((host.as_str(), port)).await?.collect()) }
    }

    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Tcp>> + Send + 'static {
        async move {
            let stream = ::tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true).ok();
            Ok(TokioIo(stream))
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
            let stream = tokio_rustls::TlsConnector::from(config).connect(name, tcp.0).await?;
            Ok(TokioIo(stream))
        }
    }
}

#[allow(clippy::manual_async_fn)]
impl crate::server::Listen for Tokio {
    type Listener = ::tokio::net::TcpListener;
    #[cfg(feature = "rustls")]
    type TlsServer = TokioIo<tokio_rustls::server::TlsStream<::tokio::net::TcpStream>>;

    fn bind(&self, addr: SocketAddr) -> io::Result<Self::Listener> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        ::tokio::net::TcpListener::from_std(listener)
    }

    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    fn poll_accept(listener: &Self::Listener, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Tcp, SocketAddr)>> {
        listener.poll_accept(cx).map_ok(|(stream, peer)| {
            stream.set_nodelay(true).ok();
            (TokioIo(stream), peer)
        })
    }

    #[cfg(feature = "rustls")]
    fn tls_accept(
        &self,
        config: std::sync::Arc<rustls::ServerConfig>,
        tcp: Self::Tcp,
    ) -> impl Future<Output = io::Result<Self::TlsServer>> + Send + 'static {
        async move {
            let stream = tokio_rustls::TlsAcceptor::from(config).accept(tcp.0).await?;
            Ok(TokioIo(stream))
        }
    }
}

/// A tokio `Sleep`, allocated the first time it is armed and reset in place afterwards.
pub(crate) struct TokioTimer(Option<Pin<Box<::tokio::time::Sleep>>>);

impl DriverTimer for TokioTimer {
    fn set_at(&mut self, at: Instant) {
        // tokio clamps a deadline beyond its wheel's range (about two years) to that range.
        let at = ::tokio::time::Instant::from_std(at);
        match &mut self.0 {
            Some(sleep) => sleep.as_mut().reset(at),
            None => self.0 = Some(Box::pin(::tokio::time::sleep_until(at))),
        }
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

/// A tokio stream as the driver's [`ByteStream`].
#[derive(Debug)]
pub(crate) struct TokioIo<S>(S);

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> ByteStream for TokioIo<S> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        Pin::new(&mut self.0)
            .poll_read(cx, &mut buf)
            .map_ok(|()| buf.filled().len())
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::Duration;

    use resock_core::session::TransportErrorKind;

    use super::*;
    use crate::async_driver::connect_each;

    fn runtime() -> ::tokio::runtime::Runtime {
        ::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// tokio's IO and timers belong to their runtime: `recv` polls the loop only on a thread
    /// inside the runtime the driver task runs on, and not before the task has run.
    #[test]
    fn recv_may_drive_the_loop_only_inside_the_runtime_of_its_task() {
        let (home, other) = (runtime(), runtime());
        let (_client, mut driver) = ClientBuilder::new("ws://127.0.0.1:9/").unwrap().build_tokio().unwrap();
        let inside = |runtime: &::tokio::runtime::Runtime, driver: &Driver| {
            let _entered = runtime.enter();
            driver.task.slot().recv_may_drive_here()
        };
        assert!(!inside(&home, &driver), "before the task has run");
        home.block_on(std::future::poll_fn(|cx| {
            let _ = Pin::new(&mut driver).poll(cx);
            Poll::Ready(())
        }));
        assert!(inside(&home, &driver));
        assert!(!inside(&other, &driver), "another runtime");
        assert!(!driver.task.slot().recv_may_drive_here(), "no runtime");
    }

    #[test]
    fn every_resolved_address_is_tried_in_turn() {
        let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        let rt = runtime();
        let tcp = rt.block_on(connect_each(&Tokio, "h", vec![refused, good])).unwrap();
        assert_eq!(tcp.0.peer_addr().unwrap(), good);
        assert!(tcp.0.nodelay().unwrap());
        let error = rt.block_on(connect_each(&Tokio, "h", vec![refused])).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Refused, "{error}");
        assert!(error.message.contains(&refused.to_string()), "{error}");
        let error = rt.block_on(connect_each(&Tokio, "h", Vec::new())).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Dns, "{error}");
    }

    #[test]
    fn the_timer_fires_at_its_instant_never_unarmed_and_accepts_any_instant() {
        let rt = runtime();
        rt.block_on(async {
            let mut timer = Tokio.timer();
            let unarmed = std::future::poll_fn(|cx| Poll::Ready(timer.poll_fired(cx))).await;
            assert!(unarmed.is_pending(), "an unarmed timer never fires");
            // A deadline centuries away (what a `Duration::MAX`-like setting saturates to).
            timer.set_at(Instant::now() + Duration::from_secs(1 << 40));
            let far = std::future::poll_fn(|cx| Poll::Ready(timer.poll_fired(cx))).await;
            assert!(far.is_pending());
            let start = Instant::now();
            timer.set_at(start + Duration::from_millis(20));
            std::future::poll_fn(|cx| timer.poll_fired(cx)).await;
            assert!(start.elapsed() >= Duration::from_millis(20));
            timer.set_at(start);
            std::future::poll_fn(|cx| timer.poll_fired(cx)).await; // a past instant: at once
        });
    }

    #[test]
    fn starting_outside_a_runtime_is_a_typed_error_naming_it() {
        let error = ClientBuilder::new("ws://127.0.0.1:9/")
            .unwrap()
            .start_tokio()
            .unwrap_err();
        assert_eq!(error.setting, "runtime");
        let rt = runtime();
        let _guard = rt.enter();
        let client = ClientBuilder::new("ws://127.0.0.1:9/").unwrap().start_tokio();
        assert!(client.is_ok());
    }
}
