//! The async driver: one hand-written future that runs a [`Session`] on any [`Runtime`] (the
//! seam in `runtime.rs`: TCP, TLS and a timer), shared by smol, async-std and tokio.
//!
//! Each poll of [`Driver`] does, until nothing moves:
//! 1. poll the transport being opened, and report `Connected` or `Failed`; run the
//!    per-connection hooks of a pending `Connect` with no lock held, then start opening;
//! 2. under the lock: close the session if the last [`Client`](crate::Client) is gone, move
//!    the session's outputs out (every event into the broadcast ring, data messages also into
//!    the inbox of `recv`; pushing never waits), act on `Connect` / `Disconnect`, decide
//!    whether reads pause for a full inbox, handle due timeouts, and take bytes from
//!    `poll_transmit` when the previous ones are written;
//! 3. without the lock: write those bytes (the position is kept here, so a frame is never
//!    torn), read the socket into the session (unless `recv`'s inbox is full) and, under the
//!    same lock, move out what the read produced (so `recv` is woken with the messages in
//!    this round, not the next), finish retired transports, and arm the timer at
//!    `poll_timeout()` (always: timers never pause);
//! 4. otherwise wait for a handle's wake-up ([`DriverWake`]).
//!
//! A busy connection keeps its drained buffers from one batch to the next, and frees them once
//! it has been quiet for a second ([`BufferKeeper`], `keep.rs`; its deadline joins the
//! session's on the timer).
//!
//! The loop lives in a [`RunSlot`] (`slot.rs`): its task polls it, and so does `recv` with
//! an empty inbox where the runtime allows (tokio), so a message is read on the reader's own
//! task without a hand-over between tasks; so does a `send` that has just brought the bytes
//! waiting to 8 KiB, so a sender that never yields gets them written (`handle/send.rs`).
//!
//! All state lives in the driver and the shared session, never in a suspended `.await`, so
//! dropping the future at any point loses nothing that was accepted (queued messages stay in
//! the session; the handles see the driver as finished).

mod connect;
mod keep;
mod runtime;
mod shared;
mod slot;
#[cfg(feature = "rustls")]
mod tls_over;
mod transport;
mod wake;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::read_buf::with_read_buf;
use event_listener::Event;
use resock_core::session::{Output, Session, SessionEvent, SessionState, TransportId, TransportInput};
use resock_core::{CloseCode, WsUrl};

use crate::ClientBuilder;
use crate::broadcast::Ring;
use crate::handle::Client;
use crate::hooks::Hooks;

#[cfg(all(test, any(feature = "async", feature = "tokio")))]
pub(crate) use connect::connect_each;
use connect::{Connector, Opening, Stream};
use keep::BufferKeeper;
pub(crate) use runtime::{ByteStream, DriverTimer, Runtime};
pub(crate) use shared::{Shared, State};
pub(crate) use slot::{DriverTask, PollRun, RunSlot};
pub(crate) use transport::{Io, Retiring};
pub(crate) use wake::DriverWake;

/// Rounds of work in one poll before the driver yields to other tasks.
const ROUNDS_PER_POLL: usize = 32;

/// The transport the session currently has, as far as the driver knows.
enum Link<S> {
    None,
    Opening { id: TransportId, opening: Opening<S> },
    Up { id: TransportId, io: Io<S> },
}

/// The run loop, generic over the runtime. It is the future each runtime spawns.
pub(crate) struct Run<R: Runtime> {
    shared: Arc<Shared>,
    /// The runtime: its timers, and (in the connector) its streams.
    runtime: R,
    connector: Connector<R>,
    link: Link<Stream<R>>,
    /// Boxed: only while a transport closes (a reconnect, the end).
    retiring: Option<Box<Retiring<Stream<R>, R::Timer>>>,
    timer: R::Timer,
    timer_at: Option<Instant>,
    /// The builder's per-connection hooks.
    hooks: Hooks,
    /// Logs outputs with the `tracing` feature.
    tracer: crate::trace::Tracer,
    /// A `Connect` whose hooks must run (with no lock held) before its transport is opened:
    /// the transport, where to, and the attempt number.
    /// Boxed: only between a `Connect` and its hooks.
    pending_connect: Option<Box<(TransportId, WsUrl, u32)>>,
    /// Reads stopped because `recv`'s inbox is full (the session was told).
    reads_paused: bool,
    /// How long a retired transport may take to write its last bytes and close.
    retire_within: Duration,
    /// `connect` was called on the session.
    started: bool,
    /// Every handle is gone: the session was told to close, and messages go nowhere (events
    /// still reach subscriptions, which see the close).
    orphaned: bool,
    /// The last `drain_outputs` emptied the session's outputs.
    drained: bool,
    /// Since the last wake-up of the handles, a message went into `recv`'s inbox or the
    /// session ended: `recv` must be woken too.
    received: bool,
    done: bool,
    /// The runtime the driver task runs on, once it has polled (see [`Runtime::home`]).
    home: Option<R::Home>,
    /// Whether the connection is busy enough to keep its buffers (`keep.rs`).
    keeper: BufferKeeper,
}

impl<R: Runtime> Run<R> {
    /// The client's handle and the task that runs its loop; fails when a setting can never
    /// work ([`validate`](ClientBuilder::validate)).
    pub(crate) fn build(builder: ClientBuilder, runtime: R) -> Result<(Client, DriverTask), resock_core::ConfigError> {
        builder.validate()?;
        let connector = Connector::new(&builder, runtime.clone());
        let clock = runtime.clock();
        let ClientBuilder {
            #[cfg_attr(not(feature = "json"), allow(unused_mut))]
            mut config,
            event_capacity,
            recv_capacity,
            hooks,
            ..
        } = builder;
        let retire_within = config.close_timeout;
        // The envelope is for `send_typed` and the router only: the session must hand out raw
        // messages, or `recv` (and the router on top of it) would never see a text message.
        #[cfg(feature = "json")]
        let envelope = config.envelope.take().unwrap_or_default();
        let mut session = Session::new(config, runtime.seed(), clock.now());
        // Nobody listens yet: `Sent` is reported only while a subscription exists.
        session.report_sent(false);
        let slot = Arc::new(RunSlot::default());
        let shared = Arc::new(Shared {
            state: std::sync::Mutex::new(State {
                session,
                events: Ring::new(event_capacity),
                inbox: Default::default(),
                receiving: false,
                messages_dropped: 0,
                closing: false,
                ended: false,
                finished: false,
                keep_buffers: false,
            }),
            wake_driver: DriverWake::default(),
            changed: Event::new(),
            clock,
            received: Event::new(),
            handles: AtomicUsize::new(0),
            recv_capacity: recv_capacity.max(1),
            slot: Arc::clone(&slot),
            #[cfg(feature = "json")]
            envelope,
        });
        let client = Client::new(Arc::clone(&shared));
        let run = Run {
            shared,
            connector,
            link: Link::None,
            retiring: None,
            timer: runtime.timer(),
            runtime,
            timer_at: None,
            hooks,
            tracer: Default::default(),
            pending_connect: None,
            reads_paused: false,
            retire_within,
            started: false,
            orphaned: false,
            drained: false,
            received: false,
            done: false,
            home: None,
            keeper: BufferKeeper::default(),
        };
        slot.fill(Box::new(run));
        Ok((client, DriverTask::new(slot)))
    }

    /// One poll of the loop (see [`PollRun::poll_run`]).
    fn poll_loop(&mut self, cx: &mut Context<'_>, task: Option<&std::task::Waker>, quiet: bool) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        if let Some(task) = task.filter(|_| quiet) {
            // A `recv` already did what the loop's wake-up asked for: only a handle's
            // wake-up can have brought work (and the task must stay registered for the next).
            if self
                .shared
                .wake_driver
                .poll_notified(&mut Context::from_waker(task))
                .is_pending()
            {
                return Poll::Pending;
            }
        }
        if task.is_some() && self.home.is_none() {
            self.home = self.runtime.home();
        }
        for _ in 0..ROUNDS_PER_POLL {
            // Clear the flag before looking, so a wake-up during this round is not lost.
            self.shared.wake_driver.take();
            let progress = self.round(cx);
            if self.done {
                return Poll::Ready(());
            }
            if progress {
                let received = std::mem::take(&mut self.received);
                self.shared.notify_changed(received);
                continue;
            }
            let notified = match task {
                Some(task) => self.shared.wake_driver.poll_notified(&mut Context::from_waker(task)),
                // `recv` only looks: the task stays the one the handles wake.
                None => self.shared.wake_driver.poll_taken(),
            };
            if notified.is_pending() {
                return Poll::Pending;
            }
        }
        // Plenty done in one go; let other tasks run and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// One round of work; true when anything moved.
    fn round(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = self.poll_opening(cx) | self.open_pending_connect();
        let shared = Arc::clone(&self.shared);
        let deadline = {
            let mut state = shared.lock();
            let now = self.shared.clock.now();
            if self.keeper.expire(now) {
                let io = match &mut self.link {
                    Link::Up { io, .. } => Some(io),
                    _ => None,
                };
                keep_buffers(&mut state, io, false);
            }
            if !self.started {
                self.started = true;
                // Not after a close issued before this first poll: `connect` would undo it.
                if *state.session.state() == SessionState::Idle {
                    state.session.connect(now);
                }
            }
            if !self.orphaned && shared.handles.load(Ordering::Acquire) == 0 {
                self.orphaned = true;
                state.closing = true;
                state.inbox = Default::default();
                state.session.close(now, CloseCode::NORMAL, "");
                progress = true;
            }
            progress |= self.drain_outputs(&mut state);
            if self.pending_connect.is_some() {
                // Its hooks run at the top of the next round, without the lock.
                return true;
            }
            self.update_reading(&mut state, now);
            if state.session.poll_timeout().is_some_and(|at| at <= now) {
                state.session.handle_timeout(now);
                self.drain_outputs(&mut state);
                if self.pending_connect.is_some() {
                    return true;
                }
                self.update_reading(&mut state, now);
                progress = true;
            }
            progress |= self.take_transmit(&mut state, now);
            if !state.ended && self.drained && matches!(state.session.state(), SessionState::Closed(_)) {
                state.ended = true;
                self.received = true;
                progress = true;
            }
            if self.is_finished(&state) {
                state.finished = true;
                self.done = true;
                drop(state);
                self.shared.notify_changed(true);
                return true;
            }
            [state.session.poll_timeout(), self.keeper.deadline()]
                .into_iter()
                .flatten()
                .min()
        };
        progress |= self.poll_write(cx);
        if !self.reads_paused {
            if let Some(mut state) = self.poll_read(cx, &shared) {
                // What the read produced leaves the session now, so the wake-up at the end of
                // this round finds the messages in `recv`'s inbox (the next round acts on the
                // rest: a `Connect`'s hooks, a paused read, the end).
                self.drain_outputs(&mut state);
                progress = true;
            }
        }
        if let Some(retiring) = self.retiring.as_mut() {
            if retiring.poll_done(cx).is_ready() {
                self.retiring = None;
                progress = true;
            }
        }
        progress |= self.poll_timer(cx, deadline);
        progress
    }

    /// Runs the hooks of a pending `Connect` with no lock held (so a hook may call the client),
    /// gives their results to the session, then starts opening the transport, unless the
    /// session gave up on it meanwhile.
    fn open_pending_connect(&mut self) -> bool {
        let Some(pending) = self.pending_connect.take() else {
            return false;
        };
        let (id, url, attempt) = *pending;
        let prepared = self.hooks.prepare(attempt);
        let mut state = self.shared.lock();
        if state.session.transport() == Some(id) {
            prepared.apply(&mut state.session, id);
            self.link = Link::Opening {
                id,
                opening: self.connector.connect(&url),
            };
        }
        true
    }

    /// Stops reading while `recv`'s inbox is full (and the connection open), resumes when it
    /// has room, and tells the session, whose heartbeat does not count the pause against the
    /// server.
    fn update_reading(&mut self, state: &mut State, now: Instant) {
        let pause = !self.orphaned && state.inbox_blocks_reading(self.shared.recv_capacity);
        if pause != self.reads_paused {
            self.reads_paused = pause;
            state.session.set_reading(now, !pause);
        }
    }

    /// Moves the session's outputs out: every event to the subscriptions' ring (and data
    /// messages to `recv`'s inbox), transport requests acted on. Never waits for a reader.
    /// Stops at a `Connect` whose hooks must run first.
    fn drain_outputs(&mut self, state: &mut State) -> bool {
        let mut any = false;
        loop {
            let Some(output) = state.session.poll_output() else {
                self.drained = true;
                return any;
            };
            any = true;
            self.tracer.on_output(&output, state.session.state());
            match output {
                Output::Event(SessionEvent::Message(message)) => {
                    if state.events.has_subscribers() {
                        state.events.push(SessionEvent::Message(message.clone()));
                    }
                    if !self.orphaned {
                        state.keep_for_recv(message, self.shared.recv_capacity);
                        self.received = true;
                    }
                }
                Output::Event(event) => state.events.push(event),
                Output::Connect { id, url } => {
                    self.retire_link(state, None);
                    if self.hooks.any() {
                        let attempt = match state.session.state() {
                            SessionState::Connecting { attempt, .. } => *attempt,
                            _ => 1,
                        };
                        self.pending_connect = Some(Box::new((id, url, attempt)));
                        self.drained = false;
                        return true;
                    }
                    self.link = Link::Opening {
                        id,
                        opening: self.connector.connect(&url),
                    };
                }
                Output::Disconnect { id } => self.retire_link(state, Some(id)),
                _ => {}
            }
        }
    }

    /// Lets go of the current transport if it is `id` (any transport for `None`): a pending
    /// opening is abandoned; an open stream gets the session's last bytes, then is closed.
    fn retire_link(&mut self, state: &mut State, id: Option<TransportId>) {
        let current = match &self.link {
            Link::None => return,
            Link::Opening { id, .. } | Link::Up { id, .. } => *id,
        };
        if id.is_some_and(|id| id != current) {
            return;
        }
        if let Link::Up { mut io, .. } = std::mem::replace(&mut self.link, Link::None) {
            let mut last = Vec::new();
            while state.session.poll_transmit(&mut last).is_some() {}
            if !io.broken {
                io.out.extend_from_slice(&last);
                let deadline = resock_core::saturating_later(self.shared.clock.now(), self.retire_within);
                // An older transport still closing is given up for the newer one.
                self.retiring = Some(Box::new(Retiring::new(io, self.runtime.timer(), deadline)));
            }
        }
    }

    /// Takes the next bytes to write once the previous ones are out.
    fn take_transmit(&mut self, state: &mut State, now: Instant) -> bool {
        let Link::Up { io, .. } = &mut self.link else {
            return false;
        };
        if io.broken || !io.is_idle() {
            return false;
        }
        let Some(n) = state.session.poll_transmit(&mut io.out) else {
            return false;
        };
        if self.keeper.traffic(now, n) {
            keep_buffers(state, Some(io), true);
        }
        true
    }

    fn poll_opening(&mut self, cx: &mut Context<'_>) -> bool {
        let Link::Opening { id, opening } = &mut self.link else {
            return false;
        };
        let id = *id;
        let Poll::Ready(result) = opening.as_mut().poll(cx) else {
            return false;
        };
        let mut state = self.shared.lock();
        let now = self.shared.clock.now();
        match result {
            Ok(stream) => {
                state.session.handle_transport(now, id, TransportInput::Connected);
                let mut io = Io::new(stream);
                io.keep_buffers(self.keeper.keeping());
                self.link = Link::Up { id, io };
            }
            Err(error) => {
                state.session.handle_transport(now, id, TransportInput::Failed(&error));
                self.link = Link::None;
            }
        }
        true
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let Link::Up { id, io } = &mut self.link else {
            return false;
        };
        if io.broken {
            return false;
        }
        match io.poll_write_out(cx) {
            Poll::Ready(Ok(finished)) => finished,
            Poll::Ready(Err(e)) => {
                io.broken = true;
                let error = connect::io_error(&e, "writing to the server");
                let id = *id;
                self.shared.lock().session.handle_transport(
                    self.shared.clock.now(),
                    id,
                    TransportInput::Failed(&error),
                );
                true
            }
            Poll::Pending => false,
        }
    }

    /// Reads the socket once. When the read brought something for the session (bytes, the end
    /// of the stream or an error), it is handed over and the lock it was handed over under is
    /// returned, so the caller moves the outputs out without taking the lock again.
    fn poll_read<'s>(&mut self, cx: &mut Context<'_>, shared: &'s Shared) -> Option<MutexGuard<'s, State>> {
        let Link::Up { id, io } = &mut self.link else {
            return None;
        };
        if io.broken || !io.read_open {
            return None;
        }
        let id = *id;
        let keeper = &mut self.keeper;
        // The read buffer is the thread's (see `read_buf`): the bytes are handed to the session
        // before this poll returns, so an idle connection holds no read buffer.
        with_read_buf(|buf| {
            let Poll::Ready(result) = io.poll_read(cx, buf) else {
                return None;
            };
            let mut state = shared.lock();
            let now = shared.clock.now();
            match result {
                Ok(0) => {
                    io.read_open = false;
                    state.session.handle_transport(now, id, TransportInput::Eof);
                }
                Ok(n) => {
                    state.session.handle_transport(now, id, TransportInput::Data(&buf[..n]));
                    if keeper.traffic(now, n) {
                        keep_buffers(&mut state, Some(io), true);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    io.broken = true;
                    let error = connect::io_error(&e, "reading from the server");
                    state.session.handle_transport(now, id, TransportInput::Failed(&error));
                }
            }
            Some(state)
        })
    }

    /// Arms the timer at the session's next deadline; true when it fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> bool {
        let Some(deadline) = deadline else {
            self.timer_at = None;
            return false;
        };
        if self.timer_at != Some(deadline) {
            self.timer.set_at(deadline);
            self.timer_at = Some(deadline);
        }
        if self.timer.poll_fired(cx).is_ready() {
            self.timer_at = None;
            return true;
        }
        false
    }

    /// Closed for good, every output handed on, and the last transport closed.
    fn is_finished(&self, state: &State) -> bool {
        matches!(state.session.state(), SessionState::Closed(_))
            && self.drained
            && matches!(self.link, Link::None)
            && self.retiring.is_none()
    }
}

/// Starts or stops keeping drained buffers (see `keep.rs`) everywhere they are: the session's,
/// `recv`'s inbox, the write buffer of the open transport. Stopping frees the drained ones now.
fn keep_buffers<S: ByteStream>(state: &mut State, io: Option<&mut Io<S>>, keep: bool) {
    state.session.keep_buffers(keep);
    state.keep_buffers = keep;
    if !keep {
        state.release_inbox_if_drained();
    }
    if let Some(io) = io {
        io.keep_buffers(keep);
    }
}

impl<R: Runtime> PollRun for Run<R> {
    fn poll_run(&mut self, cx: &mut Context<'_>, task: Option<&std::task::Waker>, quiet: bool) -> Poll<()> {
        self.poll_loop(cx, task, quiet)
    }

    fn at_home(&self) -> bool {
        self.home.is_some() && self.runtime.home() == self.home
    }

    fn has_home(&self) -> bool {
        self.home.is_some()
    }
}

impl<R: Runtime> Drop for Run<R> {
    /// A driver dropped before its end (its executor shut down) leaves nothing waiting on it.
    fn drop(&mut self) {
        if !self.done {
            self.shared.lock().finished = true;
            self.shared.notify_changed(true);
        }
    }
}
