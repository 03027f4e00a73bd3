//! The server's broadcast log: what [`Broadcast`](super::Broadcast) publishes, once, for every
//! connection task to take into its own queue when it next runs (the shape of
//! `tokio::sync::broadcast`).
//!
//! Publishing takes one lock, appends the message (a [`PreparedMessage`]: `Clone` counts a
//! reference) and wakes only the connections that had caught up and said so; a connection
//! that is still busy finds the message in its next round. Each connection task, in each round
//! and under its own lock, moves what it has not taken yet into core's bounded queue
//! ([`ServerConnection::send_prepared`](resock_core::server::ServerConnection::send_prepared)),
//! so the per-connection bounds and the 1008 "slow consumer" close stay core's. The log is
//! bounded by the same limits (messages and payload bytes, `ServerConfig::max_queued_*`): a
//! connection whose next message was pushed out of it fell further behind than its queue may
//! hold, and is closed as a slow consumer when it next runs; the publisher wakes such a
//! connection ([`BroadcastLog::wake_pushed_out`]), since a task stuck on a full socket would
//! otherwise not run again until a timer of its own. An entry leaves the log as soon
//! as every connection subscribed when it was published has taken it (or left).
//!
//! Lock order: a connection's lock, then the log's; the publisher takes only the log's.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use resock_core::server::{PreparedMessage, ServerSendError};

use super::shared::{ConnShared, ConnState};

/// The cursor of a connection that does not take broadcasts (not open yet, or no longer).
const NOT_SUBSCRIBED: u64 = u64::MAX;
/// Entries whose room the log keeps once empty, so a steady trickle of broadcasts does not
/// allocate each time (about 40 bytes each).
const KEPT_CAPACITY: usize = 1024;

thread_local! {
    /// A publishing thread's list of connections to wake, swapped with the log's under its
    /// lock and emptied outside it: no allocation per publish.
    static TO_WAKE: RefCell<Vec<Arc<ConnShared>>> = const { RefCell::new(Vec::new()) };
}

/// One connection's place in its server's log. Changed only under the log's lock.
#[derive(Debug)]
pub(crate) struct Subscription {
    /// The server's log.
    log: Arc<BroadcastLog>,
    /// The sequence number of the next message to take, or [`NOT_SUBSCRIBED`].
    cursor: AtomicU64,
    /// The connection is in the log's list of those to wake at the next publish.
    waiting: AtomicBool,
    /// The connection subscribed once: it never subscribes again (it is closing or closed).
    left: AtomicBool,
}

impl Subscription {
    /// A connection of the server whose log is `log`, not subscribed until it is open.
    pub(crate) fn new(log: &Arc<BroadcastLog>) -> Self {
        Subscription {
            log: Arc::clone(log),
            cursor: AtomicU64::new(NOT_SUBSCRIBED),
            waiting: AtomicBool::new(false),
            left: AtomicBool::new(false),
        }
    }
}

impl ConnShared {
    /// Moves what the server broadcast and this connection has not taken yet into its queue,
    /// under its lock (see [`BroadcastLog::take_into`]): its task does it each round, and a
    /// handle before its own `send` or `close`, so a message sent after a broadcast goes after
    /// it. True when anything was queued or closed.
    pub(crate) fn take_broadcasts(self: &Arc<Self>, state: &mut ConnState, now: Instant) -> bool {
        self.subscription.log.take_into(self, state, now)
    }

    /// Unsubscribes this connection from the broadcast log (its task ended).
    pub(crate) fn leave_broadcasts(&self) {
        self.subscription.log.leave(self);
    }
}

/// What [`BroadcastLog::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Published {
    /// Logged for this many subscribed (open) connections.
    To(usize),
    /// Larger than a connection's whole queue (`max_queued_bytes`): not logged.
    TooLarge,
}

/// A published message and how many subscribers have yet to take it.
struct Entry {
    message: PreparedMessage,
    remaining: usize,
}

/// The log under its lock.
#[derive(Default)]
struct LogState {
    /// Oldest first; `entries[i]` has the sequence number `first_seq + i`.
    entries: VecDeque<Entry>,
    first_seq: u64,
    /// Payload bytes of `entries`.
    bytes: usize,
    /// Connections subscribed (their cursor is a sequence number).
    subscribers: usize,
    /// Caught-up connections to wake at the next publish.
    waiting: Vec<Arc<ConnShared>>,
}

impl LogState {
    /// The sequence number the next published message gets.
    fn head(&self) -> u64 {
        self.first_seq + self.entries.len() as u64
    }

    fn entry(&mut self, seq: u64) -> Option<&mut Entry> {
        let index = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.entries.get_mut(index)
    }

    /// Drops the oldest entries every subscriber has taken.
    fn release_taken(&mut self) {
        while self.entries.front().is_some_and(|e| e.remaining == 0) {
            self.pop_oldest();
        }
        if self.entries.is_empty() && self.entries.capacity() > KEPT_CAPACITY {
            // After a burst, an idle server keeps a small log allocation only.
            self.entries = VecDeque::new();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some(entry) = self.entries.pop_front() {
            self.bytes -= entry.message.len();
            self.first_seq += 1;
        }
    }

    /// Unsubscribes `conn`: the entries it had not taken no longer wait for it.
    fn leave(&mut self, conn: &ConnShared) {
        let sub = &conn.subscription;
        let cursor = sub.cursor.swap(NOT_SUBSCRIBED, Ordering::Relaxed);
        sub.left.store(true, Ordering::Relaxed);
        if cursor == NOT_SUBSCRIBED {
            return;
        }
        self.subscribers -= 1;
        for seq in cursor.max(self.first_seq)..self.head() {
            if let Some(entry) = self.entry(seq) {
                entry.remaining = entry.remaining.saturating_sub(1);
            }
        }
        if sub.waiting.swap(false, Ordering::Relaxed)
            && let Some(at) = self.waiting.iter().position(|c| std::ptr::eq(&**c, conn))
        {
            self.waiting.swap_remove(at);
        }
        self.release_taken();
    }
}

/// The server's broadcast log (see the module documentation).
pub(crate) struct BroadcastLog {
    state: Mutex<LogState>,
    /// Connections closed with 1008 while taking from the log, since the last report.
    slow_closes: AtomicUsize,
    /// A publish pushed out an entry some connection had not taken yet: that connection must
    /// be woken to find it out.
    pushed_out: AtomicBool,
    max_messages: usize,
    max_bytes: usize,
}

impl BroadcastLog {
    /// A log bounded like each connection's queue: `max_messages` messages and `max_bytes`
    /// payload bytes (both at least 1; `ServerConfig::validate` ensures it).
    pub(crate) fn new(max_messages: usize, max_bytes: usize) -> Self {
        BroadcastLog {
            state: Mutex::new(LogState::default()),
            slow_closes: AtomicUsize::new(0),
            pushed_out: AtomicBool::new(false),
            max_messages: max_messages.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `message` for every subscribed connection and wakes those that wait; never
    /// blocks on a connection.
    pub(crate) fn publish(&self, message: &PreparedMessage) -> Published {
        if message.len() > self.max_bytes {
            return Published::TooLarge;
        }
        // A fresh list where the thread's is not available (a publish from a waker, or while
        // the thread's locals are being destroyed).
        TO_WAKE
            .try_with(|cell| match cell.try_borrow_mut() {
                Ok(mut to_wake) => self.append(message, &mut to_wake),
                Err(_) => self.append(message, &mut Vec::new()),
            })
            .unwrap_or_else(|_| self.append(message, &mut Vec::new()))
    }

    /// [`publish`](Self::publish) with the thread's list of connections to wake, empty.
    fn append(&self, message: &PreparedMessage, to_wake: &mut Vec<Arc<ConnShared>>) -> Published {
        let subscribers = {
            let mut log = self.lock();
            if log.subscribers == 0 {
                return Published::To(0);
            }
            let subscribers = log.subscribers;
            log.entries.push_back(Entry {
                message: message.clone(),
                remaining: subscribers,
            });
            log.bytes += message.len();
            // The newest always fits (it is within `max_bytes`, and `max_messages` >= 1).
            while log.entries.len() > 1 && (log.entries.len() > self.max_messages || log.bytes > self.max_bytes) {
                if log.entries.front().is_some_and(|e| e.remaining > 0) {
                    self.pushed_out.store(true, Ordering::Relaxed);
                }
                log.pop_oldest();
            }
            for conn in &log.waiting {
                conn.subscription.waiting.store(false, Ordering::Relaxed);
            }
            std::mem::swap(&mut log.waiting, to_wake);
            subscribers
        };
        for conn in to_wake.drain(..) {
            conn.wake.notify();
        }
        Published::To(subscribers)
    }

    /// After a publish that pushed out a message some connection had not taken: wakes every
    /// connection `conns` gives whose next message is gone, so its task runs, finds it and closes
    /// it 1008 at once, even while its socket is full (no round would run otherwise until one
    /// of its timers). Costs a pass over `conns` only after such a publish.
    pub(crate) fn wake_pushed_out(&self, conns: impl FnOnce() -> Vec<Arc<ConnShared>>) {
        if !self.pushed_out.swap(false, Ordering::Relaxed) {
            return;
        }
        let first_seq = self.lock().first_seq;
        for conn in conns() {
            let cursor = conn.subscription.cursor.load(Ordering::Relaxed);
            if cursor != NOT_SUBSCRIBED && cursor < first_seq {
                conn.wake.notify();
            }
        }
    }

    /// Connections closed with 1008 "slow consumer" while taking from the log since the
    /// previous call (of any handle).
    pub(crate) fn take_slow_closes(&self) -> usize {
        self.slow_closes.swap(0, Ordering::Relaxed)
    }

    /// Run by `conn`'s task in each round, under its lock: subscribes an open connection,
    /// moves every message it has not taken into core's queue (a full queue closes it 1008),
    /// closes it 1008 when it missed a message, unsubscribes it once it is no longer open, and
    /// asks to be woken at the next publish once caught up. True when anything was queued or
    /// closed.
    fn take_into(&self, conn: &Arc<ConnShared>, state: &mut ConnState, now: Instant) -> bool {
        let sub = &conn.subscription;
        let mut log = self.lock();
        if !state.core.is_open() {
            if sub.cursor.load(Ordering::Relaxed) != NOT_SUBSCRIBED {
                log.leave(conn);
            }
            return false;
        }
        let mut cursor = sub.cursor.load(Ordering::Relaxed);
        if cursor == NOT_SUBSCRIBED {
            if sub.left.load(Ordering::Relaxed) {
                return false;
            }
            // From the next message on.
            cursor = log.head();
            sub.cursor.store(cursor, Ordering::Relaxed);
            log.subscribers += 1;
        }
        if cursor < log.first_seq {
            // Pushed out of the log before this connection took it: further behind than its
            // queue may be.
            log.leave(conn);
            drop(log);
            state.core.close_slow_consumer(now);
            self.slow_closes.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        let head = log.head();
        let mut progress = false;
        while cursor < head {
            let Some(entry) = log.entry(cursor) else { break };
            entry.remaining = entry.remaining.saturating_sub(1);
            cursor += 1;
            match state.core.send_prepared(now, &entry.message) {
                Ok(()) => progress = true,
                // Larger than this connection's queue could ever hold: not for it.
                Err(ServerSendError::MessageTooLarge { .. }) => {}
                Err(ServerSendError::SlowConsumer { .. }) => {
                    self.slow_closes.fetch_add(1, Ordering::Relaxed);
                    sub.cursor.store(cursor, Ordering::Relaxed);
                    log.leave(conn);
                    return true;
                }
                Err(_) => {
                    sub.cursor.store(cursor, Ordering::Relaxed);
                    log.leave(conn);
                    return progress;
                }
            }
        }
        sub.cursor.store(cursor, Ordering::Relaxed);
        log.release_taken();
        if !sub.waiting.swap(true, Ordering::Relaxed) {
            log.waiting.push(Arc::clone(conn));
        }
        progress
    }

    /// Forgets `conn` (its task ended).
    fn leave(&self, conn: &ConnShared) {
        self.lock().leave(conn);
    }
}

impl std::fmt::Debug for BroadcastLog {
    /// Never waits for the lock (a connection may be printed while its task holds it).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("BroadcastLog");
        if let Ok(log) = self.state.try_lock() {
            out.field("messages", &log.entries.len())
                .field("bytes", &log.bytes)
                .field("subscribers", &log.subscribers);
        }
        out.finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "broadcast_log_tests.rs"]
mod tests;
