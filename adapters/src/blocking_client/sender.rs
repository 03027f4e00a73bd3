//! [`Sender`]: sending from other threads into a client that one thread drives.
//!
//! Senders hand messages (and a request to close) to a small bounded inbox and wake the owner
//! through its poller, so the owner takes them at once even while it waits on the socket with
//! no deadline. The owner moves them into the session and reports each message's id (or
//! refusal) back.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use polling::Poller;
use resock_core::session::{MessageId, Session, SessionSendError};
use resock_core::{CloseCode, Message};

use crate::SendError;
#[cfg(feature = "json")]
use crate::TypedSendError;
use crate::clock::Clock;

/// A cloneable, thread-safe handle that queues messages on a [`Client`](super::Client), and
/// can close it.
///
/// Each send waits until the owning thread has accepted the message into the session queue
/// (and returns its id) or refused it, or until the send timeout passes; in every failure the
/// message comes back in the error. A send wakes the owner at once when it is waiting in a
/// call that drives IO (`recv`, `next_event`, `connected`, ...); the owner must be in such a
/// call, or make one, for the send to complete.
#[derive(Debug, Clone)]
pub struct Sender {
    shared: Arc<Shared>,
    timeout: Duration,
}

/// The state shared between the client and its senders.
#[derive(Debug)]
pub(super) struct Shared {
    inbox: Mutex<Inbox>,
    changed: Condvar,
    /// Wakes the owner from its wait on the socket; `None` when the OS refused to make one
    /// (then the owner waits on `changed` and no transport can open).
    poller: Option<Arc<Poller>>,
    /// The owner's clock: the timeouts of senders are measured on it (see
    /// [`Clock::for_waiting`]).
    clock: Clock,
    /// The envelope of `send_typed`.
    #[cfg(feature = "json")]
    envelope: resock_core::typed::JsonEnvelope,
}

/// A [`Sender::close`] on its way to the owner.
#[derive(Debug)]
enum CloseRequest {
    None,
    Asked(CloseCode, String),
    Taken,
}

#[derive(Debug)]
struct Inbox {
    /// Messages from senders, with their ticket, not yet taken by the owner.
    pending: VecDeque<(u64, Message)>,
    /// Outcomes the senders have not collected yet (at most one per waiting sender).
    done: Vec<(u64, Result<MessageId, SessionSendError>)>,
    next_ticket: u64,
    capacity: usize,
    closed: bool,
    close: CloseRequest,
}

impl Shared {
    /// An inbox holding at most `capacity` messages, waking the owner through `poller`.
    pub(super) fn new(
        capacity: usize,
        poller: Option<Arc<Poller>>,
        clock: Clock,
        #[cfg(feature = "json")] envelope: resock_core::typed::JsonEnvelope,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            inbox: Mutex::new(Inbox {
                pending: VecDeque::new(),
                done: Vec::new(),
                next_ticket: 0,
                capacity: capacity.max(1),
                closed: false,
                close: CloseRequest::None,
            }),
            changed: Condvar::new(),
            poller,
            clock,
            #[cfg(feature = "json")]
            envelope,
        })
    }

    /// The owner's poller, if the OS gave one.
    pub(super) fn poller(&self) -> Option<&Arc<Poller>> {
        self.poller.as_ref()
    }

    /// The envelope `send_typed` encodes with (the builder's, or the default one).
    #[cfg(feature = "json")]
    pub(super) fn envelope(&self) -> &resock_core::typed::JsonEnvelope {
        &self.envelope
    }

    /// Wakes the owner wherever it waits.
    fn wake(&self) {
        self.changed.notify_all();
        if let Some(poller) = &self.poller {
            // Fails only if the OS cannot signal the poller's own descriptor; the owner then
            // takes the message at its next wake.
            poller.notify().ok();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // A panicking sender cannot leave the inbox half-updated: every change is one step.
        self.inbox.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A close a sender asked for, taken by the owner (the sender is told).
    pub(super) fn take_close(&self) -> Option<(CloseCode, String)> {
        let mut inbox = self.lock();
        if !matches!(inbox.close, CloseRequest::Asked(..)) {
            return None;
        }
        let CloseRequest::Asked(code, reason) = std::mem::replace(&mut inbox.close, CloseRequest::Taken) else {
            return None;
        };
        drop(inbox);
        self.changed.notify_all();
        Some((code, reason))
    }

    /// Moves waiting messages into the session, in order, until its queue is full.
    pub(super) fn absorb(&self, session: &mut Session) {
        let mut inbox = self.lock();
        if inbox.pending.is_empty() {
            return;
        }
        while let Some((ticket, message)) = inbox.pending.pop_front() {
            match session.send(message) {
                Err(SessionSendError::QueueFull(message)) => {
                    inbox.pending.push_front((ticket, message));
                    break;
                }
                outcome => inbox.done.push((ticket, outcome)),
            }
        }
        drop(inbox);
        self.changed.notify_all();
    }

    /// Refuses every waiting and future message: the session is closed for good.
    pub(super) fn close(&self) {
        let mut inbox = self.lock();
        inbox.closed = true;
        while let Some((ticket, message)) = inbox.pending.pop_front() {
            inbox.done.push((ticket, Err(SessionSendError::Closed(message))));
        }
        drop(inbox);
        self.changed.notify_all();
    }

    /// Blocks the owner until a sender hands in a message or a close, or `deadline` passes
    /// (the wait without a poller).
    pub(super) fn wait(&self, deadline: Instant) {
        let mut inbox = self.lock();
        while inbox.pending.is_empty() && !matches!(inbox.close, CloseRequest::Asked(..)) {
            if deadline <= self.clock.now() {
                return;
            }
            inbox = self.clock.wait_until(&self.changed, inbox, deadline);
        }
    }

    /// Blocks the owner until a sender hands in a message or a close, at most `timeout` of
    /// real time: a simulated world with nothing due, where only another thread can change
    /// anything.
    #[cfg(feature = "sim")]
    pub(super) fn wait_for_senders(&self, timeout: std::time::Duration) {
        let inbox = self.lock();
        if inbox.pending.is_empty() && !matches!(inbox.close, CloseRequest::Asked(..)) {
            drop(self.changed.wait_timeout(inbox, timeout));
        }
    }

    /// The clock a sender on this thread measures its timeout on (see [`Clock::for_waiting`]).
    fn sender_clock(&self) -> Clock {
        self.clock.for_waiting()
    }

    fn wait_changed<'a>(
        &self,
        clock: &Clock,
        inbox: MutexGuard<'a, Inbox>,
        deadline: Instant,
    ) -> MutexGuard<'a, Inbox> {
        clock.wait_until(&self.changed, inbox, deadline)
    }
}

impl Sender {
    pub(super) fn new(shared: Arc<Shared>, timeout: Duration) -> Self {
        Sender { shared, timeout }
    }

    /// Queues `message` on the client and waits until the owning thread accepted it (its id)
    /// or refused it, for at most the client's send timeout at the time this sender was made.
    pub fn send(&self, message: Message) -> Result<MessageId, SendError> {
        let clock = self.shared.sender_clock();
        let deadline = resock_core::saturating_later(clock.now(), self.timeout);
        let mut inbox = self.shared.lock();
        while !inbox.closed && inbox.pending.len() >= inbox.capacity {
            if clock.now() >= deadline {
                return Err(SendError::TimedOut(message));
            }
            inbox = self.shared.wait_changed(&clock, inbox, deadline);
        }
        if inbox.closed {
            return Err(SendError::Closed(message));
        }
        let ticket = inbox.next_ticket;
        inbox.next_ticket += 1;
        inbox.pending.push_back((ticket, message));
        self.shared.wake();
        loop {
            if let Some(at) = inbox.done.iter().position(|(t, _)| *t == ticket) {
                let (_, outcome) = inbox.done.swap_remove(at);
                return outcome.map_err(SendError::from);
            }
            if clock.now() >= deadline {
                // Not done, so still pending: the owner never saw it.
                if let Some(at) = inbox.pending.iter().position(|(t, _)| *t == ticket) {
                    if let Some((_, message)) = inbox.pending.remove(at) {
                        self.shared.changed.notify_all();
                        return Err(SendError::TimedOut(message));
                    }
                }
            }
            inbox = self.shared.wait_changed(&clock, inbox, deadline);
        }
    }

    /// Sends a text message; see [`send`](Self::send).
    pub fn send_text(&self, text: impl Into<String>) -> Result<MessageId, SendError> {
        self.send(Message::text(text))
    }

    /// Sends a binary message; see [`send`](Self::send).
    pub fn send_binary(&self, data: impl Into<resock_core::Bytes>) -> Result<MessageId, SendError> {
        self.send(Message::binary(data))
    }

    /// Sends `{"type": ty, "data": data, "timestamp": now}` in the client's JSON envelope (the
    /// builder's, or the default one), exactly as [`Client::send_typed`](super::Client::send_typed)
    /// does; see [`send`](Self::send).
    #[cfg(feature = "json")]
    pub fn send_typed<T: serde::Serialize + ?Sized>(&self, ty: &str, data: &T) -> Result<MessageId, TypedSendError> {
        let message = super::encode_typed(self.shared.envelope(), ty, data, &self.shared.clock)?;
        Ok(self.send(message)?)
    }

    /// Closes the client for good with `code` and `reason`: the owner starts the close
    /// handshake at its next wake, at once if it is waiting in a call that drives IO, and that
    /// call goes on until the session is closed (`recv` then ends with
    /// `Err(ClosedReason::User)`). Returns `true` once the owner has taken the request or the
    /// client is closed; `false` when the send timeout passed first, in which case the request
    /// stays and the owner closes when it next drives IO. A later close (from any sender or the
    /// owner) finds the first one under way and changes nothing.
    pub fn close(&self, code: CloseCode, reason: &str) -> bool {
        let clock = self.shared.sender_clock();
        let deadline = resock_core::saturating_later(clock.now(), self.timeout);
        let mut inbox = self.shared.lock();
        if matches!(inbox.close, CloseRequest::None) && !inbox.closed {
            inbox.close = CloseRequest::Asked(code, reason.to_owned());
            self.shared.wake();
        }
        loop {
            if inbox.closed || matches!(inbox.close, CloseRequest::Taken) {
                return true;
            }
            if clock.now() >= deadline {
                return false;
            }
            inbox = self.shared.wait_changed(&clock, inbox, deadline);
        }
    }

    /// Whether the client closed for good (every further send fails with `Closed`).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }
}
