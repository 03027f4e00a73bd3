//! The simulated world's executor: one thread, tasks polled only when woken, and a way to tell
//! when every task is idle (so the world may move time on).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Wake, Waker};

/// Task ids woken since they were last polled, in waking order.
#[derive(Default)]
struct ReadyQueue(Mutex<VecDeque<usize>>);

impl ReadyQueue {
    fn push(&self, id: usize) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push_back(id);
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn pop(&self) -> Option<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).pop_front()
    }
}

/// The waker of one task: queues the task once until it is polled again.
struct TaskWaker {
    id: usize,
    queued: AtomicBool,
    ready: Arc<ReadyQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ready.push(self.id);
        }
    }
}

struct Slot {
    future: Pin<Box<dyn Future<Output = ()>>>,
    waker: Arc<TaskWaker>,
}

/// The tasks of a simulated world.
#[derive(Default)]
pub(crate) struct Executor {
    tasks: Vec<Option<Slot>>,
    ready: Arc<ReadyQueue>,
    live: usize,
}

impl Executor {
    /// Adds a task; it is polled at the next [`run_ready`](Self::run_ready).
    pub(crate) fn spawn(&mut self, future: Pin<Box<dyn Future<Output = ()>>>) {
        let id = self.tasks.len();
        let waker = Arc::new(TaskWaker {
            id,
            queued: AtomicBool::new(false),
            ready: Arc::clone(&self.ready),
        });
        waker.wake_by_ref();
        self.tasks.push(Some(Slot { future, waker }));
        self.live += 1;
    }

    /// Polls every task woken so far once (the ones they wake wait for the next call);
    /// returns how many polls it made.
    pub(crate) fn run_ready(&mut self) -> usize {
        let mut polls = 0;
        let woken = self.ready.len();
        for _ in 0..woken {
            let Some(id) = self.ready.pop() else { break };
            let Some(slot) = self.tasks.get_mut(id).and_then(Option::as_mut) else {
                continue;
            };
            slot.waker.queued.store(false, Ordering::Release);
            let waker = Waker::from(Arc::clone(&slot.waker));
            polls += 1;
            if slot.future.as_mut().poll(&mut Context::from_waker(&waker)).is_ready() {
                self.tasks[id] = None;
                self.live -= 1;
            }
        }
        polls
    }

    /// How many tasks have not finished.
    pub(crate) fn live(&self) -> usize {
        self.live
    }
}

/// A task spawned on the world: whether it finished, and its output.
#[derive(Debug)]
pub struct Task<T> {
    output: Rc<RefCell<Option<T>>>,
    finished: Rc<Cell<bool>>,
}

impl<T> Task<T> {
    pub(crate) fn wrap<F: Future<Output = T> + 'static>(future: F) -> (Self, Pin<Box<dyn Future<Output = ()>>>)
    where
        T: 'static,
    {
        let output = Rc::new(RefCell::new(None));
        let finished = Rc::new(Cell::new(false));
        let (out, done) = (Rc::clone(&output), Rc::clone(&finished));
        let wrapped = Box::pin(async move {
            let value = future.await;
            *out.borrow_mut() = Some(value);
            done.set(true);
        });
        (Task { output, finished }, wrapped)
    }

    /// Whether the task has run to its end.
    pub fn is_finished(&self) -> bool {
        self.finished.get()
    }

    /// The task's output, once it finished (taken: a second call gives `None`).
    pub fn take_output(&self) -> Option<T> {
        self.output.borrow_mut().take()
    }
}
