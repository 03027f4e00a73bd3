//! [`Peer`]: the handle of one accepted connection, with the client's send/receive shape.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use event_listener::EventListener;
use resock_core::server::{PreparedMessage, ServerClose, ServerSendError};
use resock_core::{CloseCode, CloseError, DeflateParams, Message, Request};

use super::shared::{ConnShared, ConnState, Opened};

/// One open connection of a [`Server`](super::Server): cloneable, usable from any task or
/// thread. Dropping the last handle closes the connection with 1000.
pub struct Peer {
    shared: Arc<ConnShared>,
    opened: Arc<Opened>,
}

impl Peer {
    /// A new handle (the first is made by the task when the connection opens).
    pub(crate) fn new(shared: Arc<ConnShared>, opened: Arc<Opened>) -> Self {
        shared.handles.fetch_add(1, Ordering::AcqRel);
        Peer { shared, opened }
    }

    /// A number that tells this connection from the server's others.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.shared.peer_addr
    }

    /// The opening request the connection was accepted on.
    pub fn request(&self) -> &Request {
        &self.opened.request
    }

    /// The subprotocol the decision chose, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.opened.subprotocol.as_deref()
    }

    /// The extensions agreed in the handshake, as the server's `Sec-WebSocket-Extensions`
    /// answer (for example `permessage-deflate; client_max_window_bits=12`); `None` when
    /// none was agreed (the client did not offer any, or the server's
    /// [`Config::deflate`](resock_core::Config::deflate) is off).
    pub fn extensions(&self) -> Option<&str> {
        self.opened.extensions.as_deref()
    }

    /// permessage-deflate's parameters as agreed; `None` when messages go uncompressed.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.opened.deflate
    }

    /// Queues `message` for the client and returns at once: this never waits.
    ///
    /// Fails with [`ServerSendError::NotOpen`] once the connection is closing or closed. When
    /// the outbound queue is full ([`ServerConfig`](resock_core::server::ServerConfig)'s
    /// `max_queued_messages` / `max_queued_bytes`), the client is not keeping up: the
    /// connection is closed with 1008 right here and the error says how much was queued.
    pub fn send(&self, message: impl Into<Message>) -> Result<(), ServerSendError> {
        let message = message.into();
        let result = self.locked_after_broadcasts(|state, now| state.core.send(now, &message));
        self.shared.wake.notify();
        result
    }

    /// Queues a message encoded once for many connections (see
    /// [`Broadcast`](super::Broadcast)); never waits, and fails as [`send`](Self::send) does.
    pub fn send_prepared(&self, message: &PreparedMessage) -> Result<(), ServerSendError> {
        let result = self.locked_after_broadcasts(|state, now| state.core.send_prepared(now, message));
        self.shared.wake.notify();
        result
    }

    /// The next data message from the client, in order; `None` once the connection is over
    /// and every message was taken. Cancel-safe.
    ///
    /// Messages are decoded on demand, one at a time, as the blocking server does: the message
    /// returned stays "in your hands" until `recv` is called again, and until then the
    /// connection decodes nothing further. When `recv` is called again, what was sent so far
    /// (an echo, say) is taken out of the outbound queue for writing before the next frame is
    /// even looked at, so a reply to a message always leaves before the close of a violation
    /// that followed it.
    /// While decoding is held back the connection reads ahead a little (64 KiB) and then stops
    /// reading from the client (TCP pushes back); no pong deadline runs meanwhile.
    ///
    /// Before `recv` is first called, and whenever it waits, the connection decodes on its own
    /// (pings are answered, a close is seen, the heartbeat runs); the first data message
    /// decoded then waits for `recv` and holds decoding back like one in your hands. An
    /// application that stops calling `recv` therefore stops the connection's reading: drop
    /// the handles (or close) when done receiving.
    pub async fn recv(&self) -> Option<Message> {
        let capacity = self.shared.recv_capacity;
        self.wait(|state| {
            if state.release() {
                // The task may write what is owed and decode on.
                self.shared.wake.notify();
            }
            if state.inbox.is_empty() && state.core.is_open() {
                // Take what is owed out of core (the task writes it, in order) and decode here,
                // on the caller's task: saves two task hops per message.
                let staged = state.owed > 0 && state.take_transmit();
                let held = state.core.inbound_buffered();
                let mut changed = false;
                while state.inbox.is_empty() && state.decode_next(false, capacity, &mut changed).is_some() {}
                if changed {
                    // A `closed` waiter may want to see the end.
                    self.shared.changed.notify(usize::MAX);
                }
                if staged || changed || state.core.inbound_buffered() != held {
                    // Bytes to write (pongs too), more to read, the budget to tell.
                    self.shared.wake.notify();
                }
            }
            if let Some(message) = state.inbox.pop_front() {
                state.in_hands = state.core.is_open();
                crate::release_if_drained(&mut state.inbox);
                return Some(Some(message));
            }
            (state.closed.is_some() || state.finished).then_some(None)
        })
        .await
    }

    /// Starts the close handshake with `code` and `reason` (cut between words to fit a close
    /// frame); queued messages are written first. Returns at once; [`closed`](Self::closed)
    /// waits for the end.
    ///
    /// Fails for a code that may not be sent (1005, 1006, 1015, ...) and when a close already
    /// started.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), CloseError> {
        let reason = resock_core::close::fit_close_reason(reason);
        let result = self.locked_after_broadcasts(|state, now| state.core.close(now, code, reason));
        self.shared.wake.notify();
        result
    }

    /// Runs `f` under the connection's lock once the broadcasts published before this call
    /// are in its queue, so what `f` queues goes after them.
    fn locked_after_broadcasts<T>(&self, f: impl FnOnce(&mut ConnState, Instant) -> T) -> T {
        let mut state = self.shared.lock();
        let now = Instant::now();
        self.shared.take_broadcasts(&mut state, now);
        f(&mut state, now)
    }

    /// Waits until the connection is over, and says how it ended.
    ///
    /// A message waiting for [`recv`](Self::recv), or the last one it returned, holds the
    /// connection's decoding back, so the client's close is seen once `recv` is called again
    /// (or every handle is dropped, or the client ends the stream).
    pub async fn closed(&self) -> ServerClose {
        // The task records a close before it ends, even when it is dropped early.
        self.wait(|state| state.closed.clone()).await
    }

    /// Whether the connection is open (messages can be sent).
    pub fn is_open(&self) -> bool {
        self.shared.lock().core.is_open()
    }

    /// Messages and bytes waiting in the outbound queue.
    pub fn queued(&self) -> (usize, usize) {
        self.shared.lock().core.queued()
    }

    /// Waits until `ready` answers, checking it under the lock each time the task reports a
    /// change.
    async fn wait<T>(&self, mut ready: impl FnMut(&mut ConnState) -> Option<T>) -> T {
        loop {
            let listener: EventListener = {
                let mut state = self.shared.lock();
                if let Some(answer) = ready(&mut state) {
                    return answer;
                }
                // Listening under the lock: a change the task makes next cannot be missed.
                self.shared.changed.listen()
            };
            listener.await;
        }
    }
}

impl Clone for Peer {
    fn clone(&self) -> Self {
        Peer::new(Arc::clone(&self.shared), Arc::clone(&self.opened))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.wake.notify();
        }
    }
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.id())
            .field("peer_addr", &self.peer_addr())
            .field("path", &self.opened.request.path)
            .finish_non_exhaustive()
    }
}
