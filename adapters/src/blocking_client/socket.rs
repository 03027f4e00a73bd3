//! The transport of the blocking client as the poller sees it: a non-blocking [`Stream`]
//! registered with the client's [`Poller`], so the owner thread can wait on the socket, the
//! session's next deadline and its senders at once. Writes hand over every byte of a buffer
//! (frames are never torn), waiting for writability when the socket is full, within a timeout.

use std::io::{self, Read};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polling::{Event, Events, Poller};

use crate::net::Stream;

/// The poller key of the client's socket (it has at most one).
const SOCKET_KEY: usize = 1;

/// What one wait on the poller saw.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Ready {
    /// The socket has data (or EOF, or an error) to read.
    pub(super) readable: bool,
}

/// Waits on `poller` until `deadline` (`None`: until something happens): the socket of
/// `registered` when its flag says to read, or a sender's notification.
pub(super) fn wait(
    poller: &Poller,
    registered: Option<(&Registered, bool)>,
    deadline: Option<Instant>,
) -> io::Result<Ready> {
    // The registration is one-shot: an event disarms it. It is armed again only to read; a
    // socket that is not read stays disarmed after at most one more event, so a hang-up (which
    // the OS reports whatever the interest) cannot wake the owner over and over.
    if let Some((socket, true)) = registered {
        poller.modify(socket.stream.tcp(), Event::readable(SOCKET_KEY))?;
    }
    let mut events = Events::with_capacity(NonZeroUsize::MIN);
    let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    poller.wait(&mut events, timeout)?;
    Ok(Ready {
        readable: events.iter().any(|e| e.key == SOCKET_KEY && e.readable),
    })
}

/// A stream registered with the client's poller; dropping it removes the registration before
/// the socket closes.
pub(super) struct Registered {
    stream: Stream,
    poller: Arc<Poller>,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Registered").field(&self.stream).finish()
    }
}

impl Registered {
    /// Makes `stream` non-blocking and registers it with `poller` (no interest yet).
    pub(super) fn new(stream: Stream, poller: Arc<Poller>) -> io::Result<Registered> {
        stream.tcp().set_nonblocking(true)?;
        // SAFETY: `poller.add` requires the socket to be deleted from the poller before it is
        // closed. The socket is owned by `stream`, which only this `Registered` holds and never
        // gives away; its `Drop` deletes the registration before the fields (and so the socket)
        // are dropped.
        #[allow(unsafe_code)]
        unsafe {
            poller.add(stream.tcp(), Event::none(SOCKET_KEY))?;
        }
        Ok(Registered { stream, poller })
    }

    /// One non-blocking read: `WouldBlock` when nothing is there yet (for TLS, also when only
    /// part of a record arrived), `Ok(0)` at EOF.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }

    /// Whether the TLS layer holds bytes it still has to write (an alert, a key update).
    pub(super) fn wants_write(&self) -> bool {
        self.stream.wants_write()
    }

    /// Writes all of `buf`, then whatever the TLS layer still holds. When the socket is full
    /// it waits for writability on the poller; it fails with `TimedOut` when the socket takes
    /// nothing more for `timeout` (then the transport is useless: a frame may be cut).
    pub(super) fn write_all(&mut self, buf: &[u8], timeout: Duration) -> io::Result<()> {
        let mut written = 0;
        let mut deadline = resock_core::saturating_later(Instant::now(), timeout);
        loop {
            let before = written;
            let mut blocked = false;
            while written < buf.len() {
                match self.stream.write_nonblocking(&buf[written..]) {
                    Ok(0) => {
                        blocked = true; // the TLS buffer is full until it is flushed
                        break;
                    }
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        blocked = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let flushed = match self.stream.flush_nonblocking() {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
                Err(e) => return Err(e),
            };
            if written == buf.len() && flushed {
                return Ok(());
            }
            if written > before {
                deadline = resock_core::saturating_later(Instant::now(), timeout);
            }
            if flushed && !blocked {
                continue; // the flush made room in the TLS buffer
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the server took no data for the write timeout",
                ));
            }
            self.poller.modify(self.stream.tcp(), Event::writable(SOCKET_KEY))?;
            let mut events = Events::with_capacity(NonZeroUsize::MIN);
            self.poller
                .wait(&mut events, Some(deadline.saturating_duration_since(Instant::now())))?;
        }
    }

    /// Ends the stream (TLS `close_notify` as far as the socket takes it, then a TCP shutdown).
    pub(super) fn shutdown(&mut self) {
        self.stream.shutdown();
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.poller.delete(self.stream.tcp()).ok();
    }
}
