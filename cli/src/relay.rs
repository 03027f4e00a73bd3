//! The echo (or broadcast) service that `resock serve` and the demo run on resock's async
//! [`Server`]: an accept loop and one task per connection, each on the chosen runtime. A task
//! takes its client's messages with [`Peer::recv`] and answers with [`Peer::send`] (echo) or
//! [`Broadcast::send`] (every open connection, the sender included); neither ever waits, so a
//! client that does not read is closed by the server (1008 "slow consumer") instead of holding
//! anyone up. What happens is told to an [`Observer`], which must not block either.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_lite::future;
use resock::{Broadcast, Message, Peer, Server, ServerClose, ServerCloseReason, ServerStats};
use smol::channel::{Receiver, Sender};

use crate::executor::{Executor, Spawner};

/// What the relay does with each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Send it back to its sender.
    Echo,
    /// Send it to every open connection, the sender included (encoded once).
    Broadcast,
}

/// Builds the message greeting the connection with this id, right after it opened.
pub type Greeting = Arc<dyn Fn(u64) -> Message + Send + Sync>;

/// Told what happens, from the connection's task; must return quickly.
pub trait Observer: Send + Sync + 'static {
    /// A connection opened.
    fn connected(&self, peer: &Peer);
    /// A connection sent a message.
    fn message(&self, id: u64, message: &Message);
    /// A connection ended.
    fn disconnected(&self, id: u64, close: &ServerClose);
}

/// Counts for the summary at the end.
#[derive(Debug, Default)]
pub struct Counts {
    /// Connections that opened.
    pub connections: AtomicU64,
    /// Messages received from clients.
    pub messages: AtomicU64,
    /// Connections closed with 1001 by the shutdown.
    pub going_away: AtomicU64,
    /// Connections closed as slow consumers (1008).
    pub slow: AtomicU64,
}

/// A running relay on a [`Server`].
pub struct Relay {
    server: Arc<Server>,
    /// Ends (with an error) once the accept loop and every connection task are gone: each
    /// holds a sender and never sends.
    tasks: Receiver<()>,
    counts: Arc<Counts>,
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Connections open when the shutdown started.
    pub open: usize,
    /// Connections whose close handshake had not finished within the close timeout.
    pub unfinished: usize,
    /// The server's counts of accepted and refused connections, at the end.
    pub stats: ServerStats,
}

struct Shared {
    mode: Mode,
    greeting: Option<Greeting>,
    observer: Arc<dyn Observer>,
    hub: Broadcast,
    counts: Arc<Counts>,
}

impl Relay {
    /// Starts the accept loop of `server` on `spawner`; each connection gets a task there.
    pub fn start(
        server: Server,
        spawner: Spawner,
        mode: Mode,
        greeting: Option<Greeting>,
        observer: Arc<dyn Observer>,
    ) -> Relay {
        let server = Arc::new(server);
        let counts = Arc::new(Counts::default());
        let shared = Arc::new(Shared {
            mode,
            greeting,
            observer,
            hub: server.broadcast(),
            counts: Arc::clone(&counts),
        });
        let (alive, tasks) = smol::channel::bounded(1);
        let accepting = Arc::clone(&server);
        let tasks_spawner = spawner.clone();
        spawner.spawn(async move {
            while let Some(peer) = accepting.accept().await {
                let task = serve_peer(peer, Arc::clone(&shared), alive.clone());
                tasks_spawner.spawn(task);
            }
            drop(alive);
        });
        Relay { server, tasks, counts }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// What happened so far, updated as it happens.
    pub fn counts_handle(&self) -> Arc<Counts> {
        Arc::clone(&self.counts)
    }

    /// Stops accepting, closes every connection with 1001, waits for the close handshakes (at
    /// most the close timeout), then gives the connection tasks up to `report_within` to tell
    /// the observer how their connection ended. The port is released once the accept loop
    /// has seen the stop (at once, on the runtime).
    pub async fn shutdown(self, executor: &Executor, report_within: Duration) -> Stopped {
        let open = self.server.connections();
        let unfinished = self.server.shutdown().await;
        let stats = self.server.stats();
        drop(self.server);
        let tasks = self.tasks;
        future::or(
            async move {
                // Err once every sender is gone: every task has ended.
                let _ = tasks.recv().await;
            },
            executor.sleep(report_within),
        )
        .await;
        Stopped {
            open,
            unfinished,
            stats,
        }
    }
}

/// One connection, from its opening to its end.
async fn serve_peer(peer: Peer, shared: Arc<Shared>, _alive: Sender<()>) {
    let id = peer.id();
    shared.counts.connections.fetch_add(1, Ordering::Relaxed);
    shared.observer.connected(&peer);
    if let Some(greeting) = &shared.greeting {
        // Refused only when the connection is already over; `closed` says how.
        let _ = peer.send(greeting(id));
    }
    while let Some(message) = peer.recv().await {
        shared.counts.messages.fetch_add(1, Ordering::Relaxed);
        shared.observer.message(id, &message);
        match shared.mode {
            // A full queue closes this client with 1008; `closed` reports it.
            Mode::Echo => drop(peer.send(message)),
            Mode::Broadcast => drop(shared.hub.send(message)),
        }
    }
    let close = peer.closed().await;
    match close.why {
        ServerCloseReason::GoingAway => shared.counts.going_away.fetch_add(1, Ordering::Relaxed),
        ServerCloseReason::SlowConsumer { .. } => shared.counts.slow.fetch_add(1, Ordering::Relaxed),
        _ => 0,
    };
    shared.observer.disconnected(id, &close);
}
