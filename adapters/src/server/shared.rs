//! What the tasks of a server share with its handles: [`ServerShared`] (every connection, the
//! queue of accepted ones, shutdown) and, per connection, [`ConnShared`] (the core connection
//! behind a mutex never held across an await, the inbox of `recv`, and the wake-ups both ways).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use event_listener::Event;
use resock_core::server::{ServerClose, ServerConnection, TRANSMIT_CHUNK};
use resock_core::{DeflateParams, Message, Request};

use super::broadcast_log::{BroadcastLog, Subscription};
use super::peer::Peer;
use super::refusal::Reports;
use super::runtime::AnyTimer;
use crate::async_driver::DriverWake;

/// A connection that completed its opening handshake: what its handles show.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) request: Request,
    pub(crate) subprotocol: Option<String>,
    /// permessage-deflate as agreed, if it was.
    pub(crate) deflate: Option<DeflateParams>,
    /// The agreed extensions as the response's `Sec-WebSocket-Extensions` value; `None` when
    /// none was agreed.
    pub(crate) extensions: Option<String>,
}

/// Undecoded bytes the task reads ahead while decoding is held back; past them it stops
/// reading the socket (TCP pushes back) and tells core it does not read.
pub(crate) const READ_AHEAD: usize = 64 << 10;

/// One connection's state, under [`ConnShared::state`].
///
/// Decoding is driven by demand, as the blocking server's: core decodes only inside
/// `poll_event`, so a frame is looked at only once the application could have answered the
/// message before it. Nothing further is decoded while a message waits for `recv` or is in the
/// application's hands (taken by `recv`, which was not called again), nor before what the
/// application queued when it let go of its message is taken out of core into
/// [`staged`](Self::staged), from where the task writes it in order. An echo of message N thus
/// leaves before the close frame of frame N+1, even when that frame is a violation that fails
/// the connection (core discards its outbound queue then, not what it already gave out).
pub(crate) struct ConnState {
    pub(crate) core: ServerConnection,
    /// Data messages for `recv`, oldest first: at most one while the connection is open
    /// (decoding stops behind it); once it is closing, decoding goes on to the end and up to
    /// `recv_capacity` are kept (the newest dropped past it).
    pub(crate) inbox: VecDeque<Message>,
    /// `recv` handed out a message and was not called again: the application may still be
    /// answering it.
    pub(crate) in_hands: bool,
    /// The oldest messages of core's outbound queue that must be taken out of it before
    /// anything further is decoded: what the application had queued when it let go of its
    /// message.
    pub(crate) owed: usize,
    /// Bytes taken from core's `poll_transmit` (by the task or by `recv`) that the task has not
    /// yet moved to its writer; about [`TRANSMIT_CHUNK`] at most.
    pub(crate) staged: Vec<u8>,
    /// Why the connection ended, once the core said so.
    pub(crate) closed: Option<ServerClose>,
    /// The task ended: nothing more will happen.
    pub(crate) finished: bool,
}

impl ConnState {
    /// A connection's state around a new core.
    pub(crate) fn new(core: ServerConnection) -> Self {
        ConnState {
            core,
            inbox: VecDeque::new(),
            in_hands: false,
            owed: 0,
            staged: Vec::new(),
            closed: None,
            finished: false,
        }
    }

    /// Whether the application holds decoding back: the connection is open and a message
    /// waits for `recv` or is in the application's hands.
    pub(crate) fn application_holds(&self) -> bool {
        self.core.is_open() && (self.in_hands || !self.inbox.is_empty())
    }

    /// Whether core may decode the next frame: it is finished (nothing left to decode), or
    /// everything owed was taken out of core and the application does not hold decoding back
    /// (`free`: nobody will answer any more, every handle gone or the client's end of the
    /// stream read).
    pub(crate) fn may_decode(&self, free: bool) -> bool {
        if self.core.is_finished() {
            return true;
        }
        self.owed == 0 && (free || !self.application_holds())
    }

    /// `recv` was called again: the message it handed out before is no longer in the
    /// application's hands, but what the application queued so far must be written before
    /// anything further is decoded. True when a message was in its hands.
    pub(crate) fn release(&mut self) -> bool {
        if !std::mem::take(&mut self.in_hands) {
            return false;
        }
        self.owed = self.core.queued().0;
        true
    }

    /// Appends core's next bytes to write to [`staged`](Self::staged) while it holds less than
    /// [`TRANSMIT_CHUNK`], keeping count of what is owed: whole messages leave the front of the
    /// queue, so those owed go first. True when bytes came.
    pub(crate) fn take_transmit(&mut self) -> bool {
        if self.staged.len() >= TRANSMIT_CHUNK {
            return false;
        }
        let before = self.core.queued().0;
        let took = self.core.poll_transmit(&mut self.staged).is_some();
        let left = self.core.queued().0;
        self.owed = self.owed.saturating_sub(before.saturating_sub(left)).min(left);
        took
    }

    /// Moves one decoded event out when decoding is allowed: a data message into the inbox, the
    /// end into `closed`. Returns the other events (the request, the opening) for the task;
    /// `None` when nothing may or can be decoded. `changed` is set when `recv` or `closed`
    /// waiters must look again.
    pub(crate) fn decode_next(&mut self, free: bool, capacity: usize, changed: &mut bool) -> Option<Decoded> {
        use resock_core::server::ServerEvent;
        if !self.may_decode(free) {
            return None;
        }
        match self.core.poll_event()? {
            ServerEvent::Message(message) => {
                self.keep_for_recv(message, capacity);
                *changed = true;
                Some(Decoded::Kept)
            }
            ServerEvent::Closed(close) => {
                self.closed = Some(close);
                *changed = true;
                Some(Decoded::Kept)
            }
            other => Some(Decoded::ForTask(other)),
        }
    }

    /// Keeps a received data message for `recv`; once the connection is closing, at most
    /// `capacity` are kept and the newest dropped.
    pub(crate) fn keep_for_recv(&mut self, message: Message, capacity: usize) {
        if !self.core.is_open() && self.inbox.len() >= capacity {
            return;
        }
        self.inbox.push_back(message);
    }
}

/// What [`ConnState::decode_next`] did with an event.
pub(crate) enum Decoded {
    /// A message or the end, kept for the handles.
    Kept,
    /// An event only the task acts on.
    ForTask(resock_core::server::ServerEvent),
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
    /// Most data messages kept for `recv` once the connection is closing (while it is open,
    /// at most one waits).
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
    /// The counts of accepted and refused connections, and the refusal hook.
    pub(crate) reports: Reports,
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

/// For tests: a server connection whose handshake completed (accepted, no subprotocol).
#[cfg(test)]
pub(crate) fn opened_core(config: &resock_core::server::ServerConfig) -> ServerConnection {
    use resock_core::Input;
    use resock_core::server::ServerEvent;
    let now = std::time::Instant::now();
    let mut core = ServerConnection::new(config, [7; 32], now);
    let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    core.handle_input(now, Input::Data(request.as_bytes()));
    assert!(matches!(core.poll_event(), Some(ServerEvent::Request(_))));
    core.accept(now, None, &[]);
    assert!(core.is_open());
    core
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use proptest::prelude::*;
    use resock_core::server::ServerConfig;
    use resock_core::{CloseCode, Input};

    use super::*;

    fn open_state() -> ConnState {
        let mut state = ConnState::new(opened_core(&ServerConfig::default()));
        while state.decode_next(false, 8, &mut false).is_some() {}
        state.take_transmit();
        state.staged.clear();
        state
    }

    /// A masked client frame.
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let key = [1, 2, 3, 4];
        let mut out = vec![0x80 | opcode, 0x80 | u8::try_from(payload.len()).unwrap()];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        out
    }

    /// A server text frame.
    fn frame_unmasked(payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x81, u8::try_from(payload.len()).unwrap()];
        out.extend_from_slice(payload);
        out
    }

    fn feed(state: &mut ConnState, bytes: &[u8]) {
        state.core.handle_input(Instant::now(), Input::Data(bytes));
    }

    fn decode(state: &mut ConnState) -> bool {
        state.decode_next(false, 8, &mut false).is_some()
    }

    #[test]
    fn nothing_is_decoded_past_a_message_until_its_answer_is_taken_out_of_core() {
        let mut state = open_state();
        let mut bytes = frame(0x1, b"one");
        bytes.extend(frame(0x1, b"two"));
        bytes.extend(frame(0x3, b"reserved opcode"));
        feed(&mut state, &bytes);
        let now = Instant::now();
        for (n, text) in ["one", "two"].into_iter().enumerate() {
            assert!(decode(&mut state), "message {n} decoded");
            assert!(!decode(&mut state), "nothing behind a message waiting for recv");
            let message = state.inbox.pop_front().unwrap();
            assert_eq!(message.as_text(), Some(text));
            state.in_hands = true;
            assert!(!decode(&mut state), "nothing while the message is in the app's hands");
            state.core.send(now, &message).unwrap();
            assert!(state.release(), "recv called again");
            assert_eq!(state.owed, 1);
            assert!(!decode(&mut state), "nothing before the echo is taken");
            assert!(state.take_transmit());
            assert_eq!(state.owed, 0);
            assert!(state.staged.ends_with(text.as_bytes()), "the echo");
        }
        assert!(decode(&mut state));
        let closed = state.closed.clone().expect("the violation ends it");
        assert_eq!(closed.code, CloseCode::PROTOCOL_ERROR);
        state.take_transmit();
        let echoes = [&frame_unmasked(b"one")[..], &frame_unmasked(b"two")[..]].concat();
        assert!(state.staged.starts_with(&echoes), "both echoes, then the close");
        assert_eq!(state.staged[echoes.len()], 0x88, "the close frame follows");
    }

    #[test]
    fn only_the_owed_messages_are_waited_for_not_those_queued_later() {
        let mut state = open_state();
        let now = Instant::now();
        state.core.send(now, &Message::text("owed")).unwrap();
        state.in_hands = true;
        assert!(state.release());
        state.core.send(now, &Message::text("later")).unwrap();
        assert_eq!(state.owed, 1);
        assert!(state.take_transmit());
        assert_eq!(state.owed, 0, "both left in one batch: nothing owed");
        assert!(!state.release(), "nothing in the app's hands");
    }

    fn capacities() -> impl Strategy<Value = usize> {
        prop_oneof![1..=4usize, Just(usize::MAX), 1..=usize::MAX]
    }

    proptest! {
        /// Open: one message waits, whatever the capacity; closing: at most `capacity`,
        /// the newest dropped.
        #[test]
        fn the_inbox_is_one_message_while_open_and_capacity_bounded_while_closing(
            capacity in capacities(),
            count in 0usize..24,
        ) {
            let mut state = open_state();
            let bytes: Vec<u8> = (0..count).flat_map(|n| frame(0x1, n.to_string().as_bytes())).collect();
            feed(&mut state, &bytes);
            while state.decode_next(false, capacity, &mut false).is_some() {}
            prop_assert_eq!(state.inbox.len(), count.min(1));

            state.core.close(Instant::now(), CloseCode::NORMAL, "").unwrap();
            state.take_transmit();
            while state.decode_next(false, capacity, &mut false).is_some() {}
            prop_assert_eq!(state.inbox.len(), count.min(capacity));
            let first: Vec<_> = state.inbox.iter().map(|m| m.as_text().unwrap().to_owned()).collect();
            let expected: Vec<_> = (0..count.min(capacity)).map(|n| n.to_string()).collect();
            prop_assert_eq!(first, expected, "the oldest kept");
        }
    }
}
