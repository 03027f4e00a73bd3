//! A [`World`] shared between a test and the blocking clients it drives: the test scripts the
//! world between calls, and a blocking call runs the world while it waits.
//!
//! A blocking client must stay `Send` (it is the same type as on real sockets), so it cannot
//! hold the world itself (the world's tasks need not be `Send`). It holds the world's number
//! instead, and finds the world in a registry of the thread that shared it.

use std::cell::{Ref, RefCell, RefMut};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::World;

/// The most virtual time one blocking call may run the world without the test touching it:
/// 30 days. A call whose condition never comes (a `recv` against a server that always
/// rejects, or that never sends) would otherwise run virtual time forever; past this it
/// panics with a sentence that says so.
pub(crate) const BLOCKING_CALL_LIMIT: Duration = Duration::from_secs(30 * 24 * 3600);

thread_local! {
    /// The shared worlds of this thread, by number.
    static WORLDS: RefCell<Vec<(u64, Weak<RefCell<World>>)>> = const { RefCell::new(Vec::new()) };
}

/// A [`World`] that blocking clients run while they wait, shared with the test that scripts it.
///
/// Made by [`World::shared`]; clones are cheap and name the same world. A blocking client
/// started on it with [`ClientBuilder::connect_blocking_sim`](crate::ClientBuilder::connect_blocking_sim)
/// runs the world (every task until idle, then the clock to the next deadline) in each call
/// that would wait, on the thread that shared the world. Between those calls the test borrows
/// the world to script it: `world.borrow_mut().stop_server()`. A blocking call made while the
/// test holds such a borrow panics, as does one from another thread, and one that runs 30 days
/// of virtual time since the test last borrowed the world without its condition coming true
/// (a `recv` against a server that always rejects): a test fails rather than spins.
#[derive(Clone, Debug)]
pub struct SharedWorld {
    world: Rc<RefCell<World>>,
}

impl World {
    /// Shares the world with the blocking clients of this thread (see [`SharedWorld`]).
    pub fn shared(self) -> SharedWorld {
        let number = self.sockets.time.world();
        let world = Rc::new(RefCell::new(self));
        WORLDS.with_borrow_mut(|worlds| {
            worlds.retain(|(_, weak)| weak.strong_count() > 0);
            worlds.push((number, Rc::downgrade(&world)));
        });
        SharedWorld { world }
    }
}

impl SharedWorld {
    /// The world, to read (`world.borrow().server.received`).
    pub fn borrow(&self) -> Ref<'_, World> {
        let world = self.world.borrow();
        world.scripted_at.set(world.now());
        world
    }

    /// The world, to script or run (`world.borrow_mut().stop_server()`); let the borrow go
    /// before the next blocking call.
    pub fn borrow_mut(&self) -> RefMut<'_, World> {
        let world = self.world.borrow_mut();
        world.scripted_at.set(world.now());
        world
    }

    /// The virtual now.
    pub fn now(&self) -> Instant {
        self.world.borrow().now()
    }

    /// The world's number, as its clock knows it.
    pub(crate) fn number(&self) -> u64 {
        self.world.borrow().sockets.time.world()
    }
}

/// Why a blocking client could not run its world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreachable {
    /// Dropped, or shared on another thread.
    Gone,
    /// Borrowed already: the test holds a borrow across a blocking call.
    Busy,
}

impl Unreachable {
    /// Why the call cannot go on, for a panic.
    pub(crate) fn explain(self) -> &'static str {
        match self {
            Unreachable::Gone => {
                "the simulated world of this blocking client is gone: dropped, or the client is \
                 used on another thread than the one that shared the world"
            }
            Unreachable::Busy => {
                "the simulated world is borrowed during a blocking call: let go of \
                 `SharedWorld::borrow_mut` before calling the client"
            }
        }
    }
}

/// Whether this thread shared the world numbered `number` (and it still exists).
pub(crate) fn holds_world(number: u64) -> bool {
    WORLDS.with_borrow(|worlds| worlds.iter().any(|(n, weak)| *n == number && weak.strong_count() > 0))
}

/// Runs `f` on the shared world numbered `number`, if this thread holds it and nothing has
/// it borrowed.
pub(crate) fn with_world<R>(number: u64, f: impl FnOnce(&mut World) -> R) -> Result<R, Unreachable> {
    let world = WORLDS
        .with_borrow(|worlds| {
            worlds
                .iter()
                .find(|(n, _)| *n == number)
                .and_then(|(_, weak)| weak.upgrade())
        })
        .ok_or(Unreachable::Gone)?;
    let mut world = world.try_borrow_mut().map_err(|_| Unreachable::Busy)?;
    Ok(f(&mut world))
}
