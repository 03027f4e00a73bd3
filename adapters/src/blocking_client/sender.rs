//! [`Sender`]: sending from other threads into a client that one thread drives.
//!
//! Senders hand messages to a small bounded inbox; the owning thread moves them into the
//! session whenever it drives IO and reports each message's id (or refusal) back. While the
//! owner blocks in a socket read and senders exist, that read wakes at least every
//! [`SENDER_POLL`] to look at the inbox; while it waits without a socket (between reconnect
//! attempts) a sender wakes it at once.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use resock_core::Message;
use resock_core::session::{MessageId, Session, SessionSendError};

use crate::SendError;

/// How often a socket read wakes up to take messages from senders (only while senders exist).
pub const SENDER_POLL: Duration = Duration::from_millis(20);

/// A cloneable, thread-safe handle that queues messages on a [`Client`](super::Client).
///
/// Each send waits until the owning thread has accepted the message into the session queue
/// (and returns its id) or refused it, or until the send timeout passes; in every failure the
/// message comes back in the error. The owner must keep driving the client (`next_event`,
/// `recv`, `send`, ...) for sends to complete.
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
}

impl Shared {
    /// An inbox holding at most `capacity` messages.
    pub(super) fn new(capacity: usize) -> Arc<Shared> {
        Arc::new(Shared {
            inbox: Mutex::new(Inbox {
                pending: VecDeque::new(),
                done: Vec::new(),
                next_ticket: 0,
                capacity: capacity.max(1),
                closed: false,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // A panicking sender cannot leave the inbox half-updated: every change is one step.
        self.inbox.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether any [`Sender`] exists.
    pub(super) fn has_senders(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) > 1
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

    /// Blocks the owner until a sender hands in a message or `deadline` passes.
    pub(super) fn wait(&self, deadline: Instant) {
        let mut inbox = self.lock();
        while inbox.pending.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            inbox = match self.changed.wait_timeout(inbox, left) {
                Ok((inbox, _)) => inbox,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    fn wait_changed<'a>(&self, inbox: MutexGuard<'a, Inbox>, deadline: Instant) -> MutexGuard<'a, Inbox> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.changed.wait_timeout(inbox, left) {
            Ok((inbox, _)) => inbox,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }
}

impl Sender {
    pub(super) fn new(shared: Arc<Shared>, timeout: Duration) -> Self {
        Sender { shared, timeout }
    }

    /// Queues `message` on the client and waits until the owning thread accepted it (its id)
    /// or refused it, for at most the client's send timeout at the time this sender was made.
    pub fn send(&self, message: Message) -> Result<MessageId, SendError> {
        let deadline = resock_core::saturating_later(Instant::now(), self.timeout);
        let mut inbox = self.shared.lock();
        while !inbox.closed && inbox.pending.len() >= inbox.capacity {
            if Instant::now() >= deadline {
                return Err(SendError::TimedOut(message));
            }
            inbox = self.shared.wait_changed(inbox, deadline);
        }
        if inbox.closed {
            return Err(SendError::Closed(message));
        }
        let ticket = inbox.next_ticket;
        inbox.next_ticket += 1;
        inbox.pending.push_back((ticket, message));
        self.shared.changed.notify_all();
        loop {
            if let Some(at) = inbox.done.iter().position(|(t, _)| *t == ticket) {
                let (_, outcome) = inbox.done.swap_remove(at);
                return outcome.map_err(SendError::from);
            }
            if Instant::now() >= deadline {
                // Not done, so still pending: the owner never saw it.
                if let Some(at) = inbox.pending.iter().position(|(t, _)| *t == ticket) {
                    if let Some((_, message)) = inbox.pending.remove(at) {
                        self.shared.changed.notify_all();
                        return Err(SendError::TimedOut(message));
                    }
                }
            }
            inbox = self.shared.wait_changed(inbox, deadline);
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

    /// Whether the client closed for good (every further send fails with `Closed`).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }
}
