//! The bounded outbound queue: messages accepted by `send` wait here until `poll_transmit`
//! encodes them into an open connection, surviving reconnects in order.

use std::collections::VecDeque;

use crate::message::Message;

use super::config::{OverflowPolicy, QueueConfig};

/// The identity of an accepted message, reported when it is handed to the transport or back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub u64);

/// A queued message with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Its id.
    pub id: MessageId,
    /// The message.
    pub message: Message,
}

/// Why `push` refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Full,
    TooLarge,
}

#[derive(Debug)]
pub(crate) struct OutboundQueue {
    items: VecDeque<Queued>,
    bytes: usize,
    next_id: u64,
    config: QueueConfig,
}

impl OutboundQueue {
    pub(crate) fn new(config: QueueConfig) -> Self {
        OutboundQueue {
            items: VecDeque::new(),
            bytes: 0,
            next_id: 0,
            config,
        }
    }

    /// Accepts a message, evicting the oldest under `DropOldest`. Returns the new id and the
    /// evicted messages, or the refusal with the message.
    pub(crate) fn push(&mut self, message: Message) -> Result<(MessageId, Vec<Queued>), (Refusal, Message)> {
        let size = message.len();
        if size > self.config.max_bytes {
            return Err((Refusal::TooLarge, message));
        }
        let mut evicted = Vec::new();
        while self.items.len() + 1 > self.config.max_messages || self.bytes + size > self.config.max_bytes {
            match self.config.overflow {
                OverflowPolicy::Reject => return Err((Refusal::Full, message)),
                OverflowPolicy::DropOldest => match self.pop_front() {
                    Some(old) => evicted.push(old),
                    None => return Err((Refusal::Full, message)),
                },
            }
        }
        let id = MessageId(self.next_id);
        self.next_id += 1;
        self.bytes += size;
        self.items.push_back(Queued { id, message });
        Ok((id, evicted))
    }

    /// The oldest message.
    pub(crate) fn pop_front(&mut self) -> Option<Queued> {
        let item = self.items.pop_front()?;
        self.bytes -= item.message.len();
        Some(item)
    }

    /// Puts messages back at the front, keeping their order (they were never written).
    pub(crate) fn requeue_front(&mut self, items: impl DoubleEndedIterator<Item = Queued>) {
        for item in items.rev() {
            self.bytes += item.message.len();
            self.items.push_front(item);
        }
    }

    /// Removes everything, oldest first.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Queued> + '_ {
        self.bytes = 0;
        self.items.drain(..)
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// How many of the oldest messages a batch of `budget` bytes takes, counting at least one
    /// byte per message and stopping once the budget is reached (as `Session::pump_queue`
    /// does), and their payload bytes.
    pub(crate) fn batch(&self, budget: usize) -> (usize, usize) {
        let (mut count, mut counted, mut bytes) = (0usize, 0usize, 0usize);
        for item in &self.items {
            if counted >= budget {
                break;
            }
            count += 1;
            counted += item.message.len().max(1);
            bytes += item.message.len();
        }
        (count, bytes)
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn config(&self) -> &QueueConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(max_messages: usize, max_bytes: usize, overflow: OverflowPolicy) -> OutboundQueue {
        OutboundQueue::new(QueueConfig {
            max_messages,
            max_bytes,
            overflow,
            ..QueueConfig::default()
        })
    }

    #[test]
    fn reject_hands_the_new_message_back() {
        let mut q = queue(2, 100, OverflowPolicy::Reject);
        q.push(Message::text("a")).unwrap();
        q.push(Message::text("b")).unwrap();
        let (why, back) = q.push(Message::text("c")).unwrap_err();
        assert_eq!((why, back), (Refusal::Full, Message::text("c")));
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn drop_oldest_evicts_in_order() {
        let mut q = queue(2, 100, OverflowPolicy::DropOldest);
        let (a, _) = q.push(Message::text("a")).unwrap();
        q.push(Message::text("b")).unwrap();
        let (_, evicted) = q.push(Message::text("c")).unwrap();
        assert_eq!(evicted.len(), 1);
        assert_eq!(evicted[0].id, a);
        assert_eq!(q.pop_front().unwrap().message, Message::text("b"));
    }

    #[test]
    fn a_batch_stops_once_its_budget_is_reached_and_counts_empty_messages_as_one_byte() {
        let mut q = queue(10, 100, OverflowPolicy::Reject);
        assert_eq!(q.batch(8), (0, 0));
        for size in [3, 0, 5, 7] {
            q.push(Message::binary(vec![0u8; size])).unwrap();
        }
        assert_eq!(q.batch(1), (1, 3));
        assert_eq!(q.batch(4), (2, 3), "3 + 1 for the empty message");
        assert_eq!(q.batch(5), (3, 8), "the message that crosses the budget is in");
        assert_eq!(q.batch(usize::MAX), (4, 15));
    }

    #[test]
    fn byte_bound_and_too_large() {
        let mut q = queue(10, 10, OverflowPolicy::Reject);
        q.push(Message::binary(vec![0u8; 6])).unwrap();
        assert_eq!(q.push(Message::binary(vec![0u8; 6])).unwrap_err().0, Refusal::Full);
        assert_eq!(q.push(Message::binary(vec![0u8; 11])).unwrap_err().0, Refusal::TooLarge);
        assert_eq!(q.bytes(), 6);
    }

    #[test]
    fn requeue_keeps_order() {
        let mut q = queue(10, 100, OverflowPolicy::Reject);
        for t in ["abcd", "xy", "z"] {
            q.push(Message::text(t)).unwrap();
        }
        let taken: Vec<Queued> = (0..2).filter_map(|_| q.pop_front()).collect();
        assert_eq!(q.bytes(), 1);
        q.requeue_front(taken.into_iter());
        assert_eq!((q.len(), q.bytes()), (3, 7), "the requeued messages' bytes count again");
        let order: Vec<String> = q.drain().map(|i| i.message.as_text().unwrap().to_owned()).collect();
        assert_eq!(order, ["abcd", "xy", "z"]);
        assert_eq!(q.bytes(), 0);
    }
}
