//! The simulated world: the network of `resock_core::sim` (a scriptable server behind a seeded
//! link), a virtual clock, and an executor that runs the application's tasks and the clients'
//! drivers until every one is idle before time moves.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use resock_core::ConfigError;
use resock_core::saturating_later;
use resock_core::sim::{Arrival, Network, Simulation};

use super::executor::{Executor, Task};
use super::runtime::SimRuntime;
use super::sockets::{Op, Phase, Sockets, VirtualTime};
use crate::async_driver::Run;
use crate::{Client, ClientBuilder};

/// A bound on the work of one settle, so a task that wakes itself forever fails loudly instead
/// of hanging the test.
const MAX_ROUNDS_PER_SETTLE: u64 = 200_000;

/// The number of the next world made in this process.
static NEXT_WORLD: AtomicU64 = AtomicU64::new(1);

/// A deterministic world for testing an application built on [`Client`]: the application's
/// tasks and its clients run on one thread, against the simulated server of a [`Network`], on
/// virtual time.
///
/// Nothing moves until asked. [`run_for`](Self::run_for), [`run_to`](Self::run_to) and
/// [`run_until`](Self::run_until) first run every task until all are idle, then jump the clock
/// to the next deadline (a timer of a client or of the application, a delivery on the link, a
/// timer of the server), and so on, so hours of reconnects take milliseconds. The world
/// dereferences to its [`Network`]: script the server through `world.server` and the network
/// through `world.link`; what the clients wrote is in `world.written`. The outage scripts of
/// [`Simulation`] (restarts, outages, 503s, deploys) run on it as on the core simulator.
///
/// The same seed and the same script give the same run, byte for byte: the clients' mask keys
/// and backoff jitter, and the link's jitter and loss, all derive from the seed, and typed
/// messages are stamped with a virtual wall clock (2026-01-01T00:00:00Z when the world starts,
/// plus the virtual time elapsed).
pub struct World {
    network: Network,
    pub(super) sockets: Arc<Sockets>,
    executor: Executor,
    seed: [u8; 32],
    clients: u64,
    start: Instant,
    /// When the test last borrowed the shared world (see
    /// [`BLOCKING_CALL_LIMIT`](super::shared::BLOCKING_CALL_LIMIT)).
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))] // read by blocking calls only
    pub(crate) scripted_at: std::cell::Cell<Instant>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("elapsed", &self.elapsed())
            .field("tasks", &self.executor.live())
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

impl World {
    /// A world whose server accepts and echoes, behind a link with 5 ms latency, with every
    /// random draw derived from `seed`. Its clock starts at an arbitrary instant.
    pub fn new(seed: [u8; 32]) -> Self {
        // The one real instant: virtual time needs an origin; nothing depends on its value.
        Self::starting_at(seed, Instant::now())
    }

    /// Like [`new`](Self::new), with the clock starting at `start`.
    pub fn starting_at(seed: [u8; 32], start: Instant) -> Self {
        let mut link_seed = seed;
        link_seed[0] ^= 0x5a;
        World {
            network: Network::new(link_seed),
            sockets: Arc::new(Sockets::new(Arc::new(VirtualTime::new(
                start,
                NEXT_WORLD.fetch_add(1, Ordering::Relaxed),
            )))),
            executor: Executor::default(),
            seed,
            clients: 0,
            start,
            scripted_at: std::cell::Cell::new(start),
        }
    }

    /// The virtual now (what the clients' `Instant`s are measured against).
    pub fn now(&self) -> Instant {
        self.sockets.time.now()
    }

    /// Virtual time since the world started.
    pub fn elapsed(&self) -> Duration {
        self.now() - self.start
    }

    /// Spawns a task of the application on the world (it need not be `Send`); it is first
    /// polled at the next run.
    pub fn spawn<F>(&mut self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        let (task, wrapped) = Task::wrap(future);
        self.executor.spawn(wrapped);
        task
    }

    /// Runs `future` (and everything else in the world) until it finishes, at most `limit` of
    /// virtual time: its output, or `None` if it had not finished by then.
    pub fn block_on<F>(&mut self, limit: Duration, future: F) -> Option<F::Output>
    where
        F: Future + 'static,
    {
        let task = self.spawn(future);
        self.run_until(limit, |_| task.is_finished());
        task.take_output()
    }

    /// How many connections the clients hold (connecting, open, or closed by the server and
    /// not yet let go): a leak check for an app that makes clients of its own.
    pub fn client_connections(&self) -> usize {
        self.sockets.lock().endpoints.len()
    }

    /// How many tasks (the application's and the clients' drivers) have not finished.
    pub fn tasks(&self) -> usize {
        self.executor.live()
    }

    /// The runtime of the next client: the world's sockets and clock, and a seed of its own.
    fn next_runtime(&mut self) -> SimRuntime {
        SimRuntime {
            sockets: Arc::clone(&self.sockets),
            seed: self.next_client_seed(),
        }
    }

    /// The seed of the next client (async or blocking), derived from the world's.
    pub(super) fn next_client_seed(&mut self) -> [u8; 32] {
        self.clients += 1;
        let mut seed = self.seed;
        for (byte, n) in seed[24..].iter_mut().zip(self.clients.to_le_bytes()) {
            *byte ^= n;
        }
        seed
    }

    /// Runs every task until all are idle, carrying what the clients wrote to the network and
    /// what arrived back to the clients, without moving the clock.
    pub fn settle(&mut self) {
        for _ in 0..MAX_ROUNDS_PER_SETTLE {
            let mut moved = self.executor.run_ready() > 0;
            let now = self.now();
            let ops = std::mem::take(&mut self.sockets.lock().ops);
            for op in ops {
                moved = true;
                match op {
                    Op::Open(id) => self.network.open(now, id),
                    Op::Write(id, bytes) => self.network.write(now, id, bytes),
                    Op::Finish(id) => self.network.finish(now, id),
                }
            }
            moved |= self.network.settle(now);
            while let Some(arrival) = self.network.poll_arrival(now) {
                moved = true;
                let mut table = self.sockets.lock();
                match arrival {
                    Arrival::Connected(id) => table.set_phase(id, Phase::Open),
                    Arrival::Failed(id, kind) => table.set_phase(id, Phase::Failed(kind)),
                    Arrival::Data(id, bytes) => table.arrive(id, &bytes),
                    Arrival::Eof(id) => table.set_phase(id, Phase::Eof),
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the simulated world does not settle: a task keeps waking itself");
    }

    /// The next instant anything is due: a timer of a task, a delivery, a server timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.sockets.lock().next_timer(), self.network.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Settles, then, if the next deadline is not after `until`, moves the clock to it and
    /// handles what is due there. False (the clock unmoved) when nothing is due by `until`.
    pub fn step(&mut self, until: Instant) -> bool {
        self.settle();
        match self.next_deadline() {
            Some(next) if next <= until => {
                self.move_clock(next);
                true
            }
            _ => false,
        }
    }

    /// Sets the clock to `at` (never backwards) and wakes what is due there.
    pub(super) fn move_clock(&mut self, at: Instant) {
        self.sockets.time.set(at);
        let now = self.now();
        self.sockets.lock().fire_timers(now);
        self.network.handle_timeout(now);
    }

    /// Runs everything due up to `at`, deadline by deadline, and leaves the clock at `at`.
    pub fn run_to(&mut self, at: Instant) {
        while self.step(at) {}
        self.move_clock(at);
        self.settle();
    }

    /// Runs for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        Simulation::run_for(self, duration);
    }

    /// Runs until `condition` holds (checked whenever every task is idle), at most `limit` of
    /// virtual time; returns whether it holds. On false the clock stands at the limit.
    pub fn run_until(&mut self, limit: Duration, mut condition: impl FnMut(&World) -> bool) -> bool {
        let until = saturating_later(self.now(), limit);
        loop {
            self.settle();
            if condition(self) {
                return true;
            }
            if !self.step(until) {
                self.move_clock(until);
                self.settle();
                return condition(self);
            }
        }
    }

    /// Jumps the clock forward by `by` without running anything in between (a suspended
    /// laptop): every timer due meanwhile fires at the new instant, late.
    pub fn advance(&mut self, by: Duration) {
        let at = saturating_later(self.now(), by);
        self.move_clock(at);
        self.settle();
    }

    /// Cuts every connection (the server drops its sockets): bytes in flight are lost and the
    /// clients read EOF without a close frame (close code 1006).
    pub fn cut(&mut self) {
        let now = self.now();
        self.network.cut(now);
    }

    /// Resets every connection: bytes in flight are lost and the clients see a reset.
    pub fn reset(&mut self) {
        let now = self.now();
        self.network.reset(now);
    }

    /// Stops the server: every connection is cut (EOF without a close frame) and connects are
    /// refused until [`start_server`](Self::start_server).
    pub fn stop_server(&mut self) {
        Simulation::stop_server(self);
    }

    /// The server comes back on the same address.
    pub fn start_server(&mut self) {
        Simulation::start_server(self);
    }
}

impl Deref for World {
    type Target = Network;

    fn deref(&self) -> &Network {
        &self.network
    }
}

impl DerefMut for World {
    fn deref_mut(&mut self) -> &mut Network {
        &mut self.network
    }
}

impl Simulation for World {
    fn now(&self) -> Instant {
        World::now(self)
    }

    fn run_to(&mut self, at: Instant) {
        World::run_to(self, at);
    }

    fn network(&mut self) -> &mut Network {
        &mut self.network
    }
}

impl ClientBuilder {
    /// Starts the client in a simulated [`World`]: its driver runs on the world's executor,
    /// connects to the world's server whatever host the URL names (`wss://` included, as plain
    /// WebSocket), and reads the world's virtual clock. The handle is the same [`Client`] as on
    /// every runtime, so the application's code runs unchanged.
    ///
    /// Fails, before anything connects, when a setting can never work
    /// ([`validate`](ClientBuilder::validate)).
    pub fn start_sim(self, world: &mut World) -> Result<Client, ConfigError> {
        let runtime = world.next_runtime();
        let (client, task) = Run::build(self, runtime)?;
        world.executor.spawn(Box::pin(task));
        Ok(client)
    }
}
