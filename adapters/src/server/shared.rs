//! What the tasks of a server share with its handles: [`ServerShared`] (every connection, the
//! queue of accepted ones, shutdown) and, per connection, [`ConnShared`] (the core connection
//! behind a mutex never held across an await, the inbox of `recv`, and the wake-ups both ways).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use event_listener::Event;
use resock_core::server::{ServerClose, ServerConnection};
use resock_core::{Message, Request};

use super::broadcast_log::{BroadcastLog, Subscription};
use super::peer::Peer;
use super::runtime::AnyTimer;
use crate::async_driver::DriverWake;

/// A connection that completed its opening handshake: what its handles show.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) request: Request,
    pub(crate) subprotocol: Option<String>,
}

/// One connection's state, under [`ConnShared::state`].
pub(crate) struct ConnState {
    pub(crate) core: ServerConnection,
    /// Data messages for `recv`, oldest first (the client's policy: the latest until the
    /// first `recv`, then a full inbox pauses reading).
    pub(crate) inbox: VecDeque<Message>,
    /// `recv` was called: received messages must not be dropped from now on.
    pub(crate) receiving: bool,
    /// Why the connection ended, once the core said so.
    pub(crate) closed: Option<ServerClose>,
    /// The task ended: nothing more will happen.
    pub(crate) finished: bool,
}

impl ConnState {
    /// Whether the task must stop reading: `recv` is in use, its inbox is full, and the
    /// connection is open.
    pub(crate) fn inbox_blocks_reading(&self, capacity: usize) -> bool {
        self.receiving && self.inbox.len() >= capacity && self.core.is_open()
    }

    /// Keeps a received data message for `recv`.
    pub(crate) fn keep_for_recv(&mut self, message: Message, capacity: usize) {
        if self.inbox.len() >= capacity {
            if !self.receiving {
                // Nobody reads through `recv` (yet): keep the latest.
                self.inbox.pop_front();
            } else if !self.core.is_open() {
                // Closing: reads go on to the end regardless of the inbox, so the newest
                // are dropped and the inbox stays bounded.
                return;
            }
            // Otherwise the read that brought it filled the inbox: reading pauses after it.
        }
        self.inbox.push_back(message);
    }
}

/// One connection, shared by its task, its [`Peer`] handles and the server's registry.
pub(crate) struct ConnShared {
    pub(crate) id: u64,
    pub(crate) peer_addr: SocketAddr,
    pub(crate) state: Mutex<ConnState>,
    /// Handles to the task: a message was queued, a close asked for, room made in the inbox,
    /// the budget or shutdown wants it closed.
    pub(crate) wake: DriverWake,
    /// Task to handles: messages arrived, the connection closed or the task ended.
    pub(crate) changed: Event,
    /// Live [`Peer`] handles; when the last one goes the task closes with 1000.
    pub(crate) handles: AtomicUsize,
    /// The inbound budget chose this connection to close (1009).
    pub(crate) evict: AtomicBool,
    /// Most data messages held for `recv`.
    pub(crate) recv_capacity: usize,
    /// Its place in the server's broadcast log.
    pub(crate) subscription: Subscription,
}

impl ConnShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The accepted connections not yet taken by [`Server::accept`](super::Server::accept).
#[derive(Default)]
pub(crate) struct AcceptQueue {
    pub(crate) peers: VecDeque<Peer>,
    /// No connection will be queued any more (the server stopped accepting).
    pub(crate) closed: bool,
}

/// A server's state, shared by its accept loop, its connection tasks and its handles.
pub(crate) struct ServerShared {
    pub(crate) accepted: Mutex<AcceptQueue>,
    /// A connection was queued or the queue closed.
    pub(crate) accepted_changed: Event,
    /// Every connection task still running, handshakes included.
    pub(crate) registry: Mutex<HashMap<u64, Arc<ConnShared>>>,
    /// A connection task ended.
    pub(crate) task_ended: Event,
    /// `shutdown` was called: every connection closes with 1001, none is accepted.
    pub(crate) shutting_down: AtomicBool,
    /// The accept loop must stop (shutdown, or the `Server` dropped).
    pub(crate) stop_accepting: AtomicBool,
    /// Wakes the accept loop.
    pub(crate) acceptor_wake: DriverWake,
    /// The connections' close timeout: how long `shutdown` waits for close handshakes.
    pub(crate) close_timeout: Duration,
    /// A timer of the server's runtime.
    pub(crate) timer: Arc<dyn Fn() -> AnyTimer + Send + Sync>,
    /// What [`Broadcast`](super::Broadcast) published, for the connection tasks to take.
    pub(crate) broadcasts: Arc<BroadcastLog>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ServerShared {
    pub(crate) fn accepted(&self) -> MutexGuard<'_, AcceptQueue> {
        lock(&self.accepted)
    }

    pub(crate) fn registry(&self) -> MutexGuard<'_, HashMap<u64, Arc<ConnShared>>> {
        lock(&self.registry)
    }

    /// Every connection task still running.
    pub(crate) fn connections(&self) -> Vec<Arc<ConnShared>> {
        self.registry().values().cloned().collect()
    }

    /// Stops the accept loop and closes the queue of accepted connections.
    pub(crate) fn stop(&self) {
        self.stop_accepting.store(true, Ordering::Release);
        self.acceptor_wake.notify();
    }

    /// Closes the accept queue: `accept` answers `None` from now on, and the connections
    /// nobody took lose their only handle (so they close with 1000, or 1001 in a shutdown).
    pub(crate) fn close_queue(&self) {
        let unclaimed = {
            let mut queue = self.accepted();
            queue.closed = true;
            std::mem::take(&mut queue.peers)
        };
        drop(unclaimed);
        self.accepted_changed.notify(usize::MAX);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use resock_core::Input;
    use resock_core::server::{ServerConfig, ServerEvent};

    use super::*;

    fn state(open: bool) -> ConnState {
        let now = Instant::now();
        let mut core = ServerConnection::new(&ServerConfig::default(), [7; 32], now);
        if open {
            let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                           Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
            core.handle_input(now, Input::Data(request.as_bytes()));
            assert!(matches!(core.poll_event(), Some(ServerEvent::Request(_))));
            core.accept(now, None, &[]);
            assert!(core.is_open());
        }
        ConnState {
            core,
            inbox: VecDeque::new(),
            receiving: false,
            closed: None,
            finished: false,
        }
    }

    fn texts(state: &ConnState) -> Vec<String> {
        state.inbox.iter().map(|m| m.as_text().unwrap().to_owned()).collect()
    }

    #[test]
    fn the_inbox_keeps_the_latest_until_recv_then_pauses_reading_and_drops_the_newest_once_closing() {
        let mut open = state(true);
        for n in 0..5 {
            open.keep_for_recv(Message::text(n.to_string()), 3);
        }
        assert_eq!(texts(&open), ["2", "3", "4"], "before recv: the latest");
        assert!(!open.inbox_blocks_reading(3), "nobody called recv: reading goes on");
        open.receiving = true;
        assert!(open.inbox_blocks_reading(3));
        open.keep_for_recv(Message::text("5"), 3);
        assert_eq!(texts(&open), ["2", "3", "4", "5"], "after recv: nothing lost");

        let mut closing = state(false);
        closing.receiving = true;
        for n in 0..5 {
            closing.keep_for_recv(Message::text(n.to_string()), 3);
        }
        assert_eq!(
            texts(&closing),
            ["0", "1", "2"],
            "not open: bounded, the newest dropped"
        );
        assert!(!closing.inbox_blocks_reading(3), "not open: reads go on to the end");
    }
}
