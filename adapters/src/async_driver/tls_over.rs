//! TLS over any [`ByteStream`], runtime-independent, with rustls driven by hand: the second TLS
//! layer of a `wss://` connection through an `https://` proxy (TLS to the server inside the
//! tunnel, which itself runs over the runtime's TLS to the proxy). The runtimes' own TLS
//! streams wrap only their TCP streams; this one wraps the driver's trait.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use super::runtime::ByteStream;

/// A rustls client connection over `S`.
pub(crate) struct TlsOver<S> {
    conn: rustls::ClientConnection,
    io: S,
    /// `S` reached its end.
    eof: bool,
    /// `close_notify` was queued.
    closing: bool,
}

/// `S` seen as blocking IO that answers `WouldBlock` where `S` is pending, so rustls's
/// `read_tls`/`write_tls` can use it; the waker of `cx` is registered as a side effect.
struct SyncIo<'a, 'b, S> {
    io: &'a mut S,
    cx: &'a mut Context<'b>,
}

impl<S: ByteStream> Read for SyncIo<'_, '_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.io.poll_read(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl<S: ByteStream> Write for SyncIo<'_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.io.poll_write(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.io.poll_flush(self.cx) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

fn pending_on_would_block<T>(result: io::Result<T>) -> Poll<io::Result<T>> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        other => Poll::Ready(other),
    }
}

impl<S: ByteStream> TlsOver<S> {
    /// Runs the handshake with `name` over `io`.
    pub(crate) async fn connect(
        config: Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
        io: S,
    ) -> io::Result<TlsOver<S>> {
        let conn = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
        let mut tls = TlsOver {
            conn,
            io,
            eof: false,
            closing: false,
        };
        poll_fn(|cx| tls.poll_handshake(cx)).await?;
        Ok(tls)
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.is_handshaking() {
            ready!(self.poll_write_tls(cx))?;
            if !self.conn.is_handshaking() {
                break;
            }
            ready!(self.poll_read_tls(cx))?;
            if self.eof && self.conn.is_handshaking() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection during the TLS handshake",
                )));
            }
        }
        self.poll_write_tls(cx)
    }

    /// Writes every TLS record rustls holds, then flushes `S`.
    fn poll_write_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let mut io = SyncIo { io: &mut self.io, cx };
            match ready!(pending_on_would_block(self.conn.write_tls(&mut io))) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        self.io.poll_flush(cx)
    }

    /// Reads TLS records once and processes them; sets `eof` at the end of `S`.
    fn poll_read_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut io = SyncIo { io: &mut self.io, cx };
        match ready!(pending_on_would_block(self.conn.read_tls(&mut io))) {
            Ok(0) => self.eof = true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Poll::Ready(Ok(())),
            Err(e) => return Poll::Ready(Err(e)),
        }
        if let Err(e) = self.conn.process_new_packets() {
            // Send the alert rustls queued, if the stream takes it now.
            let _ = self.poll_write_tls(cx);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: ByteStream> ByteStream for TlsOver<S> {
    /// Plaintext; the end of `S` without `close_notify` is `UnexpectedEof`, which the
    /// connector's stream reads as EOF like the runtimes' TLS.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            if self.eof {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            // Answers rustls owes (a key update) go out before waiting for more.
            if let Poll::Ready(Err(e)) = self.poll_write_tls(cx) {
                return Poll::Ready(Err(e));
            }
            ready!(self.poll_read_tls(cx))?;
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let n = self.conn.writer().write(buf)?;
            if n > 0 || buf.is_empty() {
                // Push what fits now; `poll_flush` finishes it.
                if let Poll::Ready(Err(e)) = self.poll_write_tls(cx) {
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(n));
            }
            // rustls's buffer is full: wait until the records leave.
            ready!(self.poll_write_tls(cx))?;
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.writer().flush()?;
        self.poll_write_tls(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.closing {
            self.closing = true;
            self.conn.send_close_notify();
        }
        ready!(self.poll_write_tls(cx))?;
        self.io.poll_close(cx)
    }
}
