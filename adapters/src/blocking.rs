//! A blocking driver on `std::net`: one thread, one socket, the read timeout taken from the
//! core's next deadline. Both roles: [`WebSocket::connect`] for clients (`ws://`, and `wss://`
//! with the `rustls` feature, a default one), [`WebSocket::accept`] for servers.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use resock_core::connection::{CloseInfo, Connection, Event, Input};
use resock_core::session::{RedirectChain, RedirectError, RedirectPolicy, TransportError};
use resock_core::{ClientOptions, CloseCode, Config, ConnectionError, HandshakeError, Message, Request, WsUrl};

pub use crate::net::Stream;

/// How long one socket write may block before the connection is given up.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

use crate::proxy::{ProxyPlan, ProxySetting};
use crate::read_buf::with_read_buf;

/// Errors of the blocking driver.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL could not be parsed or is not `ws://` or `wss://`.
    #[error("{0}")]
    Url(String),
    /// Connecting failed for every address ([`connect_tcp`]; a failed lookup is a
    /// [`Transport`](Self::Transport) error of kind `Dns`).
    #[error("connecting to {target}: {}", crate::io_error::cause(source))]
    Connect {
        /// The host and port tried.
        target: String,
        /// The last error seen.
        source: io::Error,
    },
    /// Opening the connection failed: DNS, TCP or TLS; the kind tells which
    /// ([`WebSocket::connect`]).
    #[error(transparent)]
    Transport(TransportError),
    /// The connection ended with an error (handshake, protocol, timeout, transport).
    #[error(transparent)]
    Connection(ConnectionError),
    /// The connection is closed; no more messages can be sent or received.
    #[error("the connection is already closed with {}", .0.code)]
    Closed(Box<CloseInfo>),
    /// The core refused the operation (for example a close code that may not be sent).
    #[error("{0}")]
    Refused(String),
    /// A redirect of the opening handshake could not be followed (too many, `wss://` to
    /// `ws://`, a missing or unusable `Location`); the chain says where it went.
    #[error(transparent)]
    Redirect(RedirectError),
}

/// A byte stream the blocking driver can run on.
pub trait Transport: Read + Write {
    /// Sets how long a read may block; `None` blocks until data arrives.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Ends the stream (for TLS, a `close_notify` first) and closes both directions.
    fn shutdown(&mut self) -> io::Result<()>;
}

impl Transport for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        TcpStream::shutdown(self, Shutdown::Both)
    }
}

impl Transport for Stream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        Stream::set_read_timeout(self, timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        Stream::shutdown(self);
        Ok(())
    }
}

/// A WebSocket over a blocking stream.
///
/// Dropping it while the connection is open closes it as [`close`](Self::close) does with
/// 1000 and no reason: the peer sees a clean close, not a dropped connection. That waits for
/// the peer's answer at most the close timeout ([`Config::close_timeout`]); call `close`
/// first to choose the code or see the outcome.
pub struct WebSocket<S: Transport = Stream> {
    stream: S,
    conn: Connection,
    out: Vec<u8>,
    /// The read timeout last set on the stream, so the syscall is made only when it changes.
    read_timeout: Option<Option<Duration>>,
    events: VecDeque<Event>,
    closed: Option<CloseInfo>,
    transport_closed: bool,
}

impl<S: Transport> Drop for WebSocket<S> {
    fn drop(&mut self) {
        if self.closed.is_none() && !self.transport_closed {
            // Errors have nobody to go to here; the transport ends either way.
            self.close(CloseCode::NORMAL, "").ok();
        }
        if !self.transport_closed {
            self.stream.shutdown().ok();
            self.transport_closed = true;
        }
    }
}

impl<S: Transport> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

/// Connects a TCP stream to the first address of `url` that answers, within `timeout`.
pub fn connect_tcp(url: &WsUrl, timeout: Duration) -> Result<TcpStream, Error> {
    let target = url.authority();
    let addrs = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| Error::Transport(crate::io_error::dns_error(&target, &e)))?;
    let deadline = resock_core::saturating_later(Instant::now(), timeout);
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host resolved to no address");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            last = io::Error::from(io::ErrorKind::TimedOut);
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => {
                stream.set_nodelay(true).ok();
                stream.set_write_timeout(Some(WRITE_TIMEOUT)).ok();
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(Error::Connect { target, source: last })
}

impl WebSocket<Stream> {
    /// Connects to a `ws://` or `wss://` URL with default options and waits for the handshake.
    /// `wss://` trusts the compiled-in Mozilla roots (see [`connect_with_tls`](Self::connect_with_tls)
    /// for other roots). Redirects (301, 302, 303, 307, 308) are followed as the session
    /// clients follow them ([`RedirectPolicy::default`]: at most 5, never from `wss://` to
    /// `ws://`, `Authorization`, `Cookie` only to the URL's own origin); one that cannot be
    /// followed is [`Error::Redirect`]. The proxy is the one curl would use, as every resock
    /// client picks it by default (see [`ClientBuilder::proxy`](crate::ClientBuilder::proxy)):
    /// `https_proxy` for `wss://`, `http_proxy` for `ws://`, else `all_proxy` (`http://`,
    /// `https://`, `socks5://`, `socks5h://`), never for `no_proxy` hosts or loopback. A
    /// proxy variable that does not parse, or a proxy that refuses, is an
    /// [`Error::Transport`] of kind `Proxy`, its credentials never in the text.
    pub fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, &ClientOptions::default(), Config::default())
    }

    /// Connects with explicit handshake options and limits, and waits for the handshake.
    /// Resolving, connecting, TLS and the handshake each get the handshake timeout.
    pub fn connect_with(url: &str, options: &ClientOptions, config: Config) -> Result<Self, Error> {
        Self::open(url, options, config, None)
    }

    /// Connects with explicit TLS settings (roots to trust) for a `wss://` URL.
    #[cfg(feature = "rustls")]
    pub fn connect_with_tls(
        url: &str,
        options: &ClientOptions,
        config: Config,
        tls: &crate::tls::TlsOptions,
    ) -> Result<Self, Error> {
        Self::open(url, options, config, Some(tls))
    }

    #[cfg(feature = "rustls")]
    fn open(
        url: &str,
        options: &ClientOptions,
        config: Config,
        tls: Option<&crate::tls::TlsOptions>,
    ) -> Result<Self, Error> {
        let url: WsUrl = url.parse().map_err(|e| Error::Url(format!("{e}")))?;
        let proxy = ProxyPlan::new(&ProxySetting::Environment, true);
        let proxy_tls = proxy.may_use_tls();
        // Built for the first `wss://` URL of the chain (the URL itself or where it redirects),
        // or at once when an `https://` proxy may carry even `ws://`.
        let mut built: Option<crate::net::TlsConfig> = None;
        Self::follow_redirects(&url, options, config, &proxy, |at| {
            if !at.secure && !proxy_tls {
                return Ok(None);
            }
            if built.is_none() {
                let made = tls.cloned().unwrap_or_default().client_config().map_err(|e| {
                    let kind = resock_core::session::TransportErrorKind::TlsCertificate;
                    Error::Transport(TransportError::new(kind, e.to_string()))
                })?;
                built = Some(made);
            }
            Ok(built.clone())
        })
    }

    /// Without the `rustls` feature a `wss://` URL fails with a certificate-kind error that says so.
    #[cfg(not(feature = "rustls"))]
    fn open(url: &str, options: &ClientOptions, config: Config, _tls: Option<&()>) -> Result<Self, Error> {
        let url: WsUrl = url.parse().map_err(|e| Error::Url(format!("{e}")))?;
        let proxy = ProxyPlan::new(&ProxySetting::Environment, true);
        Self::follow_redirects(&url, options, config, &proxy, |_| Ok(Some(())))
    }

    /// Opens `url`, following redirects: each hop is a new connection with its own handshake
    /// timeout, through the proxy `proxy` picks for it; headers marked sensitive stay with
    /// `url`'s origin.
    fn follow_redirects(
        url: &WsUrl,
        options: &ClientOptions,
        config: Config,
        proxy: &ProxyPlan,
        mut tls_for: impl FnMut(&WsUrl) -> Result<Option<crate::net::TlsConfig>, Error>,
    ) -> Result<Self, Error> {
        let policy = RedirectPolicy::default();
        let mut chain = RedirectChain::default();
        loop {
            let at = chain.current(url).clone();
            let tls = tls_for(&at)?;
            let deadline = resock_core::saturating_later(Instant::now(), config.handshake_timeout);
            let through = proxy.for_url(&at).map_err(Error::Transport)?;
            let stream = crate::net::open(&at, deadline, tls.as_ref(), WRITE_TIMEOUT, through.as_ref())
                .map_err(Error::Transport)?;
            let opened = if chain.crossed_origin(url) {
                let mut options = options.clone();
                options.headers.retain(|(name, _)| !policy.is_sensitive(name));
                Self::client_on(stream, &at, &options, config.clone())
            } else {
                Self::client_on(stream, &at, options, config.clone())
            };
            let rejection = match &opened {
                Err(Error::Connection(ConnectionError::Handshake(HandshakeError::Rejected(rejection)))) => rejection,
                _ => return opened,
            };
            match chain.next(url, &policy, rejection) {
                None => return opened,
                Some(Ok(to)) => chain.push(to),
                Some(Err(error)) => return Err(Error::Redirect(error)),
            }
        }
    }
}

impl WebSocket<TcpStream> {
    /// Serves one accepted TCP stream: waits for the opening request and accepts it with no
    /// subprotocol.
    pub fn accept(stream: TcpStream, config: Config) -> Result<Self, Error> {
        stream.set_nodelay(true).ok();
        stream.set_write_timeout(Some(WRITE_TIMEOUT)).ok();
        Self::accept_on(stream, config, |_| Ok(None))
    }
}

impl<S: Transport> WebSocket<S> {
    /// Runs the client handshake on an already connected stream and waits for it to finish.
    pub fn client_on(stream: S, url: &WsUrl, options: &ClientOptions, config: Config) -> Result<Self, Error> {
        let conn = Connection::client(url, options, config, crate::os_seed(), Instant::now())
            .map_err(|e| Error::Connection(ConnectionError::Handshake(e)))?;
        let mut ws = Self::new(stream, conn);
        ws.wait_open()?;
        Ok(ws)
    }

    /// Runs the server handshake on an accepted stream. `decide` sees the request and returns
    /// the subprotocol to select, or an HTTP status to refuse with.
    pub fn accept_on(
        stream: S,
        config: Config,
        decide: impl FnOnce(&Request) -> Result<Option<String>, u16>,
    ) -> Result<Self, Error> {
        let conn = Connection::server(config, crate::os_seed(), Instant::now());
        let mut ws = Self::new(stream, conn);
        let request = loop {
            match ws.next_raw_event()? {
                Some(Event::Request(request)) => break request,
                Some(Event::Closed(info)) => return Err(closed_error(info)),
                Some(_) => {}
                None => return Err(Error::Refused("the connection ended before a request arrived".into())),
            }
        };
        match decide(&request) {
            Ok(subprotocol) => ws.conn.accept(Instant::now(), &request, subprotocol.as_deref(), &[]),
            Err(status) => ws.conn.reject(status, b""),
        }
        ws.wait_open()?;
        Ok(ws)
    }

    fn new(stream: S, conn: Connection) -> Self {
        WebSocket {
            stream,
            conn,
            out: Vec::new(),
            read_timeout: None,
            events: VecDeque::new(),
            closed: None,
            transport_closed: false,
        }
    }

    fn wait_open(&mut self) -> Result<(), Error> {
        loop {
            match self.next_raw_event()? {
                Some(Event::Opened(_)) => return Ok(()),
                Some(Event::Closed(info)) => return Err(closed_error(info)),
                Some(other) => self.events.push_back(other),
                None => return Err(Error::Refused("the connection ended during the handshake".into())),
            }
        }
    }

    /// The protocol state machine, for its getters.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// How the connection ended, once it has.
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.closed.as_ref()
    }

    /// Sends a message and writes it out before returning.
    pub fn send(&mut self, message: &Message) -> Result<(), Error> {
        let sent = self.conn.send(message);
        self.after_command(sent)
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        let sent = self.conn.send_text(text);
        self.after_command(sent)
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        let sent = self.conn.send_binary(data);
        self.after_command(sent)
    }

    /// Sends a ping; the pong arrives as [`Event::Pong`] from [`next_event`](Self::next_event).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        let sent = self.conn.ping(payload);
        self.after_command(sent)
    }

    fn after_command<E: std::fmt::Display>(&mut self, result: Result<(), E>) -> Result<(), Error> {
        match result {
            Ok(()) => self.flush(),
            Err(e) => match &self.closed {
                Some(info) => Err(Error::Closed(Box::new(info.clone()))),
                None => Err(Error::Refused(e.to_string())),
            },
        }
    }

    /// Blocks until the next data message. `Ok(None)` after a clean close; an error when the
    /// connection failed. Pings, pongs and other events are skipped.
    pub fn recv(&mut self) -> Result<Option<Message>, Error> {
        loop {
            match self.next_event()? {
                Some(Event::Message(message)) => return Ok(Some(message)),
                Some(Event::Closed(info)) => {
                    return match info.error {
                        None | Some(ConnectionError::CloseTimeout) => Ok(None),
                        Some(e) => Err(Error::Connection(e)),
                    };
                }
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    /// Blocks until the next event; `Ok(None)` once [`Event::Closed`] has been delivered.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        if let Some(event) = self.events.pop_front() {
            return Ok(Some(event));
        }
        self.next_raw_event()
    }

    /// Starts the close handshake and blocks until it completes or times out.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<CloseInfo, Error> {
        if self.closed.is_none() {
            if let Err(e) = self.conn.close(Instant::now(), code, reason) {
                if self.closed.is_none() && !self.conn.is_finished() {
                    return Err(Error::Refused(e.to_string()));
                }
            }
            self.flush()?;
        }
        while self.closed.is_none() {
            if self.next_raw_event()?.is_none() {
                break;
            }
        }
        self.closed
            .clone()
            .ok_or_else(|| Error::Refused("the connection ended without close details".into()))
    }

    /// Writes everything the core has queued.
    fn flush(&mut self) -> Result<(), Error> {
        while self.conn.poll_transmit(&mut self.out).is_some() {
            if !self.transport_closed {
                if let Err(e) = self.stream.write_all(&self.out).and_then(|()| self.stream.flush()) {
                    let error = crate::io_error::transport_error("writing to the peer", &e);
                    self.conn
                        .handle_input(Instant::now(), Input::TransportError(&error.message));
                    self.transport_closed = true;
                }
            }
            self.out.clear();
        }
        Ok(())
    }

    /// Drives the core until it produces an event, reading the socket as needed.
    fn next_raw_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            self.flush()?;
            if let Some(event) = self.conn.poll_event() {
                if let Event::Closed(info) = &event {
                    self.closed = Some(info.clone());
                    self.flush()?;
                    if !self.transport_closed {
                        self.stream.shutdown().ok();
                        self.transport_closed = true;
                    }
                }
                return Ok(Some(event));
            }
            if self.conn.is_finished() {
                return Ok(None);
            }
            self.read_once()?;
        }
    }

    /// One blocking read, bounded by the core's next deadline.
    fn read_once(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        let timeout = match self.conn.poll_timeout() {
            Some(deadline) if deadline <= now => {
                self.conn.handle_timeout(now);
                return Ok(());
            }
            Some(deadline) => Some((deadline - now).max(Duration::from_millis(1))),
            None => None,
        };
        if self.read_timeout != Some(timeout) {
            if self.stream.set_read_timeout(timeout).is_err() {
                // Without a timeout we could hang; treat it as a broken transport.
                self.conn
                    .handle_input(now, Input::TransportError("could not set the read timeout"));
                return Ok(());
            }
            self.read_timeout = Some(timeout);
        }
        let (conn, stream) = (&mut self.conn, &mut self.stream);
        let result = with_read_buf(|buf| {
            let result = stream.read(buf);
            match result {
                Ok(0) => conn.handle_input(Instant::now(), Input::Eof),
                Ok(n) => conn.handle_input(Instant::now(), Input::Data(&buf[..n])),
                Err(_) => {}
            }
            result
        });
        match result {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                self.conn.handle_timeout(Instant::now());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A TLS stream whose peer closed TCP without close_notify (rustls says so): an EOF,
            // as on plain TCP; the connection decides whether a close frame made it clean.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.conn.handle_input(Instant::now(), Input::Eof);
            }
            Err(e) => {
                self.transport_closed = true;
                let error = crate::io_error::transport_error("reading from the peer", &e);
                self.conn
                    .handle_input(Instant::now(), Input::TransportError(&error.message));
            }
        }
        Ok(())
    }
}

fn closed_error(info: CloseInfo) -> Error {
    match info.error {
        Some(e) => Error::Connection(e),
        None => Error::Closed(Box::new(info)),
    }
}
