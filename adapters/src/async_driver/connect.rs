//! Opening a transport for the session, on any [`Runtime`]: DNS on every attempt, each
//! resolved address in turn, then TLS for `wss://`. The session times the whole opening; the
//! driver abandons this future (drops it) when the session gives up on it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use resock_core::WsUrl;
#[cfg(feature = "rustls")]
use resock_core::proxy::ProxyScheme;
use resock_core::proxy::{ProxyHandshake, ProxyUrl};
use resock_core::session::{TransportError, TransportErrorKind};

use super::runtime::{ByteStream, Runtime};
#[cfg(feature = "rustls")]
use super::tls_over::TlsOver;
use crate::proxy::{self, ProxyPlan};

/// A transport being opened.
pub(crate) type Opening<S> = Pin<Box<dyn Future<Output = Result<S, TransportError>> + Send>>;

/// Opens transports on runtime `R`, with the TLS configuration built once per client and the
/// proxy decision read once (the environment when the client starts).
pub(crate) struct Connector<R> {
    proxy: ProxyPlan,
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
        let proxy = ProxyPlan::new(&builder.proxy, runtime.proxy_environment());
        Connector {
            #[cfg(feature = "rustls")]
            tls: (builder.config.url.secure || proxy.may_use_tls())
                .then(|| builder.tls.client_config().map_err(|e| e.to_string())),
            proxy,
            runtime,
        }
    }

    /// Starts opening a transport to `url`: TCP to the server or to its proxy (and TLS to an
    /// `https://` proxy), the proxy handshake, then TLS to the server for `wss://`.
    pub(crate) fn connect(&self, url: &WsUrl) -> Opening<Stream<R>> {
        let proxy = match self.proxy.for_url(url) {
            Ok(proxy) => proxy,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let runtime = self.runtime.clone();
        let url = url.clone();
        #[cfg(feature = "rustls")]
        let tls = self.tls.clone();
        Box::pin(async move {
            #[cfg(feature = "rustls")]
            {
                if url.secure {
                    tls_config(tls.as_ref())?;
                }
                let tunnel = open_tunnel(&runtime, &url, proxy, tls.as_ref()).await?;
                secure(&runtime, &url, tunnel, tls.as_ref()).await
            }
            #[cfg(not(feature = "rustls"))]
            {
                if url.secure {
                    // A build without TLS cannot serve this URL on any attempt: a fatal kind.
                    return Err(TransportError::new(
                        TransportErrorKind::TlsCertificate,
                        format!(
                            "wss://{} needs the rustls feature, which this build does not include",
                            url.authority()
                        ),
                    ));
                }
                Ok(Stream::Plain(open_tcp(&runtime, &url, proxy).await?))
            }
        })
    }
}

/// The client's TLS configuration, or why there is none (fatal: every attempt would fail).
#[cfg(feature = "rustls")]
fn tls_config(
    tls: Option<&Result<std::sync::Arc<rustls::ClientConfig>, String>>,
) -> Result<std::sync::Arc<rustls::ClientConfig>, TransportError> {
    match tls {
        Some(Ok(config)) => Ok(std::sync::Arc::clone(config)),
        Some(Err(e)) => Err(TransportError::new(TransportErrorKind::TlsCertificate, e.clone())),
        None => {
            let why = "no TLS configuration was built for this URL";
            Err(TransportError::new(TransportErrorKind::TlsCertificate, why))
        }
    }
}

/// The stream to the server before the server's own TLS.
#[cfg(feature = "rustls")]
enum Tunnel<R: Runtime> {
    /// TCP: direct, or through an HTTP or SOCKS5 proxy's tunnel.
    Tcp(R::Tcp),
    /// The TLS of an `https://` proxy, carrying the tunnel.
    ProxyTls(Box<R::Tls>),
}

/// Opens the [`Tunnel`] to `url`'s server.
#[cfg(feature = "rustls")]
async fn open_tunnel<R: Runtime>(
    runtime: &R,
    url: &WsUrl,
    proxy: Option<ProxyUrl>,
    tls: Option<&Result<std::sync::Arc<rustls::ClientConfig>, String>>,
) -> Result<Tunnel<R>, TransportError> {
    let p = match proxy {
        Some(p) if p.scheme == ProxyScheme::Https => p,
        other => return Ok(Tunnel::Tcp(open_tcp(runtime, url, other).await?)),
    };
    let config = tls_config(tls).map_err(|e| proxy::during(&p, e))?;
    let name = crate::tls::server_name(&p.host).map_err(|e| proxy::during(&p, e))?;
    let tcp = connect_tcp(runtime, p.host.clone(), p.port, &p.authority())
        .await
        .map_err(|e| proxy::during(&p, e))?;
    let mut stream = runtime
        .tls_connect(config, name, tcp)
        .await
        .map_err(|e| proxy::during(&p, crate::tls::classify_handshake_error(&p.host, &e)))?;
    proxy::tunnel_async(&mut stream, &p, proxy::handshake(&p, url, None)).await?;
    Ok(Tunnel::ProxyTls(Box::new(stream)))
}

/// TLS to the server over `tunnel` for `wss://`; the tunnel as it is for `ws://`.
#[cfg(feature = "rustls")]
async fn secure<R: Runtime>(
    runtime: &R,
    url: &WsUrl,
    tunnel: Tunnel<R>,
    tls: Option<&Result<std::sync::Arc<rustls::ClientConfig>, String>>,
) -> Result<Stream<R>, TransportError> {
    if !url.secure {
        return Ok(match tunnel {
            Tunnel::Tcp(tcp) => Stream::Plain(tcp),
            Tunnel::ProxyTls(tls) => Stream::Tls(tls),
        });
    }
    let config = tls_config(tls)?;
    let name = crate::tls::server_name(&url.host)?;
    let refused = |e: io::Error| crate::tls::classify_handshake_error(&url.host, &e);
    Ok(match tunnel {
        Tunnel::Tcp(tcp) => Stream::Tls(Box::new(runtime.tls_connect(config, name, tcp).await.map_err(refused)?)),
        Tunnel::ProxyTls(inner) => {
            Stream::TlsInTls(Box::new(TlsOver::connect(config, name, *inner).await.map_err(refused)?))
        }
    })
}

/// A TCP stream that leads to `url`'s server: connected to it, or to `proxy` (HTTP or SOCKS5)
/// with the proxy's tunnel to it open (for `socks5://`, after resolving the server's name
/// here).
async fn open_tcp<R: Runtime>(runtime: &R, url: &WsUrl, proxy: Option<ProxyUrl>) -> Result<R::Tcp, TransportError> {
    let Some(proxy) = proxy else {
        return connect_tcp(runtime, url.host.clone(), url.port, &url.authority()).await;
    };
    let resolved = if ProxyHandshake::needs_local_resolution(&proxy) {
        let addrs = runtime
            .resolve(url.host.clone(), url.port)
            .await
            .map_err(|e| crate::io_error::dns_error(&url.authority(), &e))?;
        let first = addrs.first().ok_or_else(|| {
            TransportError::new(
                TransportErrorKind::Dns,
                format!("{} resolved to no address", url.authority()),
            )
        })?;
        Some(first.ip())
    } else {
        None
    };
    let mut tcp = connect_tcp(runtime, proxy.host.clone(), proxy.port, &proxy.authority())
        .await
        .map_err(|e| proxy::during(&proxy, e))?;
    proxy::tunnel_async(&mut tcp, &proxy, proxy::handshake(&proxy, url, resolved)).await?;
    Ok(tcp)
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
    /// `wss://` through an `https://` proxy: TLS to the server inside TLS to the proxy.
    #[cfg(feature = "rustls")]
    TlsInTls(Box<TlsOver<R::Tls>>),
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
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(s) => s.poll_read(cx, buf).map(crate::tls::eof_without_close_notify),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Stream::Plain(s) => s.poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            Stream::Tls(s) => s.poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(s) => s.poll_write(cx, buf),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Plain(s) => s.poll_flush(cx),
            #[cfg(feature = "rustls")]
            Stream::Tls(s) => s.poll_flush(cx),
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(s) => s.poll_flush(cx),
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Plain(s) => s.poll_close(cx),
            #[cfg(feature = "rustls")]
            Stream::Tls(s) => s.poll_close(cx),
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(s) => s.poll_close(cx),
        }
    }
}
