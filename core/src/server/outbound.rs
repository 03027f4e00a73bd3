//! The bounded outbound queue of one server connection: messages and payload bytes.

use std::collections::VecDeque;

use super::prepared::PreparedMessage;

/// What [`Outbound::push`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Push {
    /// The message is queued.
    Queued,
    /// The queue is full (`messages + 1` or `bytes + len` past a limit); nothing was queued.
    Full {
        queued_messages: usize,
        queued_bytes: usize,
    },
    /// The message alone exceeds the byte limit; nothing was queued.
    TooLarge { size: usize, limit: usize },
}

/// Prepared messages waiting for the transport; never more than its limits.
#[derive(Debug)]
pub(super) struct Outbound {
    items: VecDeque<PreparedMessage>,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
}

impl Outbound {
    pub(super) fn new(max_messages: usize, max_bytes: usize) -> Self {
        Outbound {
            items: VecDeque::new(),
            bytes: 0,
            max_messages,
            max_bytes,
        }
    }

    /// Queues `message` if it fits both limits.
    pub(super) fn push(&mut self, message: &PreparedMessage) -> Push {
        let size = message.len();
        if size > self.max_bytes {
            return Push::TooLarge {
                size,
                limit: self.max_bytes,
            };
        }
        let fits_count = self.items.len() < self.max_messages;
        let fits_bytes = self.bytes.checked_add(size).is_some_and(|b| b <= self.max_bytes);
        if !(fits_count && fits_bytes) {
            return Push::Full {
                queued_messages: self.items.len(),
                queued_bytes: self.bytes,
            };
        }
        self.bytes += size;
        self.items.push_back(message.clone());
        Push::Queued
    }

    /// The oldest message, taken out of the queue.
    pub(super) fn pop(&mut self) -> Option<PreparedMessage> {
        let item = self.items.pop_front()?;
        self.bytes -= item.len();
        if self.items.is_empty() {
            // An idle connection holds no queue allocation.
            self.items = VecDeque::new();
        }
        Some(item)
    }

    /// Drops every queued message.
    pub(super) fn clear(&mut self) {
        self.items = VecDeque::new();
        self.bytes = 0;
    }

    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Messages and payload bytes queued.
    pub(super) fn len(&self) -> (usize, usize) {
        (self.items.len(), self.bytes)
    }
}
