//! Small helpers shared by the connection and the session.

use std::collections::VecDeque;

/// Frees a queue's allocation once it is empty, so a burst of events does not stay allocated
/// for the life of an idle connection (events are large; a long-lived client holds thousands
/// of connections' worth of them otherwise). The hot paths do not use these queues.
#[inline]
pub(crate) fn release_if_drained<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
}
