//! [`RunSlot`]: where the run loop lives, so that two parties can poll it: the driver task
//! (always), and `recv` when its inbox is empty (or `send` when 8 KiB wait to be written) if
//! the runtime allows polling the client's IO from the caller's task
//! ([`Runtime::home`](super::Runtime::home); tokio, on the driver's own runtime).
//!
//! Why `recv` drives: with the loop on its own task only, a message reaches a `recv` through a
//! hand-over: the driver task reads it and wakes the reader's task. On tokio's current-thread
//! runtime a task woken by another task makes the scheduler poll its reactor once more
//! (`epoll_wait(…, 0)`) before it polls the woken one, a syscall per round trip that a client
//! reading on its own task does not make. Polled by `recv`, the loop registers a waker that
//! wakes both the driver task and that `recv` ([`Wake`] for `RunSlot`), so the reactor wakes
//! the reader directly, it reads the socket itself, and the driver task, woken too, finds
//! nothing left and costs a lock. Everything else (timers, writes, reconnects, events) works
//! as before whether or not anyone calls `recv`: the driver task is woken by every event.
//!
//! Whoever holds the lock polls; the other never waits for it: `recv` then waits for the
//! driver's `received` notification as before, and the driver task, finding the slot busy,
//! sets [`missed`](RunSlot::missed) so the holder wakes it when it lets go.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::{Context, Poll, Wake, Waker};

use atomic_waker::AtomicWaker;

/// The run loop as the slot polls it (a [`Run`](super::Run) of any runtime).
pub(crate) trait PollRun: Send {
    /// One poll of the loop. `cx` wakes both pollers; `task` is the driver task's own waker,
    /// which the handles' wake-ups ([`DriverWake`](super::DriverWake)) register when the
    /// task polls (`None` from `recv`, which only looks at them). `quiet`: the loop's waker
    /// has not fired since the start of the last poll that ended `Pending` (a `recv` handled
    /// what woke the task too), so only a handle's wake-up can have brought work.
    fn poll_run(&mut self, cx: &mut Context<'_>, task: Option<&Waker>, quiet: bool) -> Poll<()>;

    /// Whether the calling thread may poll the loop's IO and timers (it is in the driver
    /// task's runtime, and the runtime allows it).
    fn at_home(&self) -> bool;

    /// Whether any thread may ever be [`at_home`](Self::at_home): the task has polled, on a
    /// runtime that allows it.
    fn has_home(&self) -> bool;
}

type BoxedRun = Box<dyn PollRun>;

/// The run loop of one client, and the wakers of the two that poll it.
#[derive(Default)]
pub(crate) struct RunSlot {
    /// `None` once the loop has ended (or its task was dropped).
    run: Mutex<Option<BoxedRun>>,
    /// The driver task.
    task: AtomicWaker,
    /// The `recv` that polled the loop last and is waiting.
    recv: AtomicWaker,
    /// The driver task found the slot busy: the holder wakes it when it lets go.
    missed: AtomicBool,
    /// [`PollRun::has_home`] as of the task's last poll: without it `recv` never takes the
    /// lock (smol, async-std, the simulator).
    drivable: AtomicBool,
    /// Wake-ups through the loop's waker so far (its IO, its timers, a yield).
    events: AtomicU64,
    /// `events` as of the start of the last poll that ended `Pending`, plus one (0: none yet).
    handled: AtomicU64,
}

impl Wake for RunSlot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.events.fetch_add(1, Ordering::SeqCst);
        // The reader first: where both are tasks of one thread, it runs first and reads the
        // message itself.
        self.recv.wake();
        self.task.wake();
    }
}

impl RunSlot {
    /// Puts the loop in (before its task exists).
    pub(crate) fn fill(&self, run: BoxedRun) {
        *self.lock() = Some(run);
    }

    /// Lets go of a lock taken by anyone but the driver task: a task turned away meanwhile is
    /// woken (with the fence in [`poll_task`](Self::poll_task), either this sees its flag or
    /// its second try sees the lock free).
    fn release(&self, guard: MutexGuard<'_, Option<BoxedRun>>) {
        drop(guard);
        fence(Ordering::SeqCst);
        if self.missed.swap(false, Ordering::SeqCst) {
            self.task.wake();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<BoxedRun>> {
        // A panic inside a poll leaves the loop as any dropped future would.
        self.run.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn try_lock(&self) -> Option<MutexGuard<'_, Option<BoxedRun>>> {
        match self.run.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Polls the loop in `run` with the waker of both pollers; drops it once it has ended.
    fn poll_locked(self: &Arc<Self>, run: &mut Option<BoxedRun>, task: Option<&Waker>) -> Poll<()> {
        let Some(loop_) = run.as_mut() else {
            return Poll::Ready(());
        };
        let waker = Waker::from(Arc::clone(self));
        let mut cx = Context::from_waker(&waker);
        let start = self.events.load(Ordering::SeqCst);
        // Only the task skips: a `recv` polls to read.
        let quiet = task.is_some() && self.handled.load(Ordering::SeqCst) == start.wrapping_add(1);
        let polled = loop_.poll_run(&mut cx, task, quiet);
        match polled {
            Poll::Ready(()) => *run = None,
            Poll::Pending => self.handled.store(start.wrapping_add(1), Ordering::SeqCst),
        }
        polled
    }

    /// The driver task's poll.
    fn poll_task(self: &Arc<Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.task.register(cx.waker());
        let mut guard = match self.try_lock() {
            Some(guard) => guard,
            None => {
                self.missed.store(true, Ordering::SeqCst);
                // The holder may have let go before it could see the flag (see `release`).
                fence(Ordering::SeqCst);
                match self.try_lock() {
                    Some(guard) => guard,
                    None => return Poll::Pending,
                }
            }
        };
        let polled = self.poll_locked(&mut guard, Some(cx.waker()));
        let drivable = guard.as_ref().is_some_and(|run| run.has_home());
        self.drivable.store(drivable, Ordering::Release);
        polled
    }

    /// `recv`'s poll, when its inbox is empty: polls the loop if nobody else is and the caller
    /// is at home; true when it did (the inbox may hold messages now). Until
    /// [`forget_recv`](Self::forget_recv), the loop's next event wakes this caller too.
    pub(crate) fn drive_for_recv(self: &Arc<Self>, cx: &mut Context<'_>) -> bool {
        if !self.drivable.load(Ordering::Acquire) {
            return false;
        }
        let Some(mut guard) = self.try_lock() else {
            return false;
        };
        if !guard.as_ref().is_some_and(|run| run.at_home()) {
            self.release(guard);
            return false;
        }
        self.recv.register(cx.waker());
        let ended = self.poll_locked(&mut guard, None).is_ready();
        self.release(guard);
        if ended {
            // The task must see the end.
            self.task.wake();
        }
        true
    }

    /// A `send` that brought the bytes waiting to a write's worth: polls the loop once (which
    /// writes them) if nobody else is polling it and the caller is at home. Unlike `recv`'s,
    /// this poll registers no waker of the caller: a send that returns waits for nothing.
    pub(crate) fn drive_for_send(self: &Arc<Self>) {
        if !self.drivable.load(Ordering::Acquire) {
            return;
        }
        let Some(mut guard) = self.try_lock() else {
            return;
        };
        if !guard.as_ref().is_some_and(|run| run.at_home()) {
            self.release(guard);
            return;
        }
        let ended = self.poll_locked(&mut guard, None).is_ready();
        self.release(guard);
        if ended {
            self.task.wake();
        }
    }

    /// Whether a `recv` on this thread would poll the loop now.
    #[cfg(all(test, feature = "tokio"))]
    pub(crate) fn recv_may_drive_here(&self) -> bool {
        let guard = self.lock();
        let here = self.drivable.load(Ordering::Acquire) && guard.as_ref().is_some_and(|run| run.at_home());
        self.release(guard);
        here
    }

    /// The `recv` that drove has its message: the loop's events no longer wake it.
    pub(crate) fn forget_recv(&self) {
        drop(self.recv.take());
    }
}

/// The driver task's future: polls the loop in its slot until the loop ends. Dropping it
/// drops the loop (as the executor shutting down would), which tells the handles.
pub(crate) struct DriverTask {
    slot: Arc<RunSlot>,
}

impl DriverTask {
    pub(crate) fn new(slot: Arc<RunSlot>) -> Self {
        DriverTask { slot }
    }

    /// The slot of the loop this task polls.
    #[cfg(all(test, feature = "tokio"))]
    pub(crate) fn slot(&self) -> &RunSlot {
        &self.slot
    }
}

impl std::future::Future for DriverTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.slot.poll_task(cx)
    }
}

impl Drop for DriverTask {
    fn drop(&mut self) {
        // Out of the lock first: the loop's own drop takes the session's lock.
        let run = self.slot.lock().take();
        drop(run);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Weak;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Count {
        fn get(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// A loop that counts its polls, keeps the waker of the last one, and answers `at_home`
    /// as told; `during_at_home` runs inside `at_home`, with the slot locked by the caller.
    struct FakeRun {
        polls: Arc<AtomicUsize>,
        /// The `quiet` of every poll.
        quiet: Arc<Mutex<Vec<bool>>>,
        waker: Arc<Mutex<Option<Waker>>>,
        home: bool,
        at_home: bool,
        during_at_home: Option<Box<dyn Fn() + Send>>,
    }

    impl PollRun for FakeRun {
        fn poll_run(&mut self, cx: &mut Context<'_>, _task: Option<&Waker>, quiet: bool) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            self.quiet.lock().unwrap().push(quiet);
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
        fn at_home(&self) -> bool {
            if let Some(during) = &self.during_at_home {
                during();
            }
            self.at_home
        }
        fn has_home(&self) -> bool {
            self.home
        }
    }

    struct Fixture {
        slot: Arc<RunSlot>,
        task: DriverTask,
        polls: Arc<AtomicUsize>,
        quiet: Arc<Mutex<Vec<bool>>>,
        loop_waker: Arc<Mutex<Option<Waker>>>,
        task_wakes: Arc<Count>,
    }

    impl Fixture {
        fn new(home: bool, at_home: bool, during_at_home: Option<Box<dyn Fn() + Send>>) -> Fixture {
            let slot = Arc::new(RunSlot::default());
            let polls = Arc::new(AtomicUsize::new(0));
            let loop_waker = Arc::new(Mutex::new(None));
            let quiet = Arc::new(Mutex::new(Vec::new()));
            slot.fill(Box::new(FakeRun {
                polls: Arc::clone(&polls),
                quiet: Arc::clone(&quiet),
                waker: Arc::clone(&loop_waker),
                home,
                at_home,
                during_at_home,
            }));
            Fixture {
                task: DriverTask::new(Arc::clone(&slot)),
                slot,
                polls,
                quiet,
                loop_waker,
                task_wakes: Arc::new(Count::default()),
            }
        }

        /// One poll of the driver task.
        fn poll_task(&mut self) -> Poll<()> {
            let waker = Waker::from(Arc::clone(&self.task_wakes));
            std::pin::Pin::new(&mut self.task).poll(&mut Context::from_waker(&waker))
        }
    }

    use std::future::Future;

    #[test]
    fn a_task_turned_away_by_a_busy_slot_is_woken_when_the_holder_lets_go() {
        let mut fixture = Fixture::new(true, true, None);
        let slot = Arc::clone(&fixture.slot);
        let guard = slot.try_lock().unwrap();
        assert!(fixture.poll_task().is_pending());
        assert_eq!(fixture.polls.load(Ordering::SeqCst), 0, "the loop was busy");
        assert_eq!(fixture.task_wakes.get(), 0);
        slot.release(guard);
        assert_eq!(fixture.task_wakes.get(), 1, "woken to poll again");
        assert!(fixture.poll_task().is_pending());
        assert_eq!(fixture.polls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn recv_never_takes_the_loop_on_a_runtime_without_a_home() {
        let mut fixture = Fixture::new(false, true, None);
        let recv = Arc::new(Count::default());
        let waker = Waker::from(Arc::clone(&recv));
        assert!(
            !fixture.slot.drive_for_recv(&mut Context::from_waker(&waker)),
            "before the task ran"
        );
        assert!(fixture.poll_task().is_pending());
        assert!(!fixture.slot.drive_for_recv(&mut Context::from_waker(&waker)));
        assert_eq!(fixture.polls.load(Ordering::SeqCst), 1, "the task's poll only");
    }

    #[test]
    fn a_recv_that_drove_is_woken_with_the_task_until_it_has_its_message() {
        let mut fixture = Fixture::new(true, true, None);
        assert!(fixture.poll_task().is_pending());
        let recv = Arc::new(Count::default());
        let waker = Waker::from(Arc::clone(&recv));
        assert!(fixture.slot.drive_for_recv(&mut Context::from_waker(&waker)));
        assert_eq!(fixture.polls.load(Ordering::SeqCst), 2);
        // An event of the loop (IO, a timer) wakes both.
        fixture.loop_waker.lock().unwrap().take().unwrap().wake();
        assert_eq!((recv.get(), fixture.task_wakes.get()), (1, 1));
        // Polled again by recv, which then got its message: the next event wakes the task only.
        assert!(fixture.slot.drive_for_recv(&mut Context::from_waker(&waker)));
        fixture.slot.forget_recv();
        assert!(fixture.poll_task().is_pending());
        fixture.loop_waker.lock().unwrap().take().unwrap().wake();
        assert_eq!((recv.get(), fixture.task_wakes.get()), (1, 2));
    }

    #[test]
    fn the_task_is_told_when_nothing_woke_the_loop_since_a_poll_that_ended() {
        let mut fixture = Fixture::new(true, true, None);
        assert!(fixture.poll_task().is_pending());
        let recv = Arc::new(Count::default());
        let waker = Waker::from(Arc::clone(&recv));
        // An event: recv polls the loop; the task, woken by the same event, finds it handled.
        fixture.loop_waker.lock().unwrap().take().unwrap().wake();
        assert!(fixture.slot.drive_for_recv(&mut Context::from_waker(&waker)));
        assert!(fixture.poll_task().is_pending());
        // An event nobody has handled yet.
        fixture.loop_waker.lock().unwrap().take().unwrap().wake();
        assert!(fixture.poll_task().is_pending());
        // A wake-up during the poll (the loop yielding) counts too.
        let waker_in_poll = fixture.loop_waker.lock().unwrap().take().unwrap();
        waker_in_poll.wake_by_ref();
        assert!(fixture.poll_task().is_pending());
        assert_eq!(
            *fixture.quiet.lock().unwrap(),
            [false, false, true, false, false],
            "first task poll, recv (never quiet), the task after recv, after new events"
        );
    }

    #[test]
    fn a_recv_away_from_home_lets_go_of_the_loop_and_wakes_a_task_it_turned_away() {
        // The task polls while this recv holds the lock to ask `at_home`.
        let slot_for_task: Arc<Mutex<Weak<RunSlot>>> = Arc::default();
        let task_wakes = Arc::new(Count::default());
        let (slot_in_hook, wakes_in_hook) = (Arc::clone(&slot_for_task), Arc::clone(&task_wakes));
        let turned_away = Arc::new(AtomicUsize::new(0));
        let turned = Arc::clone(&turned_away);
        let hook: Box<dyn Fn() + Send> = Box::new(move || {
            let Some(slot) = slot_in_hook.lock().unwrap().upgrade() else {
                return;
            };
            let waker = Waker::from(Arc::clone(&wakes_in_hook));
            if slot.poll_task(&mut Context::from_waker(&waker)).is_pending() {
                turned.fetch_add(1, Ordering::SeqCst);
            }
        });
        let mut fixture = Fixture::new(true, false, Some(hook));
        fixture.task_wakes = Arc::clone(&task_wakes);
        assert!(fixture.poll_task().is_pending(), "the task's first poll: drivable");
        *slot_for_task.lock().unwrap() = Arc::downgrade(&fixture.slot);
        let recv = Arc::new(Count::default());
        let waker = Waker::from(Arc::clone(&recv));
        assert!(
            !fixture.slot.drive_for_recv(&mut Context::from_waker(&waker)),
            "not at home"
        );
        assert_eq!(turned_away.load(Ordering::SeqCst), 1);
        assert_eq!(task_wakes.get(), 1, "the task turned away is woken");
        assert_eq!(fixture.polls.load(Ordering::SeqCst), 1, "recv did not poll the loop");
    }
}
