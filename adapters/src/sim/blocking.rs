//! The blocking client in a shared world: its connections are the world's simulated ones, its
//! clock is the world's, and a call that would wait runs the world instead (every task until
//! idle, then the clock to the next deadline, never past the call's own).

use std::io;
use std::sync::Arc;
use std::time::Instant;

use resock_core::ConfigError;
use resock_core::session::{TransportError, TransportErrorKind, TransportId};

use super::shared::{SharedWorld, Unreachable, with_world};
use super::sockets::{Op, Phase, Sockets, failure};
use crate::ClientBuilder;
use crate::blocking_client::{Client, Io};
use crate::clock::Clock;

/// A blocking client's way into its shared world: the world's number and its connections.
#[derive(Debug)]
pub(crate) struct WorldLink {
    world: u64,
    sockets: Arc<Sockets>,
}

/// What one wait in the world saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The world moved (its tasks ran, or its clock moved on).
    Moved,
    /// Nothing in the world is due, ever, and no deadline was given: only another thread (a
    /// sender) can change anything.
    Idle,
}

impl WorldLink {
    /// The world's virtual clock.
    pub(crate) fn clock(&self) -> Clock {
        Clock::Virtual(Arc::clone(&self.sockets.time))
    }

    /// Opens a connection to the world's server, running the world until it is open, it
    /// failed, or `deadline` passed (a `TimedOut` failure, as a real connect's).
    pub(crate) fn open(&self, deadline: Instant) -> Result<SimConnection, TransportError> {
        let connection = SimConnection {
            sockets: Arc::clone(&self.sockets),
            id: self.sockets.lock().open(),
        };
        let outcome = with_world(self.world, |world| {
            loop {
                world.settle();
                let phase = connection.phase();
                match phase {
                    Some(Phase::Connecting) if world.now() >= deadline => {
                        return Err(TransportError::new(
                            TransportErrorKind::TimedOut,
                            "connecting: timed out (simulated)",
                        ));
                    }
                    Some(Phase::Connecting) => {
                        if !world.step(deadline) {
                            world.move_clock(deadline);
                        }
                    }
                    Some(Phase::Failed(kind)) => return Err(crate::net::transport_error("connecting", &failure(kind))),
                    Some(_) => return Ok(()),
                    None => return Err(TransportError::new(TransportErrorKind::Io, "connecting: gone")),
                }
            }
        })
        .unwrap_or_else(|why| {
            if !std::thread::panicking() {
                panic!("{}", why.explain());
            }
            Err(TransportError::new(TransportErrorKind::Io, why.explain()))
        });
        outcome.map(|()| connection)
    }

    /// Runs the world once on behalf of a waiting client: every task until idle; then, unless
    /// `connection` (when `read`) has something to read, the clock to the world's next
    /// deadline or `deadline`, whichever is first.
    ///
    /// When the world is gone (dropped before the client), nothing answers any more: time
    /// moves to `deadline`, so a close still ends; without a deadline the call panics, as it
    /// could never return.
    pub(crate) fn wait(&self, connection: Option<(&SimConnection, bool)>, deadline: Option<Instant>) -> Waited {
        let waited = with_world(self.world, |world| {
            let running = world.now().saturating_duration_since(world.scripted_at.get());
            if running > super::shared::BLOCKING_CALL_LIMIT && !std::thread::panicking() {
                panic!(
                    "a blocking call ran {} days of virtual time without what it waits for: the \
                     simulated server never gives it (script it, or use a call with a timeout)",
                    running.as_secs() / 86_400
                );
            }
            world.settle();
            if connection.is_some_and(|(c, read)| read && c.has_news()) {
                return Waited::Moved;
            }
            let next = match (world.next_deadline(), deadline) {
                (Some(a), Some(b)) => a.min(b),
                (Some(at), None) | (None, Some(at)) => at,
                (None, None) => return Waited::Idle,
            };
            world.move_clock(next);
            world.settle();
            Waited::Moved
        });
        match (waited, deadline) {
            (Ok(waited), _) => waited,
            (Err(Unreachable::Gone), Some(deadline)) => {
                self.sockets.time.set(deadline);
                Waited::Moved
            }
            // Unwinding already (a test failed mid-call): a second panic would abort.
            (Err(_), Some(deadline)) if std::thread::panicking() => {
                self.sockets.time.set(deadline);
                Waited::Moved
            }
            (Err(why), _) => panic!("{}", why.explain()),
        }
    }
}

/// Moves the clock of the world numbered `world` to `deadline` when this thread holds it (a
/// sender or subscription waiting on the owner's thread, where nobody else moves time): true
/// if it did.
pub(crate) fn run_world_to(world: u64, deadline: Instant) -> bool {
    with_world(world, |world| world.run_to(deadline)).is_ok()
}

/// The client's side of a simulated connection, read and written without waiting.
#[derive(Debug)]
pub(crate) struct SimConnection {
    sockets: Arc<Sockets>,
    id: TransportId,
}

impl SimConnection {
    fn phase(&self) -> Option<Phase> {
        self.sockets.lock().endpoints.get(&self.id).map(|e| e.phase)
    }

    /// Whether a read would find something: bytes, the end, or a failure.
    fn has_news(&self) -> bool {
        let table = self.sockets.lock();
        table
            .endpoints
            .get(&self.id)
            .is_none_or(|e| !e.inbound.is_empty() || !matches!(e.phase, Phase::Connecting | Phase::Open))
    }

    /// One read: `WouldBlock` when nothing arrived yet, `Ok(0)` at the end.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut table = self.sockets.lock();
        let Some(endpoint) = table.endpoints.get_mut(&self.id) else {
            return Ok(0);
        };
        if !endpoint.inbound.is_empty() {
            let n = buf.len().min(endpoint.inbound.len());
            for (slot, byte) in buf.iter_mut().zip(endpoint.inbound.drain(..n)) {
                *slot = byte;
            }
            return Ok(n);
        }
        match endpoint.phase {
            Phase::Failed(kind) => Err(failure(kind)),
            Phase::Eof | Phase::Gone => Ok(0),
            Phase::Connecting | Phase::Open => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Hands all of `buf` to the world (it never pushes back).
    pub(crate) fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut table = self.sockets.lock();
        match table.endpoints.get(&self.id).map(|e| (e.phase, e.finished)) {
            Some((Phase::Failed(kind), _)) => Err(failure(kind)),
            Some((_, false)) => {
                if !buf.is_empty() {
                    table.ops.push(Op::Write(self.id, buf.to_vec()));
                }
                Ok(())
            }
            _ => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    /// Closes the write side (FIN).
    pub(crate) fn shutdown(&mut self) {
        let mut table = self.sockets.lock();
        if let Some(endpoint) = table.endpoints.get_mut(&self.id) {
            if !endpoint.finished {
                endpoint.finished = true;
                table.ops.push(Op::Finish(self.id));
            }
        }
    }
}

impl Drop for SimConnection {
    /// Dropping the connection closes it (FIN) if it was not closed yet.
    fn drop(&mut self) {
        let mut table = self.sockets.lock();
        if let Some(endpoint) = table.endpoints.remove(&self.id) {
            if !endpoint.finished {
                table.ops.push(Op::Finish(self.id));
            }
        }
    }
}

impl ClientBuilder {
    /// Starts a blocking [`Client`](crate::blocking_client::Client) in a shared simulated
    /// world: it connects to the world's server whatever host the URL names (`wss://`
    /// included, as plain WebSocket), reads the world's virtual clock, and every call that
    /// would wait (`recv`, `next_event`, `connected`, `close`, a `send` to a full queue) runs
    /// the world instead until it can answer: the world's tasks until idle, then its clock to
    /// the next deadline, never past the call's own. It is the same type as on real sockets,
    /// so the application's code runs unchanged; call it on the thread that shared the world.
    ///
    /// Fails, before anything connects, when a setting can never work
    /// ([`validate`](ClientBuilder::validate)).
    pub fn connect_blocking_sim(self, world: &SharedWorld) -> Result<Client, ConfigError> {
        self.validate()?;
        let seed = world.borrow_mut().next_client_seed();
        let link = WorldLink {
            world: world.number(),
            sockets: Arc::clone(&world.borrow().sockets),
        };
        self.build_blocking(Io::Sim(link), None, seed)
    }
}
