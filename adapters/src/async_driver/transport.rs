//! One open transport as the driver sees it: the stream, the bytes taken from the session and
//! not yet written (with the write position, so a frame is never torn), and what is known to be
//! over (reading after EOF, everything after an error).

use std::io;
use std::task::{Context, Poll};
use std::time::Instant;

use super::runtime::{ByteStream, DriverTimer};

pub(crate) struct Io<S> {
    pub(crate) stream: S,
    /// Bytes from `poll_transmit`; `out[written..]` is still to be written.
    pub(crate) out: Vec<u8>,
    written: usize,
    /// Written bytes may sit in a buffer of the stream (TLS) until flushed.
    needs_flush: bool,
    /// EOF was read; the write side may still be in use.
    pub(crate) read_open: bool,
    /// A read or write failed; the stream is only good for dropping.
    pub(crate) broken: bool,
    /// The connection is busy (see `keep.rs`): a written buffer keeps its allocation (within
    /// [`KEPT_BYTES_MAX`](resock_core::KEPT_BYTES_MAX)) for the session's next batch.
    pub(crate) keep: bool,
}

impl<S: ByteStream> Io<S> {
    pub(crate) fn new(stream: S) -> Self {
        Io {
            stream,
            out: Vec::new(),
            written: 0,
            needs_flush: false,
            read_open: true,
            broken: false,
            keep: false,
        }
    }

    /// Whether drained buffers stay allocated (see `keep`); `false` frees the write buffer now
    /// if everything in it was written.
    pub(crate) fn keep_buffers(&mut self, keep: bool) {
        self.keep = keep;
        if !keep && self.out.is_empty() {
            self.out = Vec::new();
        }
    }

    /// Whether every byte taken so far was written and flushed.
    pub(crate) fn is_idle(&self) -> bool {
        self.out.is_empty() && !self.needs_flush
    }

    /// Writes the pending bytes and then flushes. `Ready(Ok(true))` when this call finished
    /// the job, `Ready(Ok(false))` when there was nothing to do.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        if self.is_idle() {
            return Poll::Ready(Ok(false));
        }
        while self.written < self.out.len() {
            match self.stream.poll_write(cx, &self.out[self.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.written += n;
                    self.needs_flush = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // Everything was written: let the buffer go, unless the connection is busy. The session
        // swaps its own buffer in on the next transmit (and this one into its own), so an idle
        // connection holds no write buffer at all, and a busy one allocates none per batch.
        if self.keep && self.out.capacity() <= resock_core::KEPT_BYTES_MAX {
            self.out.clear();
        } else {
            self.out = Vec::new();
        }
        self.written = 0;
        match self.stream.poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                self.needs_flush = false;
                Poll::Ready(Ok(true))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    pub(crate) fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_read(cx, buf)
    }
}

/// A transport the session let go of: its last bytes (a close frame) are written, then it is
/// closed (TLS close_notify, TCP FIN), all within a deadline, while the session moves on.
pub(crate) struct Retiring<S, T> {
    io: Io<S>,
    deadline: T,
}

impl<S: ByteStream, T: DriverTimer> Retiring<S, T> {
    /// Retires `io`, giving it until `deadline` on `timer` (an unarmed timer of the runtime).
    pub(crate) fn new(io: Io<S>, mut timer: T, deadline: Instant) -> Self {
        timer.set_at(deadline);
        Retiring { io, deadline: timer }
    }

    /// `Ready` once the transport is closed, failed, or ran out of time.
    pub(crate) fn poll_done(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.deadline.poll_fired(cx).is_ready() {
            return Poll::Ready(());
        }
        match self.io.poll_write_out(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(_)) => return Poll::Ready(()),
            Poll::Ready(Ok(_)) => {}
        }
        self.io.stream.poll_close(cx).map(|_| ())
    }
}
