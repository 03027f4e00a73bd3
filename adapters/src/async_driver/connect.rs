//! Opening a transport for the session: DNS on every attempt, each resolved address in turn,
//! then TLS for `wss://`. The session times the whole opening; the driver abandons this future
//! (drops it) when the session gives up on it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_net::TcpStream;
use futures_io::{AsyncRead, AsyncWrite};
use resock_core::WsUrl;
use resock_core::session::{TransportError, TransportErrorKind};

/// A transport being opened.
pub(crate) type Opening<S> = Pin<Box<dyn Future<Output = Result<S, TransportError>> + Send>>;

/// Opens transports for the driver. The driver is generic over this so the same run loop can
/// serve any byte stream.
pub(crate) trait Connect: Send + 'static {
    /// The stream it opens.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Starts opening a transport to `url`.
    fn connect(&self, url: &WsUrl) -> Opening<Self::Stream>;
}

/// TCP from `async-net` (any executor: async-io runs its own reactor), plus rustls for `wss`.
pub(crate) struct NetConnector {
    #[cfg(feature = "rustls")]
    tls: Option<Result<std::sync::Arc<rustls::ClientConfig>, String>>,
}

impl NetConnector {
    /// Builds the TLS configuration once, when the URL needs it; a configuration error is
    /// reported by every attempt as a certificate error, which stops the session.
    pub(crate) fn new(builder: &crate::ClientBuilder) -> Self {
        #[cfg(not(feature = "rustls"))]
        let _ = builder;
        NetConnector {
            #[cfg(feature = "rustls")]
            tls: (builder.config.url.secure).then(|| builder.tls.client_config().map_err(|e| e.to_string())),
        }
    }
}

impl Connect for NetConnector {
    type Stream = NetStream;

    fn connect(&self, url: &WsUrl) -> Opening<NetStream> {
        let host = url.host.clone();
        let port = url.port;
        #[cfg(feature = "rustls")]
        let tls = self.tls.clone();
        let authority = url.authority();
        if !url.secure {
            return Box::pin(async move { Ok(NetStream::Plain(connect_tcp(&host, port, &authority).await?)) });
        }
        #[cfg(feature = "rustls")]
        {
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
                let tcp = connect_tcp(&host, port, &authority).await?;
                let stream = futures_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| crate::tls::classify_handshake_error(&host, &e))?;
                Ok(NetStream::Tls(Box::new(stream)))
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
async fn connect_tcp(host: &str, port: u16, authority: &str) -> Result<TcpStream, TransportError> {
    let addrs = async_net::resolve((host, port))
        .await
        .map_err(|e| crate::io_error::dns_error(authority, &e))?;
    connect_each(authority, addrs).await
}

/// Connects to the first of `addrs` (what `authority` resolved to) that answers.
async fn connect_each(authority: &str, addrs: Vec<SocketAddr>) -> Result<TcpStream, TransportError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true).ok();
                return Ok(stream);
            }
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

/// A TCP stream, with TLS for `wss://`.
pub(crate) enum NetStream {
    Plain(TcpStream),
    #[cfg(feature = "rustls")]
    Tls(Box<futures_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for NetStream {
    /// Reads plaintext. A TLS peer that closes TCP without `close_notify` (very common) reads
    /// as EOF, as on plain TCP: the WebSocket layer decides whether that end was clean (a close
    /// frame came first) or a reset.
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            NetStream::Tls(s) => Pin::new(s.as_mut())
                .poll_read(cx, buf)
                .map(crate::tls::eof_without_close_notify),
        }
    }
}

impl AsyncWrite for NetStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "rustls")]
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_close(cx),
            #[cfg(feature = "rustls")]
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn every_resolved_address_is_tried_in_turn() {
        // A port that refuses: bind, note the address, close the listener.
        let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        let tcp = async_io::block_on(connect_each("h", vec![refused, good])).unwrap();
        assert_eq!(tcp.peer_addr().unwrap(), good);
        assert!(tcp.nodelay().unwrap());
        let error = async_io::block_on(connect_each("h", vec![refused])).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Refused, "{error}");
        assert!(error.message.contains(&refused.to_string()), "{error}");
        let error = async_io::block_on(connect_each("h", Vec::new())).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Dns, "{error}");
    }
}
