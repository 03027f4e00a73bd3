//! [`DriverWake`]: how handles tell the one driver task that there is work, without an
//! allocation per wake-up and at the cost of one atomic swap when the driver already knows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

/// A wake-up flag for a single waiter, the driver: handles [`notify`](Self::notify) after a
/// change under the lock (a message queued, room made in the inbox, a close, the last handle
/// gone); the driver [`take`](Self::take)s the flag before it looks at the shared state and
/// waits with [`poll_notified`](Self::poll_notified) once a round found nothing to do, so a
/// notification during a round is never lost.
#[derive(Default)]
pub(crate) struct DriverWake {
    pending: AtomicBool,
    waker: AtomicWaker,
}

impl DriverWake {
    /// Tells the driver to look again; wakes its task unless a notification is already
    /// pending (whoever set it woke the task).
    pub(crate) fn notify(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            self.waker.wake();
        }
    }

    /// Clears the flag: the driver is about to look at everything a notification could be
    /// about.
    pub(crate) fn take(&self) {
        self.pending.store(false, Ordering::Release);
    }

    /// `Ready` (and cleared) when notified since the last [`take`](Self::take) or `Ready`,
    /// without registering a waker (the task registered by the last
    /// [`poll_notified`](Self::poll_notified) stays the one woken).
    pub(crate) fn poll_taken(&self) -> Poll<()> {
        if self.pending.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// `Ready` (and cleared) when notified since the last [`take`](Self::take) or `Ready`;
    /// otherwise the task of `cx` is woken by the next [`notify`](Self::notify).
    pub(crate) fn poll_notified(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.pending.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // A notification between the check and the registration found no waker to wake.
        if self.pending.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Wake, Waker};

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_notification_before_the_wait_is_seen_and_one_after_it_wakes_the_task_once() {
        let wake = DriverWake::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);

        wake.notify();
        assert!(wake.poll_notified(&mut cx).is_ready(), "notified before waiting");
        assert!(wake.poll_notified(&mut cx).is_pending(), "cleared by the Ready");

        wake.notify();
        wake.notify();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "a pending notification wakes no one again"
        );
        assert!(wake.poll_notified(&mut cx).is_ready());

        wake.notify();
        wake.take();
        assert!(
            wake.poll_notified(&mut cx).is_pending(),
            "taken before the round looked"
        );
    }
}
