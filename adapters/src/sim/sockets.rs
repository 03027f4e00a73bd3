//! What the simulated runtime's streams and timers share with their world: the virtual time,
//! the client side of every simulated connection (bytes that arrived, whether it is open), the
//! operations the clients asked for and the world has not yet carried to the network, and the
//! armed timers. The world moves these to and from its [`Network`](resock_core::sim::Network)
//! between polls of its tasks.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Instant;

use resock_core::session::{TransportError, TransportErrorKind, TransportId};

/// The virtual time of a world, read by the clients' drivers and handles, with the number of
/// the world it belongs to (how a blocking client's helpers find the world to run).
#[derive(Debug)]
pub(crate) struct VirtualTime {
    start: Instant,
    now: Mutex<Instant>,
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))] // read by the blocking client only
    world: u64,
}

impl VirtualTime {
    pub(crate) fn new(start: Instant, world: u64) -> Self {
        VirtualTime {
            start,
            now: Mutex::new(start),
            world,
        }
    }

    /// The virtual now.
    pub(crate) fn now(&self) -> Instant {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The virtual wall clock: 2026-01-01T00:00:00Z plus the virtual time since the world
    /// started (what typed messages are stamped with).
    pub(crate) fn wall(&self) -> std::time::SystemTime {
        super::wall_start() + (self.now() - self.start)
    }

    pub(crate) fn set(&self, at: Instant) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = (*now).max(at);
    }

    /// The number of the world this clock belongs to.
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    pub(crate) fn world(&self) -> u64 {
        self.world
    }
}

/// A request from a client's stream to the network.
#[derive(Debug)]
pub(crate) enum Op {
    Open(TransportId),
    Write(TransportId, Vec<u8>),
    Finish(TransportId),
}

/// Where a simulated connection stands, on the client's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Connecting,
    Open,
    /// The server closed: reads see EOF once the bytes that came before are read.
    Eof,
    /// The connect failed or the connection was reset.
    Failed(TransportErrorKind),
    /// The client dropped its stream.
    Gone,
}

#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) phase: Phase,
    pub(crate) inbound: VecDeque<u8>,
    pub(crate) waker: Option<Waker>,
    /// The client closed its write side.
    pub(crate) finished: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    next_id: u64,
    pub(crate) ops: Vec<Op>,
    pub(crate) endpoints: HashMap<TransportId, Endpoint>,
    /// Armed timers by (instant, key), each with the waker of its task.
    pub(crate) timers: BTreeMap<(Instant, u64), Waker>,
    next_timer: u64,
}

/// The table behind a lock, and the clock.
#[derive(Debug)]
pub(crate) struct Sockets {
    pub(crate) time: Arc<VirtualTime>,
    table: Mutex<Table>,
}

impl Sockets {
    pub(crate) fn new(time: Arc<VirtualTime>) -> Self {
        Sockets {
            time,
            table: Mutex::new(Table::default()),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Table {
    /// A new connection, asked of the network.
    pub(crate) fn open(&mut self) -> TransportId {
        self.next_id += 1;
        let id = TransportId(self.next_id);
        self.endpoints.insert(
            id,
            Endpoint {
                phase: Phase::Connecting,
                inbound: VecDeque::new(),
                waker: None,
                finished: false,
            },
        );
        self.ops.push(Op::Open(id));
        id
    }

    /// A fresh key for a timer.
    pub(crate) fn timer_key(&mut self) -> u64 {
        self.next_timer += 1;
        self.next_timer
    }

    /// The instant of the earliest armed timer.
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        self.timers.keys().next().map(|(at, _)| *at)
    }

    /// Wakes every timer due at `now`.
    pub(crate) fn fire_timers(&mut self, now: Instant) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            entry.remove().wake();
        }
    }

    /// Sets the phase of `id` and wakes its task.
    pub(crate) fn set_phase(&mut self, id: TransportId, phase: Phase) {
        if let Some(endpoint) = self.endpoints.get_mut(&id) {
            if endpoint.phase != Phase::Gone {
                endpoint.phase = phase;
            }
            if let Some(waker) = endpoint.waker.take() {
                waker.wake();
            }
        }
    }

    /// Bytes for `id` arrived; wakes its reader.
    pub(crate) fn arrive(&mut self, id: TransportId, bytes: &[u8]) {
        if let Some(endpoint) = self.endpoints.get_mut(&id) {
            endpoint.inbound.extend(bytes);
            if let Some(waker) = endpoint.waker.take() {
                waker.wake();
            }
        }
    }
}

/// The IO error a simulated failure of `kind` shows to the driver, carrying the kind itself so
/// the session sees exactly the kind the script chose.
pub(crate) fn failure(kind: TransportErrorKind) -> io::Error {
    let (io_kind, message) = match kind {
        TransportErrorKind::Refused => (io::ErrorKind::ConnectionRefused, "connection refused (simulated)"),
        TransportErrorKind::Reset => (io::ErrorKind::ConnectionReset, "connection reset (simulated)"),
        TransportErrorKind::TimedOut => (io::ErrorKind::TimedOut, "timed out (simulated)"),
        _ => (io::ErrorKind::Other, "transport failure (simulated)"),
    };
    io::Error::new(io_kind, TransportError::new(kind, message))
}
