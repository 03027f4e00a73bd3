//! The blocking client's seam to the outside world: how it opens a transport, reads and writes
//! it, waits, and reads the time. On the operating system that is DNS, TCP and TLS, one
//! poller and the system clock; in a simulated world (feature `sim`) it is the world's
//! connections and virtual clock, and waiting runs the world.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use resock_core::WsUrl;
use resock_core::session::{TransportError, TransportErrorKind};

use super::sender::Shared;
use super::socket::{self, Ready, Registered};
use crate::blocking::WRITE_TIMEOUT;
use crate::clock::Clock;
use crate::net::{self, TlsConfig};
use crate::proxy::ProxyPlan;

/// How long to wait when the session names no deadline and there is no poller; a guard, as
/// every state that waits has a deadline or a socket.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Where the client's transports and time come from.
#[derive(Debug)]
pub(crate) enum Io {
    /// Sockets, the poller (held by [`Shared`], which senders wake) and the system clock.
    Os {
        /// The TLS configuration for `wss://`, or why there is none.
        tls: Result<Option<TlsConfig>, TransportError>,
        /// Why no transport can open when the OS refused a poller.
        poller_error: Option<TransportError>,
        /// Which proxy each URL goes through.
        proxy: ProxyPlan,
    },
    /// A shared simulated world.
    #[cfg(feature = "sim")]
    Sim(crate::sim::WorldLink),
}

/// One open transport.
#[derive(Debug)]
pub(super) enum Socket {
    Os(Registered),
    #[cfg(feature = "sim")]
    Sim(crate::sim::SimConnection),
}

impl Io {
    /// The clock every deadline of the client is measured on.
    pub(super) fn clock(&self) -> Clock {
        match self {
            Io::Os { .. } => Clock::System,
            #[cfg(feature = "sim")]
            Io::Sim(link) => link.clock(),
        }
    }

    /// Opens a transport to `url`, giving up at `deadline`.
    pub(super) fn open(&self, url: &WsUrl, deadline: Instant, shared: &Shared) -> Result<Socket, TransportError> {
        match self {
            Io::Os {
                tls,
                poller_error,
                proxy,
            } => match (tls, shared.poller(), poller_error) {
                (Ok(tls), Some(poller), _) => {
                    let proxy = proxy.for_url(url)?;
                    net::open(url, deadline, tls.as_ref(), WRITE_TIMEOUT, proxy.as_ref()).and_then(|stream| {
                        Registered::new(stream, Arc::clone(poller))
                            .map(Socket::Os)
                            .map_err(|e| net::transport_error("registering the socket with the poller", &e))
                    })
                }
                (Err(error), _, _) => Err(error.clone()),
                (_, _, Some(error)) => Err(error.clone()),
                (_, None, None) => Err(TransportError::new(TransportErrorKind::Io, "no poller")),
            },
            #[cfg(feature = "sim")]
            Io::Sim(link) => link.open(deadline).map(Socket::Sim),
        }
    }

    /// Waits until `deadline` (`None`: until something happens) for the socket of
    /// `transport` when its flag says to read, or a sender. In a simulated world this runs the
    /// world one step instead.
    pub(super) fn wait(
        &self,
        shared: &Arc<Shared>,
        transport: Option<(&Socket, bool)>,
        deadline: Option<Instant>,
        now: Instant,
    ) -> io::Result<Ready> {
        match self {
            Io::Os { .. } => match shared.poller() {
                Some(poller) => {
                    let registered = transport.and_then(|(socket, read)| Some((socket.registered()?, read)));
                    socket::wait(poller, registered, deadline)
                }
                None => {
                    shared.wait(deadline.unwrap_or(now + IDLE_WAIT));
                    Ok(Ready::default())
                }
            },
            #[cfg(feature = "sim")]
            Io::Sim(link) => {
                let connection = transport.and_then(|(socket, read)| match socket {
                    Socket::Sim(connection) => Some((connection, read)),
                    Socket::Os(_) => None,
                });
                if link.wait(connection, deadline) == crate::sim::Waited::Idle {
                    // Nothing in the world will ever happen: only a sender on another thread
                    // can wake the client, and without one it would wait forever.
                    assert!(
                        Arc::strong_count(shared) > 1,
                        "a blocking client in a simulated world waits with nothing due, ever: \
                         the call would block forever"
                    );
                    shared.wait_for_senders(IDLE_WAIT);
                }
                Ok(Ready { readable: true })
            }
        }
    }
}

impl Socket {
    /// The socket as the poller knows it, if it is a real one.
    fn registered(&self) -> Option<&Registered> {
        match self {
            Socket::Os(registered) => Some(registered),
            #[cfg(feature = "sim")]
            Socket::Sim(_) => None,
        }
    }

    /// One non-blocking read: `WouldBlock` when nothing is there yet, `Ok(0)` at EOF.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Os(registered) => registered.read(buf),
            #[cfg(feature = "sim")]
            Socket::Sim(connection) => connection.read(buf),
        }
    }

    /// Whether the TLS layer holds bytes it still has to write.
    pub(super) fn wants_write(&self) -> bool {
        match self {
            Socket::Os(registered) => registered.wants_write(),
            #[cfg(feature = "sim")]
            Socket::Sim(_) => false,
        }
    }

    /// Writes all of `buf`, waiting at most `timeout` for a full socket to take more.
    pub(super) fn write_all(&mut self, buf: &[u8], timeout: Duration) -> io::Result<()> {
        match self {
            Socket::Os(registered) => registered.write_all(buf, timeout),
            #[cfg(feature = "sim")]
            Socket::Sim(connection) => connection.write_all(buf),
        }
    }

    /// Ends the stream.
    pub(super) fn shutdown(&mut self) {
        match self {
            Socket::Os(registered) => registered.shutdown(),
            #[cfg(feature = "sim")]
            Socket::Sim(connection) => connection.shutdown(),
        }
    }
}
