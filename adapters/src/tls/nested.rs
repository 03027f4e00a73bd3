//! TLS inside TLS on a std socket, for the blocking drivers: `wss://` through an `https://`
//! proxy. The outer connection (to the server) writes its records as plaintext into the inner
//! one (to the proxy), which alone touches the socket; reads go the other way. Each call does
//! what the socket allows and answers `WouldBlock` otherwise, as the blocking client's
//! non-blocking socket expects; the handshake runs with the socket in blocking mode.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use rustls::ClientConnection;

/// `wss://` through an `https://` proxy: TLS to the server inside TLS to the proxy, on one
/// TCP connection ([`Stream::TlsInTls`](crate::blocking::Stream::TlsInTls)). Reads give the
/// server's plaintext; writes encrypt for the server, then for the proxy.
pub struct TlsInTls {
    outer: ClientConnection,
    inner: ClientConnection,
    tcp: TcpStream,
}

impl std::fmt::Debug for TlsInTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TlsInTls").field(&self.tcp).finish()
    }
}

/// The inner connection's plaintext as a byte stream for the outer one.
struct Plaintext<'a>(&'a mut ClientConnection);

impl Read for Plaintext<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.reader().read(buf)
    }
}

impl Write for Plaintext<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.writer().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsInTls {
    /// Runs `outer`'s handshake over `inner` (complete) on `tcp` (in blocking mode, its
    /// timeouts set by the caller).
    pub(crate) fn handshake(outer: ClientConnection, inner: ClientConnection, tcp: TcpStream) -> io::Result<TlsInTls> {
        let mut tls = TlsInTls { outer, inner, tcp };
        while tls.outer.is_handshaking() {
            tls.flush_nonblocking()?;
            if !tls.outer.is_handshaking() {
                break;
            }
            tls.read_records()?;
        }
        tls.flush_nonblocking()?;
        Ok(tls)
    }

    /// The socket.
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Reads and processes records until the outer connection has something new (plaintext,
    /// or a record it processed): `WouldBlock` when the socket has nothing.
    fn read_records(&mut self) -> io::Result<()> {
        loop {
            match self.outer.read_tls(&mut Plaintext(&mut self.inner)) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {
                    return self
                        .outer
                        .process_new_packets()
                        .map(drop)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // The inner connection has no plaintext yet: read the socket.
            match self.inner.read_tls(&mut self.tcp)? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                _ => {
                    self.inner
                        .process_new_packets()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                }
            }
        }
    }

    /// Encrypts `buf` into the outer connection's bounded buffer (`Ok(0)` when it is full).
    pub(crate) fn write_nonblocking(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outer.writer().write(buf)
    }

    /// Moves the outer records into the inner connection and the inner records to the
    /// socket: `WouldBlock` when the socket is full before they all went.
    pub(crate) fn flush_nonblocking(&mut self) -> io::Result<()> {
        loop {
            while self.inner.wants_write() {
                if self.inner.write_tls(&mut self.tcp)? == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
            }
            if !self.outer.wants_write() {
                return Ok(());
            }
            if self.outer.write_tls(&mut Plaintext(&mut self.inner))? == 0 && !self.inner.wants_write() {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
    }

    /// Whether either layer holds records not written yet.
    pub(crate) fn wants_write(&self) -> bool {
        self.outer.wants_write() || self.inner.wants_write()
    }

    /// `close_notify` to the server, then to the proxy (within `timeout`), then a TCP shutdown.
    pub(crate) fn shutdown(&mut self, timeout: Duration) {
        self.tcp.set_write_timeout(Some(timeout)).ok();
        self.outer.send_close_notify();
        self.flush_nonblocking().ok();
        self.inner.send_close_notify();
        self.flush_nonblocking().ok();
        self.tcp.shutdown(Shutdown::Both).ok();
    }
}

impl Read for TlsInTls {
    /// Plaintext from the server; `UnexpectedEof` when the socket ends without the server's
    /// `close_notify`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.outer.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            self.read_records()?;
        }
    }
}

impl Write for TlsInTls {
    /// Encrypts what fits of `buf` and writes the records to the socket (blocking as the
    /// socket does, within its write timeout).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Room first: the outer buffer takes nothing while it holds records of earlier calls.
        self.flush_nonblocking()?;
        let written = self.write_nonblocking(buf)?;
        self.flush_nonblocking()?;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_nonblocking()
    }
}
