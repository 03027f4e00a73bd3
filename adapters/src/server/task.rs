//! The task of one accepted connection: TLS (when configured), then a hand-written poll loop
//! like the client's driver (`async_driver::Run`) around a core
//! [`ServerConnection`](resock_core::server::ServerConnection).
//!
//! Each round, until nothing moves:
//! 1. a pending request goes to the decision hook, with no lock held, and the answer to core;
//! 2. under the connection's lock: shutdown (1001), the budget (1009) and the last handle gone
//!    (1000) are passed on, a due timeout handled, events decoded on demand (see
//!    [`ConnState`]: a data message waits in `recv`'s one-message slot and nothing is
//!    decoded behind it, nor while the application holds the message `recv` gave it, nor
//!    before what it queued is taken out of core; the first handle goes into the server's
//!    accept queue), and the next bytes taken from `poll_transmit` (or those `recv` staged)
//!    once the previous ones are written;
//! 3. without the lock: write (with a write position, so a frame is never torn), read once
//!    (unless decoding is held back and core already holds [`READ_AHEAD`] undecoded bytes:
//!    then core is told the server does not read) and hand the bytes to core under the lock,
//!    report what core holds to the inbound budget, and arm the timer at `poll_timeout()`;
//! 4. otherwise wait for a handle's wake-up.
//!
//! Once core is finished and its last bytes are written, the stream is closed (TLS
//! `close_notify`, TCP FIN) within the close timeout and the task ends.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use resock_core::server::{ServerClose, ServerCloseReason};
use resock_core::{Accepted, CloseCode, ConnectionError, Input, Request};

use super::admission::Permit;
use super::budget::Slot;
use super::decide::{Decide, Decision, RequestInfo, Verdict};
use super::peer::Peer;
use super::refusal::{Refusal, RefusalReason, refusal_of_unopened};
use super::shared::{ConnShared, ConnState, Decoded, Opened, READ_AHEAD, ServerShared};
use crate::async_driver::{ByteStream, DriverTimer, Io};
use crate::read_buf::with_read_buf;

/// Rounds of work in one poll before the task yields to other tasks.
const ROUNDS_PER_POLL: usize = 32;
/// The longest a finished connection's last bytes and TCP close may take.
const FINISH_WITHIN: Duration = Duration::from_secs(2);

/// Where closing the stream of a finished connection stands.
enum Finish {
    Done,
    Wrote,
    Waiting,
}

/// The run loop of one connection.
pub(crate) struct ConnTask<S, T> {
    conn: Arc<ConnShared>,
    server: Arc<ServerShared>,
    io: Io<S>,
    timer: T,
    timer_at: Option<Instant>,
    decide: Decide,
    budget: Slot,
    /// Holds the connection's place in the admission counts until the task ends.
    permit: Option<Permit>,
    /// A request waiting for the decision hook (run with no lock held).
    pending_request: Option<Request>,
    /// The request the connection was accepted on, for its handles.
    accepted_request: Option<Request>,
    /// The request the decision hook rejected, for the refusal report.
    rejected_request: Option<Request>,
    /// The decision hook panicked; the 500 that answered is reported as such.
    decision_panicked: bool,
    /// A whole request arrived (an end before opening then answered it with a status).
    saw_request: bool,
    reads_paused: bool,
    told_going_away: bool,
    /// A [`Peer`] was handed out: when the last handle goes, the connection closes.
    handed_out: bool,
    closed_for_handles: bool,
    /// What the budget was last told this connection holds.
    reported: usize,
    /// Handles must be woken: messages arrived, the connection closed.
    changed: bool,
    /// Core is finished: the stream is being closed, until this instant at the latest.
    finishing: Option<Instant>,
    /// The last `poll_transmit` (with nothing left to write) gave nothing.
    transmit_drained: bool,
    done: bool,
}

impl<S: ByteStream, T: DriverTimer> ConnTask<S, T> {
    pub(crate) fn new(
        conn: Arc<ConnShared>,
        server: Arc<ServerShared>,
        stream: S,
        timer: T,
        decide: Decide,
        budget: Slot,
        permit: Permit,
    ) -> Self {
        ConnTask {
            conn,
            server,
            io: Io::new(stream),
            timer,
            timer_at: None,
            decide,
            budget,
            permit: Some(permit),
            pending_request: None,
            accepted_request: None,
            rejected_request: None,
            decision_panicked: false,
            saw_request: false,
            reads_paused: false,
            told_going_away: false,
            handed_out: false,
            closed_for_handles: false,
            reported: 0,
            changed: false,
            finishing: None,
            transmit_drained: false,
            done: false,
        }
    }

    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        for _ in 0..ROUNDS_PER_POLL {
            self.conn.wake.take();
            let progress = self.round(cx);
            if std::mem::take(&mut self.changed) {
                self.conn.changed.notify(usize::MAX);
            }
            if self.done {
                return Poll::Ready(());
            }
            if progress {
                continue;
            }
            if self.conn.wake.poll_notified(cx).is_pending() {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// One round of work; true when anything moved.
    fn round(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = self.decide_pending();
        let deadline = {
            let conn = Arc::clone(&self.conn);
            let mut state = conn.lock();
            let now = Instant::now();
            // Broadcasts first: those published before a close go out before its frame.
            progress |= self.conn.take_broadcasts(&mut state, now);
            progress |= self.pass_on_commands(&mut state, now);
            if state.core.poll_timeout().is_some_and(|at| at <= now) {
                state.core.handle_timeout(now);
                progress = true;
            }
            progress |= self.drain_events(&mut state);
            self.update_reading(&mut state, now);
            self.report_budget(&state);
            if !self.io.broken && self.io.is_idle() {
                state.take_transmit();
                // `recv` may have staged bytes too: they all go out in the order taken.
                let moved = !state.staged.is_empty();
                if moved {
                    std::mem::swap(&mut self.io.out, &mut state.staged);
                }
                self.transmit_drained = !moved;
                progress |= moved;
            }
            if self.finishing.is_none() && state.core.is_finished() {
                // Core is done; its last bytes get a short while to leave, then the stream
                // is closed (core's own timeouts have run already).
                let at = resock_core::saturating_later(now, self.server.close_timeout.min(FINISH_WITHIN));
                self.finishing = Some(at);
                progress = true;
            }
            state.core.poll_timeout()
        };
        if let Some(at) = self.finishing {
            return match self.poll_finish(cx, at) {
                Finish::Done => {
                    self.end();
                    true
                }
                Finish::Wrote => true,
                Finish::Waiting => progress,
            };
        }
        progress |= self.poll_write(cx);
        if !self.reads_paused {
            progress |= self.poll_read(cx);
        }
        progress |= self.poll_timer(cx, deadline);
        progress
    }

    /// Runs the decision hook on a pending request, with no lock held, and gives core the
    /// answer.
    fn decide_pending(&mut self) -> bool {
        let Some(request) = self.pending_request.take() else {
            return false;
        };
        let info = RequestInfo {
            request,
            peer_addr: self.conn.peer_addr,
        };
        // A panicking hook answers this request 500 and ends nothing else.
        let decision =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.decide)(&info))).unwrap_or_else(|_| {
                self.decision_panicked = true;
                Decision::reject(500)
            });
        let mut state = self.conn.lock();
        match decision.verdict {
            Verdict::Accept { subprotocol } => {
                state
                    .core
                    .accept(Instant::now(), subprotocol.as_deref(), &decision.headers);
                self.accepted_request = Some(info.request);
            }
            Verdict::Reject { status, body } => {
                state.core.reject(status, &decision.headers, &body);
                self.rejected_request = Some(info.request);
            }
        }
        true
    }

    /// Passes shutdown, the budget's choice and the last handle's departure on to core.
    fn pass_on_commands(&mut self, state: &mut ConnState, now: Instant) -> bool {
        let mut progress = false;
        if !self.told_going_away && self.server.shutting_down.load(Ordering::Acquire) {
            self.told_going_away = true;
            state.core.going_away(now);
            progress = true;
        }
        if self.conn.evict.swap(false, Ordering::AcqRel) {
            state.core.close_for_memory(now);
            progress = true;
        }
        if self.handed_out && !self.closed_for_handles && self.conn.handles.load(Ordering::Acquire) == 0 {
            self.closed_for_handles = true;
            state.inbox.clear();
            state.in_hands = false;
            // Already closing is fine: the close that runs is the one that counts.
            let _ = state.core.close(now, CloseCode::NORMAL, "");
            progress = true;
        }
        progress
    }

    /// Stops reading while decoding is held back and core holds [`READ_AHEAD`] undecoded
    /// bytes already, and tells core (no pong deadline runs while the server does not read);
    /// resumes once decoding goes on.
    fn update_reading(&mut self, state: &mut ConnState, now: Instant) {
        let pause = !state.may_decode(self.decodes_freely()) && state.core.inbound_buffered() >= READ_AHEAD;
        if pause != self.reads_paused {
            self.reads_paused = pause;
            state.core.set_reading(now, !pause);
        }
    }

    /// Nobody will answer a message any more (every handle gone, or the client's end of the
    /// stream read): decoding need not wait for the application.
    fn decodes_freely(&self) -> bool {
        self.closed_for_handles || !self.io.read_open
    }

    /// Moves core's events out while decoding is allowed: a request to the decision hook, the
    /// opening to the accept queue, a message to `recv`'s slot, the end to the handles.
    fn drain_events(&mut self, state: &mut ConnState) -> bool {
        use resock_core::server::ServerEvent;
        let mut any = false;
        let free = self.decodes_freely();
        while let Some(decoded) = state.decode_next(free, self.conn.recv_capacity, &mut self.changed) {
            any = true;
            match decoded {
                // Nobody can take it once every handle is gone.
                Decoded::Kept if self.closed_for_handles => state.inbox.clear(),
                Decoded::Kept => {}
                Decoded::ForTask(ServerEvent::Request(request)) => {
                    self.saw_request = true;
                    self.pending_request = Some(request);
                }
                Decoded::ForTask(ServerEvent::Opened(accepted)) => self.on_opened(accepted),
                Decoded::ForTask(_) => {}
            }
        }
        any
    }

    /// Hands the first [`Peer`] of a newly open connection to the server's accept queue.
    fn on_opened(&mut self, accepted: Accepted) {
        let Some(request) = self.accepted_request.take() else {
            return;
        };
        self.server.reports.accepted();
        let extensions = Some(accepted.extensions()).filter(|value| !value.is_empty());
        // The handshake writes only an offered subprotocol; say the same to the handles.
        let subprotocol = accepted
            .subprotocol
            .filter(|chosen| request.subprotocols.contains(chosen));
        let opened = Arc::new(Opened {
            request,
            subprotocol,
            deflate: accepted.deflate,
            extensions,
        });
        let peer = Peer::new(Arc::clone(&self.conn), opened);
        self.handed_out = true;
        let mut queue = self.server.accepted();
        if queue.closed {
            // Nobody will accept it: dropping the handle closes the connection.
            drop(queue);
            drop(peer);
            return;
        }
        queue.peers.push_back(peer);
        drop(queue);
        self.server.accepted_changed.notify(usize::MAX);
    }

    /// Tells the budget what core holds for incomplete input, when it changed.
    fn report_budget(&mut self, state: &ConnState) {
        let held = state.core.inbound_buffered();
        if held != self.reported {
            self.reported = held;
            self.budget.report(held);
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        if self.io.broken {
            return false;
        }
        match self.io.poll_write_out(cx) {
            Poll::Ready(Ok(finished)) => finished,
            Poll::Ready(Err(e)) => {
                self.io.broken = true;
                self.transport_failed("writing to the client", &e);
                true
            }
            Poll::Pending => false,
        }
    }

    /// Reads the socket once and hands what came to core; true when anything came.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        if self.io.broken || !self.io.read_open {
            return false;
        }
        let io = &mut self.io;
        let conn = &self.conn;
        let outcome = with_read_buf(|buf| {
            let Poll::Ready(result) = io.poll_read(cx, buf) else {
                return None;
            };
            let result = eof_without_close_notify(result);
            let mut state = conn.lock();
            let now = Instant::now();
            match result {
                Ok(0) => {
                    io.read_open = false;
                    state.core.handle_input(now, Input::Eof);
                }
                Ok(n) => state.core.handle_input(now, Input::Data(&buf[..n])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    io.broken = true;
                    let text = crate::io_error::transport_error("reading from the client", &e).message;
                    state.core.handle_input(now, Input::TransportError(&text));
                }
            }
            Some(())
        });
        if outcome.is_none() {
            return false;
        }
        // Move what the read produced out now, so `recv` is woken in this round.
        let conn = Arc::clone(&self.conn);
        let mut state = conn.lock();
        self.drain_events(&mut state);
        let now = Instant::now();
        self.update_reading(&mut state, now);
        self.report_budget(&state);
        true
    }

    fn transport_failed(&mut self, doing: &str, error: &io::Error) {
        let text = crate::io_error::transport_error(doing, error).message;
        self.conn
            .lock()
            .core
            .handle_input(Instant::now(), Input::TransportError(&text));
    }

    /// Arms the timer at core's next deadline; true when it fired.
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

    /// Writes core's last bytes and closes the stream, until `deadline`.
    fn poll_finish(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Finish {
        if self.io.broken {
            return Finish::Done;
        }
        if self.timer_at != Some(deadline) {
            self.timer.set_at(deadline);
            self.timer_at = Some(deadline);
        }
        if self.timer.poll_fired(cx).is_ready() {
            return Finish::Done;
        }
        match self.io.poll_write_out(cx) {
            Poll::Pending => Finish::Waiting,
            Poll::Ready(Err(_)) => Finish::Done,
            // Written: the next round takes what core has left.
            Poll::Ready(Ok(true)) => Finish::Wrote,
            Poll::Ready(Ok(false)) if !self.transmit_drained => Finish::Wrote,
            Poll::Ready(Ok(false)) => match self.io.stream.poll_close(cx) {
                Poll::Ready(_) => Finish::Done,
                Poll::Pending => Finish::Waiting,
            },
        }
    }
}

impl<S, T> ConnTask<S, T> {
    /// The task's end: handles see it, the registry and the budget forget the connection.
    fn end(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let refusal = {
            let mut state = self.conn.lock();
            state.finished = true;
            if state.closed.is_none() {
                state.closed = Some(ServerClose {
                    code: CloseCode::ABNORMAL,
                    reason: String::new(),
                    why: ServerCloseReason::Error(ConnectionError::Transport(
                        "the connection task ended before the connection did".into(),
                    )),
                });
            }
            state.inbox.shrink_to_fit();
            state.staged = Vec::new();
            let unopened = state.closed.as_ref().filter(|_| !self.handed_out);
            unopened.and_then(|close| refusal_of_unopened(close, self.saw_request))
        };
        self.conn.changed.notify(usize::MAX);
        self.server.registry().remove(&self.conn.id);
        self.conn.leave_broadcasts();
        self.server.task_ended.notify(usize::MAX);
        // The place is free before the application hears of a refusal.
        drop(self.permit.take());
        if let Some((status, mut reason)) = refusal {
            if self.decision_panicked && reason == RefusalReason::Rejected {
                reason = RefusalReason::DecisionPanicked;
            }
            let peer_addr = self.conn.peer_addr;
            let request = self.rejected_request.take();
            self.server.reports.refused(Refusal {
                peer_addr,
                status,
                reason,
                request,
            });
        }
    }
}

impl<S: ByteStream, T: DriverTimer> Future for ConnTask<S, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_run(cx)
    }
}

impl<S, T> Drop for ConnTask<S, T> {
    /// A task dropped before its end (its executor shut down) leaves nothing waiting on it.
    fn drop(&mut self) {
        self.end();
    }
}

/// A TLS peer's TCP close without `close_notify` reads as EOF; core decides whether the
/// connection ended cleanly.
fn eof_without_close_notify(read: io::Result<usize>) -> io::Result<usize> {
    #[cfg(feature = "rustls")]
    return crate::tls::eof_without_close_notify(read);
    #[cfg(not(feature = "rustls"))]
    read
}
