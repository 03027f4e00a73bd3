//! Blocking resolution and connection for the session driver: DNS on every attempt, every
//! resolved address tried in turn within the open deadline, `TCP_NODELAY`, and TLS for
//! `wss://`, with failures mapped to the [`TransportErrorKind`]s the reconnect policy reads.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use resock_core::WsUrl;
use resock_core::proxy::{ProxyHandshake, ProxyScheme, ProxyUrl};
use resock_core::session::{TransportError, TransportErrorKind};

#[cfg(feature = "rustls")]
use std::sync::Arc;

/// How long writing the TLS `close_notify` may block when a stream ends.
#[cfg(feature = "rustls")]
const CLOSE_NOTIFY_TIMEOUT: Duration = Duration::from_millis(250);

/// The TLS client settings a `wss://` connection needs, built once per client.
#[cfg(feature = "rustls")]
pub(crate) type TlsConfig = Arc<rustls::ClientConfig>;
/// Without the `rustls` feature there is nothing to configure.
#[cfg(not(feature = "rustls"))]
pub(crate) type TlsConfig = ();

/// A connected byte stream: plain TCP, TLS over TCP, or TLS inside a proxy's TLS. What
/// [`WebSocket::connect`](crate::blocking::WebSocket::connect) and the blocking client run on.
#[non_exhaustive]
pub enum Stream {
    /// `ws://` (directly, or through an HTTP `CONNECT` or SOCKS5 tunnel).
    Plain(TcpStream),
    /// `wss://` after a completed TLS handshake, or `ws://` through an `https://` proxy (TLS
    /// to the proxy).
    #[cfg(feature = "rustls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// `wss://` through an `https://` proxy: the server's TLS inside the proxy's.
    #[cfg(feature = "rustls")]
    TlsInTls(Box<crate::tls::TlsInTls>),
}

impl Stream {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            #[cfg(feature = "rustls")]
            Stream::Tls(tls) => tls.get_ref(),
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(nested) => nested.tcp(),
        }
    }

    /// Sets how long one read may block; `None` blocks until data arrives.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    /// Hands as much of `buf` as possible to a non-blocking socket: for TLS, encrypts into
    /// rustls's bounded buffer (`Ok(0)` when it is full; [`flush_nonblocking`] empties it).
    ///
    /// [`flush_nonblocking`]: Stream::flush_nonblocking
    pub(crate) fn write_nonblocking(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            #[cfg(feature = "rustls")]
            Stream::Tls(tls) => tls.conn.writer().write(buf),
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(nested) => nested.write_nonblocking(buf),
        }
    }

    /// Writes the TLS records rustls holds to a non-blocking socket: `WouldBlock` when the
    /// socket is full before they all went. Plain TCP holds nothing.
    pub(crate) fn flush_nonblocking(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            #[cfg(feature = "rustls")]
            Stream::Tls(tls) => {
                let tls = &mut **tls;
                while tls.conn.wants_write() {
                    if tls.conn.write_tls(&mut tls.sock)? == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                }
                Ok(())
            }
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(nested) => nested.flush_nonblocking(),
        }
    }

    /// Whether a TLS layer holds records not written yet.
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            #[cfg(feature = "rustls")]
            Stream::Tls(tls) => tls.conn.wants_write(),
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(nested) => nested.wants_write(),
        }
    }

    /// Ends the stream: a TLS `close_notify` (to the server, then to an `https://` proxy) when
    /// encrypted (written within 250 ms), then a TCP shutdown of both directions. Errors are
    /// ignored; the stream is dropped right after.
    pub fn shutdown(&mut self) {
        match self {
            Stream::Plain(_) => {}
            #[cfg(feature = "rustls")]
            Stream::Tls(tls) => {
                // A peer that stopped reading must not hold us for the whole write timeout.
                tls.get_ref().set_write_timeout(Some(CLOSE_NOTIFY_TIMEOUT)).ok();
                tls.conn.send_close_notify();
                tls.flush().ok();
            }
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(nested) => nested.shutdown(CLOSE_NOTIFY_TIMEOUT),
        }
        self.tcp().shutdown(Shutdown::Both).ok();
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Stream::Plain(_) => "Plain",
            #[cfg(feature = "rustls")]
            Stream::Tls(_) => "Tls",
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(_) => "TlsInTls",
        };
        f.debug_tuple(kind).field(self.tcp()).finish()
    }
}

impl Read for Stream {
    /// Reads plaintext. A TLS peer that closes TCP without `close_notify` (very common) reads
    /// as EOF, as on plain TCP: the WebSocket layer decides whether that end was clean (a close
    /// frame came first) or a reset.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            #[cfg(feature = "rustls")]
            Stream::Tls(tls) => crate::tls::eof_without_close_notify(tls.read(buf)),
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(nested) => crate::tls::eof_without_close_notify(nested.read(buf)),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            #[cfg(feature = "rustls")]
            Stream::Tls(tls) => tls.write(buf),
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(nested) => nested.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            #[cfg(feature = "rustls")]
            Stream::Tls(tls) => tls.flush(),
            #[cfg(feature = "rustls")]
            Stream::TlsInTls(nested) => nested.flush(),
        }
    }
}

pub(crate) use crate::io_error::transport_error;

/// Resolves `url`'s host and port (a fresh lookup each call, so DNS changes are seen on the
/// next attempt), within `deadline`. IP literals resolve without a lookup.
pub(crate) fn resolve(url: &WsUrl, deadline: Instant) -> Result<Vec<SocketAddr>, TransportError> {
    let authority = url.authority();
    let addrs: Vec<SocketAddr> = if url.is_ip_literal() {
        // No lookup needed (and no thread).
        authority
            .to_socket_addrs()
            .map_err(|e| dns_error(&authority, e))?
            .collect()
    } else {
        // The system resolver blocks with timeouts of its own; a helper thread keeps the open
        // deadline. A lookup still running at the deadline finishes on its own and is ignored.
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let target = authority.clone();
        std::thread::Builder::new()
            .name("resock-dns".into())
            .spawn(move || {
                let result = target.to_socket_addrs().map(Iterator::collect::<Vec<_>>);
                tx.send(result).ok();
            })
            .map_err(|e| transport_error("starting the DNS lookup", &e))?;
        match rx.recv_timeout(left(deadline, "resolving")?) {
            Ok(result) => result.map_err(|e| dns_error(&authority, e))?,
            Err(_) => {
                return Err(TransportError::new(
                    TransportErrorKind::TimedOut,
                    format!("resolving {authority}: the open timeout passed"),
                ));
            }
        }
    };
    if addrs.is_empty() {
        return Err(TransportError::new(
            TransportErrorKind::Dns,
            format!("{authority} resolved to no address"),
        ));
    }
    Ok(addrs)
}

fn dns_error(authority: &str, e: std::io::Error) -> TransportError {
    crate::io_error::dns_error(authority, &e)
}

/// Time left before `deadline`, or a timeout error when none is.
fn left(deadline: Instant, what: &str) -> Result<Duration, TransportError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(TransportError::new(
            TransportErrorKind::TimedOut,
            format!("{what}: the open timeout passed"),
        ));
    }
    Ok(left)
}

/// Connects to the first of `addrs` that answers, each try limited by the time left before
/// `deadline`. The error names every address that failed, and its kind is the last one's.
pub(crate) fn connect_tcp(addrs: &[SocketAddr], deadline: Instant) -> Result<TcpStream, TransportError> {
    let mut failures: Vec<(SocketAddr, String)> = Vec::new();
    let mut last_kind = TransportErrorKind::Io;
    for addr in addrs {
        let timeout = left(deadline, &format!("connecting to {addr}"))?;
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(tcp) => {
                // Frames are written whole; Nagle would only delay the small ones.
                tcp.set_nodelay(true).ok();
                return Ok(tcp);
            }
            Err(e) => {
                last_kind = crate::io_error::kind(&e);
                failures.push((*addr, crate::io_error::cause(&e)));
            }
        }
    }
    Err(TransportError::new(last_kind, connect_failures(&failures)))
}

/// `connecting to A: cause`; with several addresses `connecting to A, B: cause` when they
/// failed alike, else `connecting to A: cause; B: other cause`.
fn connect_failures(failures: &[(SocketAddr, String)]) -> String {
    let Some((_, first)) = failures.first() else {
        return "there was no address to connect to".to_owned();
    };
    if failures.iter().all(|(_, cause)| cause == first) {
        let addrs: Vec<String> = failures.iter().map(|(addr, _)| addr.to_string()).collect();
        return format!("connecting to {}: {first}", addrs.join(", "));
    }
    let each: Vec<String> = failures
        .iter()
        .map(|(addr, cause)| format!("{addr}: {cause}"))
        .collect();
    format!("connecting to {}", each.join("; "))
}

/// Opens the transport for `url` before `deadline`: resolve, TCP, and for `wss://` a TLS
/// handshake verified against `tls`. The stream comes back with `write_timeout` set.
pub(crate) fn connect(
    url: &WsUrl,
    deadline: Instant,
    tls: Option<&TlsConfig>,
    write_timeout: Duration,
) -> Result<Stream, TransportError> {
    let tcp = connect_tcp(&resolve(url, deadline)?, deadline)?;
    let stream = if url.secure {
        tls_handshake(url, tcp, deadline, tls)?
    } else {
        Stream::Plain(tcp)
    };
    stream
        .tcp()
        .set_write_timeout(Some(write_timeout))
        .map_err(|e| transport_error("setting the write timeout", &e))?;
    Ok(stream)
}

/// Like [`connect`], through `proxy` when there is one: TCP to the proxy (and TLS to an
/// `https://` proxy), its tunnel to the server, then TLS to the server for `wss://`, all
/// before `deadline`.
pub(crate) fn open(
    url: &WsUrl,
    deadline: Instant,
    tls: Option<&TlsConfig>,
    write_timeout: Duration,
    proxy: Option<&ProxyUrl>,
) -> Result<Stream, TransportError> {
    let Some(proxy) = proxy else {
        return connect(url, deadline, tls, write_timeout);
    };
    let transport = if proxy.scheme == ProxyScheme::Https {
        https_tunnel(url, proxy, deadline, tls)?
    } else {
        let tcp = connect_via(url, proxy, deadline)?;
        if url.secure {
            tls_handshake(url, tcp, deadline, tls)?
        } else {
            Stream::Plain(tcp)
        }
    };
    transport
        .tcp()
        .set_write_timeout(Some(write_timeout))
        .map_err(|e| transport_error("setting the write timeout", &e))?;
    Ok(transport)
}

/// `proxy`'s address as a URL, to resolve and connect like a server's.
fn proxy_address(proxy: &ProxyUrl) -> WsUrl {
    WsUrl {
        secure: proxy.scheme == ProxyScheme::Https,
        host: proxy.host.clone(),
        port: proxy.port,
        path_and_query: "/".into(),
    }
}

/// TLS to an `https://` proxy, its tunnel to `url`'s server, then (for `wss://`) TLS to the
/// server inside.
#[cfg(feature = "rustls")]
fn https_tunnel(
    url: &WsUrl,
    proxy: &ProxyUrl,
    deadline: Instant,
    tls: Option<&TlsConfig>,
) -> Result<Stream, TransportError> {
    let during = |e| crate::proxy::during(proxy, e);
    let address = proxy_address(proxy);
    let tcp = resolve(&address, deadline)
        .and_then(|addrs| connect_tcp(&addrs, deadline))
        .map_err(during)?;
    let mut stream = tls_client(&proxy.host, tcp, deadline, tls).map_err(during)?;
    crate::proxy::tunnel_blocking(&mut stream, proxy, crate::proxy::handshake(proxy, url, None))?;
    if !url.secure {
        return Ok(Stream::Tls(Box::new(stream)));
    }
    let outer = tls_connection(&url.host, tls_config(tls)?)?;
    let rustls::StreamOwned { conn: inner, sock: tcp } = stream;
    timeouts_to(&tcp, deadline, "TLS handshake")?;
    crate::tls::TlsInTls::handshake(outer, inner, tcp)
        .map(|nested| Stream::TlsInTls(Box::new(nested)))
        .map_err(|e| crate::tls::classify_handshake_error(&url.host, &e))
}

/// Without the `rustls` feature an `https://` proxy cannot work (the plan refuses it first).
#[cfg(not(feature = "rustls"))]
fn https_tunnel(
    _url: &WsUrl,
    proxy: &ProxyUrl,
    _deadline: Instant,
    _tls: Option<&TlsConfig>,
) -> Result<Stream, TransportError> {
    Err(TransportError::new(
        TransportErrorKind::Proxy,
        format!("through proxy {proxy}: an https:// proxy needs the rustls feature"),
    ))
}

/// TCP to `proxy`, then its handshake for a tunnel to `url`'s server, all before `deadline`
/// (for `socks5://`, the server's name is resolved here first).
fn connect_via(url: &WsUrl, proxy: &ProxyUrl, deadline: Instant) -> Result<TcpStream, TransportError> {
    let resolved = if ProxyHandshake::needs_local_resolution(proxy) {
        resolve(url, deadline)?.first().map(SocketAddr::ip)
    } else {
        None
    };
    let mut tcp = resolve(&proxy_address(proxy), deadline)
        .and_then(|addrs| connect_tcp(&addrs, deadline))
        .and_then(|tcp| timeouts_to(&tcp, deadline, "the proxy handshake").map(|()| tcp))
        .map_err(|e| crate::proxy::during(proxy, e))?;
    crate::proxy::tunnel_blocking(&mut tcp, proxy, crate::proxy::handshake(proxy, url, resolved))?;
    Ok(tcp)
}

/// Runs the TLS handshake on `tcp` with socket timeouts bounded by `deadline`.
#[cfg(feature = "rustls")]
fn tls_handshake(
    url: &WsUrl,
    tcp: TcpStream,
    deadline: Instant,
    tls: Option<&TlsConfig>,
) -> Result<Stream, TransportError> {
    tls_client(&url.host, tcp, deadline, tls).map(|tls| Stream::Tls(Box::new(tls)))
}

/// The TLS configuration, or why there is none.
#[cfg(feature = "rustls")]
fn tls_config(tls: Option<&TlsConfig>) -> Result<&TlsConfig, TransportError> {
    tls.ok_or_else(|| {
        TransportError::new(
            TransportErrorKind::TlsCertificate,
            "no TLS configuration for a wss:// URL",
        )
    })
}

/// A rustls client connection to `host`, not started.
#[cfg(feature = "rustls")]
fn tls_connection(host: &str, config: &TlsConfig) -> Result<rustls::ClientConnection, TransportError> {
    let name = crate::tls::server_name(host)?;
    rustls::ClientConnection::new(Arc::clone(config), name).map_err(|e| {
        TransportError::new(
            TransportErrorKind::Tls,
            format!("starting TLS: {}", crate::io_error::plain(&e.to_string())),
        )
    })
}

/// Sets both socket timeouts to the time left before `deadline`.
fn timeouts_to(tcp: &TcpStream, deadline: Instant, what: &str) -> Result<(), TransportError> {
    let timeout = left(deadline, what)?;
    tcp.set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(timeout)))
        .map_err(|e| transport_error("setting socket timeouts", &e))
}

/// TLS with `host` on `tcp`, the handshake done before `deadline`.
#[cfg(feature = "rustls")]
fn tls_client(
    host: &str,
    mut tcp: TcpStream,
    deadline: Instant,
    tls: Option<&TlsConfig>,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, TransportError> {
    let mut conn = tls_connection(host, tls_config(tls)?)?;
    while conn.is_handshaking() {
        timeouts_to(&tcp, deadline, "TLS handshake")?;
        match conn.complete_io(&mut tcp) {
            Ok((0, 0)) if conn.is_handshaking() => {
                return Err(TransportError::new(
                    TransportErrorKind::Tls,
                    "TLS handshake failed: the server closed the connection",
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(crate::tls::classify_handshake_error(host, &e)),
        }
    }
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// Without the `rustls` feature a `wss://` URL cannot work; retrying would not change that.
#[cfg(not(feature = "rustls"))]
fn tls_handshake(
    _url: &WsUrl,
    _tcp: TcpStream,
    _deadline: Instant,
    _tls: Option<&TlsConfig>,
) -> Result<Stream, TransportError> {
    Err(TransportError::new(
        TransportErrorKind::TlsCertificate,
        "wss:// needs the rustls feature, which this build does not include",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_lookup_keeps_the_open_deadline() {
        let url = WsUrl::parse("ws://localhost:9/").unwrap();
        let error = resolve(&url, Instant::now()).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::TimedOut, "{error}");
        let addrs = resolve(&url, Instant::now() + Duration::from_secs(5)).unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 9), "{addrs:?}");
    }

    #[test]
    fn every_address_is_tried_in_turn() {
        // A port that refuses: bind, note the address, close the listener.
        let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        let tcp = connect_tcp(&[refused, good], Instant::now() + Duration::from_secs(5)).unwrap();
        assert_eq!(tcp.peer_addr().unwrap(), good);
        assert!(tcp.nodelay().unwrap());
    }

    #[test]
    fn refusals_are_reported_with_every_address() {
        let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let error = connect_tcp(&[refused, refused], Instant::now() + Duration::from_secs(5)).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Refused);
        assert_eq!(error.message.matches(&refused.to_string()).count(), 2, "{error}");
    }

    #[test]
    fn a_passed_deadline_is_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let error = connect_tcp(&[listener.local_addr().unwrap()], Instant::now()).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::TimedOut);
    }

    #[test]
    fn ip_literals_resolve_without_a_lookup() {
        let url = WsUrl::parse("ws://[::1]:9/").unwrap();
        assert_eq!(
            resolve(&url, Instant::now() + Duration::from_secs(5)).unwrap(),
            vec!["[::1]:9".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn io_errors_map_to_policy_kinds() {
        let kind = |k| transport_error("x", &io::Error::from(k)).kind;
        assert_eq!(kind(io::ErrorKind::ConnectionRefused), TransportErrorKind::Refused);
        assert_eq!(kind(io::ErrorKind::ConnectionReset), TransportErrorKind::Reset);
        assert_eq!(kind(io::ErrorKind::BrokenPipe), TransportErrorKind::Reset);
        assert_eq!(kind(io::ErrorKind::TimedOut), TransportErrorKind::TimedOut);
        assert_eq!(kind(io::ErrorKind::PermissionDenied), TransportErrorKind::Io);
    }

    #[test]
    fn a_refusal_reads_as_one_sentence() {
        let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let error = connect_tcp(&[refused], Instant::now() + Duration::from_secs(5)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("connecting to {refused}: connection refused")
        );
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "[::1]:1".parse().unwrap();
        let alike = [
            (a, "connection refused".to_owned()),
            (b, "connection refused".to_owned()),
        ];
        assert_eq!(
            connect_failures(&alike),
            "connecting to 127.0.0.1:1, [::1]:1: connection refused"
        );
        let unlike = [(a, "connection refused".to_owned()), (b, "timed out".to_owned())];
        assert_eq!(
            connect_failures(&unlike),
            "connecting to 127.0.0.1:1: connection refused; [::1]:1: timed out"
        );
    }

    #[test]
    fn a_name_that_does_not_resolve_reads_as_one_sentence() {
        // What the system resolver reports through std (glibc's text for EAI_NONAME).
        let e = io::Error::other("failed to lookup address information: Name or service not known");
        let error = dns_error("nosuch.invalid:80", e);
        assert_eq!(error.kind, TransportErrorKind::Dns);
        assert_eq!(
            error.to_string(),
            "resolving nosuch.invalid:80: name or service not known"
        );
    }
}
