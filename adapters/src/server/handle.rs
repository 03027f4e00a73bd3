//! [`Server`]: the handle of a listening server: accept, broadcast, shut down.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use event_listener::EventListener;

use super::broadcast::Broadcast;
use super::peer::Peer;
use super::shared::ServerShared;
use crate::async_driver::DriverTimer;

/// Extra time `shutdown` gives the last connections after their close timeout (writing the
/// close, the TCP close).
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// A listening WebSocket server, from [`ServerBuilder`](super::ServerBuilder)'s `bind_*`
/// methods. Its accept loop and connections run as tasks of the runtime; this handle takes the
/// accepted connections, broadcasts and shuts down. Dropping it stops accepting and closes the
/// connections [`accept`](Self::accept) had not handed out; the others stay until they close
/// or their last [`Peer`] is dropped.
pub struct Server {
    pub(crate) shared: Arc<ServerShared>,
    pub(crate) local_addr: SocketAddr,
}

impl Server {
    /// The address the server listens on (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next connection that completed its opening handshake (the decision hook accepted
    /// it), in order; `None` once the server stopped accepting (shutdown). Cancel-safe.
    pub async fn accept(&self) -> Option<Peer> {
        loop {
            let listener: EventListener = {
                let mut queue = self.shared.accepted();
                if let Some(peer) = queue.peers.pop_front() {
                    crate::release_if_drained(&mut queue.peers);
                    return Some(peer);
                }
                if queue.closed {
                    return None;
                }
                self.shared.accepted_changed.listen()
            };
            listener.await;
        }
    }

    /// A handle that sends to every open connection.
    pub fn broadcast(&self) -> Broadcast {
        Broadcast {
            server: Arc::clone(&self.shared),
        }
    }

    /// Connections held right now, handshakes included.
    pub fn connections(&self) -> usize {
        self.shared.registry().len()
    }

    /// Stops accepting, closes every connection with 1001 "server shutting down" (after the
    /// messages already queued; a request still waiting for its decision is answered 503),
    /// and waits for the close handshakes, at most the close timeout (plus half a second for
    /// the last writes). Returns how many connections had not finished by then (they are
    /// closed by their own close timeout). Connections not yet taken by
    /// [`accept`](Self::accept) are closed too; `accept` answers `None` afterwards.
    pub async fn shutdown(&self) -> usize {
        let shared = &self.shared;
        shared.shutting_down.store(true, Ordering::Release);
        shared.stop();
        for conn in shared.connections() {
            conn.wake.notify();
        }
        let deadline = Instant::now() + shared.close_timeout.min(Duration::from_secs(3600)) + SHUTDOWN_GRACE;
        let mut timer = (shared.timer)();
        timer.set_at(deadline);
        loop {
            let listener = shared.task_ended.listen();
            let left = shared.registry().len();
            if left == 0 {
                return 0;
            }
            let mut listener = std::pin::pin!(listener);
            let timed_out = poll_fn(|cx| {
                if listener.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(false);
                }
                timer.poll_fired(cx).map(|()| true)
            })
            .await;
            if timed_out {
                return shared.registry().len();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("connections", &self.connections())
            .finish()
    }
}
