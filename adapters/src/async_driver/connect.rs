//! Opening a transport for the session, on any [`Runtime`]: DNS on every attempt, each
//! resolved address in turn, then TLS for `wss://`. The session times the whole opening; the
//! driver abandons this future (drops it) when the session gives up on it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use resock_core::WsUrl;
use resock_core::session::{TransportError, TransportErrorKind};

use super::runtime::{ByteStream, Runtime};

/// A transport being opened.
pub(crate) type Opening<S> = Pin<Box<dyn Future<Output = Result<S, TransportError>> + Send>>;

/// Opens transports on runtime `R`, with the TLS configuration built once per client.
pub(crate) struct Connector<R> {
    #[cfg(feature = "rustls")]
    tls: Option<Result<std::sync::Arc<rustls::ClientConfig>, String>>,
    runtime: R,
}

impl<R: Runtime> Connector<R> {
    /// Builds the TLS configuration once, when the URL needs it; a configuration error is
    /// reported by every attempt as a certificate error, which stops the session.
    pub(crate) fn new(builder: &crate::ClientBuilder, runtime: R) -> Self {
        #[cfg(not(feature = "rustls"))]
        let _ = builder;
        Connector {
            #[cfg(feature = "rustls")]
            tls: (builder.config.url.secure).then(|| builder.tls.client_config().map_err(|e| e.to_string())),
            runtime,
        }
    }

    /// Starts opening a transport to `url`.
    pub(crate) fn connect(&self, url: &WsUrl) -> Opening<Stream<R>> {
        let host = url.host.clone();
        let port = url.port;
        let authority = url.authority();
        let runtime = self.runtime.clone();
        if !url.secure {
            return Box::pin(async move { Ok(Stream::Plain(connect_tcp(&runtime, host, port, &authority).await?)) });
        }
        #[cfg(feature = "rustls")]
        {
            let tls = self.tls.clone();
            Box::pin(async move {
                let config = match tls {
                    Some(Ok(config)) => config,
                    Some(Err(e)) => return Err(TransportError::new(TransportErrorKind::TlsCertificate, e)),
                    None => {
                        let why = "no TLS configuration was built for this URL";
                        return Err(TransportError::new(TransportErrorKind::TlsCertificate, why));
                    }
                };
                let name = crate::tls::server_name(&host)?;
                let tcp = connect_tcp(&runtime, host.clone(), port, &authority).await?;
                let stream = runtime
                    .tls_connect(config, name, tcp)
                    .await
                    .map_err(|e| crate::tls::classify_handshake_error(&host, &e))?;
                Ok(Stream::Tls(Box::new(stream)))
            })
        }
        #[cfg(not(feature = "rustls"))]
        Box::pin(async move {
            // A build without TLS cannot serve this URL on any attempt: a fatal kind.
            Err(TransportError::new(
                TransportErrorKind::TlsCertificate,
                format!("wss://{authority} needs the rustls feature, which this build does not include"),
            ))
        })
    }
}

/// Resolves `host` (a fresh lookup per attempt) and connects to each address in turn;
/// `authority` (`host:port`) names the target in errors.
async fn connect_tcp<R: Runtime>(
    runtime: &R,
    host: String,
    port: u16,
    authority: &str,
) -> Result<R::Tcp, TransportError> {
    let addrs = runtime
        .resolve(host, port)
        .await
        .map_err(|e| crate::io_error::dns_error(authority, &e))?;
    connect_each(runtime, authority, addrs).await
}

/// Connects to the first of `addrs` (what `authority` resolved to) that answers.
pub(crate) async fn connect_each<R: Runtime>(
    runtime: &R,
    authority: &str,
    addrs: Vec<SocketAddr>,
) -> Result<R::Tcp, TransportError> {
    let mut last = None;
    for addr in addrs {
        match runtime.connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some((addr, e)),
        }
    }
    Err(match last {
        Some((addr, e)) => io_error(&e, &format!("connecting to {addr}")),
        None => TransportError::new(TransportErrorKind::Dns, format!("{authority} resolved to no address")),
    })
}

/// Maps an IO error to the kind the reconnect policy looks at, in a sentence that starts with
/// what was being done.
pub(crate) fn io_error(error: &io::Error, doing: &str) -> TransportError {
    crate::io_error::transport_error(doing, error)
}

/// A TCP stream of runtime `R`, with TLS for `wss://`.
pub(crate) enum Stream<R: Runtime> {
    Plain(R::Tcp),
    #[cfg(feature = "rustls")]
    Tls(Box<R::Tls>),
}

impl<R: Runtime> ByteStream for Stream<R> {
    /// Reads plaintext. A TLS peer that closes TCP without `close_notify` (very common) reads
    /// as EOF, as on plain TCP: the WebSocket layer decides whether that end was clean (a close
    /// frame came first) or a reset.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self {
            Stream::Plain(s) => s.poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            Stream::Tls(s) => s.poll_read(cx, buf).map(crate::tls::eof_without_close_notify),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Stream::Plain(s) => s.poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            Stream::Tls(s) => s.poll_write(cx, buf),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Plain(s) => s.poll_flush(cx),
            #[cfg(feature = "rustls")]
            Stream::Tls(s) => s.poll_flush(cx),
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Plain(s) => s.poll_close(cx),
            #[cfg(feature = "rustls")]
            Stream::Tls(s) => s.poll_close(cx),
        }
    }
}
