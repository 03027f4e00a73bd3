//! In-memory tokio IO for the async peers (fastwebsockets, tokio-websockets), and the
//! one-poll executor that drives them: the stream is always ready, so no future ever waits and
//! no runtime, waker or scheduler runs inside a measured pass.

use std::cell::Cell;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::READ_CHUNK;

/// Bytes an [`AsyncMemStream`] has handed out and taken in, readable while a library owns the
/// stream (fastwebsockets has no accessor for it), so each pass can check what was read and
/// written.
#[derive(Default)]
pub struct Traffic {
    /// Bytes returned by reads.
    pub read: Cell<usize>,
    /// Bytes accepted by writes.
    pub written: Cell<usize>,
}

/// Reads cycle over `input`, at most [`READ_CHUNK`] bytes per read and never past its end, so
/// a pass that takes every message of `input` leaves the stream at its start again (the same
/// as rewinding it). Every write copies its bytes into a reused buffer, cleared first, as a
/// socket copies them into the kernel.
pub struct AsyncMemStream<'a> {
    input: &'a [u8],
    position: usize,
    output: Vec<u8>,
    traffic: &'a Traffic,
}

impl<'a> AsyncMemStream<'a> {
    pub fn new(input: &'a [u8], traffic: &'a Traffic) -> Self {
        AsyncMemStream {
            input,
            position: 0,
            output: Vec::new(),
            traffic,
        }
    }

    /// The bytes of the last write (a whole frame when the library writes one per call).
    pub fn last_write(&self) -> &[u8] {
        &self.output
    }
}

impl AsyncRead for AsyncMemStream<'_> {
    fn poll_read(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let start = self.position;
        let n = buf.remaining().min(READ_CHUNK).min(self.input.len() - start);
        buf.put_slice(&self.input[start..start + n]);
        self.position = if start + n == self.input.len() { 0 } else { start + n };
        self.traffic.read.set(self.traffic.read.get() + n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for AsyncMemStream<'_> {
    fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.output.clear();
        self.output.extend_from_slice(buf);
        self.traffic.written.set(self.traffic.written.get() + buf.len());
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.output.clear();
        for buf in bufs {
            self.output.extend_from_slice(buf);
        }
        let n = self.output.len();
        self.traffic.written.set(self.traffic.written.get() + n);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Polls `future` once with a no-op waker and returns its output. Over an [`AsyncMemStream`] nothing
/// ever waits, so a pending future means a broken adapter, and this panics.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a future over in-memory IO returned Pending"),
    }
}
