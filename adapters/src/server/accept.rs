//! The accept loop: a task that accepts every socket, decides its admission, and spawns its
//! connection task (or its refusal) on the server's [`Spawner`]. It never waits for a
//! connection, so a full server goes on answering 503 while it is full.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use resock_core::server::{ServerConfig, ServerConnection};

use super::admission::{Admission, Admit, OverLimit, Permit};
use super::budget::InboundBudget;
use super::decide::Decide;
use super::refusal::Refusal;
use super::refuse::{self, RefusalAnswer};
use super::runtime::{Listen, Spawner};
use super::shared::{ConnShared, ConnState, ServerShared};
use super::task::ConnTask;
use crate::async_driver::{ByteStream, DriverTimer, DriverWake};

/// How long the accept loop pauses after an accept error (out of descriptors, say) before it
/// tries again, so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);
/// Sockets accepted in one poll before the loop yields to other tasks.
const ACCEPTS_PER_POLL: usize = 64;

/// What every connection task of a server needs.
pub(crate) struct ServeContext {
    pub(crate) server: Arc<ServerShared>,
    pub(crate) config: ServerConfig,
    pub(crate) decide: Decide,
    pub(crate) admission: Arc<Admission>,
    pub(crate) budget: Arc<InboundBudget>,
    pub(crate) refusal: RefusalAnswer,
    pub(crate) spawner: Spawner,
    #[cfg(feature = "rustls")]
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    pub(crate) recv_capacity: usize,
    pub(crate) next_id: AtomicU64,
}

/// The accept loop of one listener.
pub(crate) struct Acceptor<R: Listen> {
    runtime: R,
    listener: R::Listener,
    ctx: Arc<ServeContext>,
    pause: R::Timer,
    paused: bool,
}

impl<R: Listen> Acceptor<R> {
    pub(crate) fn new(runtime: R, listener: R::Listener, ctx: Arc<ServeContext>) -> Self {
        let pause = runtime.timer();
        Acceptor {
            runtime,
            listener,
            ctx,
            pause,
            paused: false,
        }
    }

    fn poll_accept_loop(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let server = Arc::clone(&self.ctx.server);
        for _ in 0..ACCEPTS_PER_POLL {
            server.acceptor_wake.take();
            if server.stop_accepting.load(Ordering::Acquire) {
                server.close_queue();
                return Poll::Ready(());
            }
            if self.paused {
                if self.pause.poll_fired(cx).is_pending() {
                    return self.wait_for_stop(cx);
                }
                self.paused = false;
            }
            match R::poll_accept(&self.listener, cx) {
                Poll::Ready(Ok((tcp, peer))) => self.admit(tcp, peer),
                Poll::Ready(Err(e)) if is_per_connection(&e) => {}
                Poll::Ready(Err(_)) => {
                    // Out of descriptors or memory: pause instead of spinning; the sockets
                    // wait in the backlog.
                    self.pause.set_at(Instant::now() + ACCEPT_ERROR_PAUSE);
                    self.paused = true;
                }
                Poll::Pending => return self.wait_for_stop(cx),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Pending, with the task woken by a stop as well as by the listener or the pause.
    fn wait_for_stop(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.ctx.server.acceptor_wake.poll_notified(cx).is_ready() {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Serves, refuses or drops one accepted socket.
    fn admit(&mut self, tcp: R::Tcp, peer: SocketAddr) {
        let ctx = &self.ctx;
        if ctx.server.shutting_down.load(Ordering::Acquire) {
            return;
        }
        match ctx.admission.admit(peer.ip()) {
            Admit::Serve(permit) => {
                let task = serve::<R>(self.runtime.clone(), tcp, peer, Arc::clone(ctx), permit);
                ctx.spawner.spawn(task);
            }
            Admit::Refuse(over, permit) => {
                ctx.server.reports.refused(Refusal {
                    peer_addr: peer,
                    status: over.status(),
                    reason: over.reason(),
                    request: None,
                });
                let task = refuse::<R>(self.runtime.clone(), tcp, Arc::clone(ctx), over, permit);
                ctx.spawner.spawn(task);
            }
            Admit::Drop => {
                ctx.server.reports.dropped();
                drop(tcp);
            }
        }
    }
}

impl<R: Listen> Future for Acceptor<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_accept_loop(cx)
    }
}

/// Errors that concern only the socket being accepted (it went away before `accept`).
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted
    )
}

/// Runs one admitted connection: registered at once (so shutdown sees it), TLS within the
/// handshake timeout, then its [`ConnTask`].
async fn serve<R: Listen>(runtime: R, tcp: R::Tcp, peer: SocketAddr, ctx: Arc<ServeContext>, permit: Permit) {
    let now = Instant::now();
    let id = ctx.next_id.fetch_add(1, Ordering::Relaxed);
    let conn = Arc::new(ConnShared {
        id,
        peer_addr: peer,
        state: std::sync::Mutex::new(ConnState::new(ServerConnection::new(
            &ctx.config,
            crate::os_seed(),
            now,
        ))),
        wake: DriverWake::default(),
        changed: Default::default(),
        handles: AtomicUsize::new(0),
        evict: AtomicBool::new(false),
        recv_capacity: ctx.recv_capacity,
        subscription: super::broadcast_log::Subscription::new(&ctx.server.broadcasts),
    });
    ctx.server.registry().insert(id, Arc::clone(&conn));
    let evicted = Arc::downgrade(&conn);
    let slot = ctx.budget.join(Arc::new(move || {
        if let Some(conn) = evicted.upgrade() {
            conn.evict.store(true, Ordering::Release);
            conn.wake.notify();
        }
    }));
    let deadline = resock_core::saturating_later(now, ctx.config.connection.handshake_timeout);
    #[cfg(feature = "rustls")]
    if let Some(tls) = ctx.tls.clone() {
        let mut timer = runtime.timer();
        let shutting_down = || ctx.server.shutting_down.load(Ordering::Acquire);
        let handshake = runtime.tls_accept(tls, tcp);
        let stream = within(handshake, &mut timer, deadline, &conn.wake, shutting_down).await;
        let Some(stream) = stream else {
            if !shutting_down() {
                ctx.server.reports.tls_failed();
            }
            end_early(&ctx.server, &conn);
            return;
        };
        let task = ConnTask::new(
            conn,
            Arc::clone(&ctx.server),
            stream,
            timer,
            Arc::clone(&ctx.decide),
            slot,
            permit,
        );
        return task.await;
    }
    let _ = deadline;
    let task = ConnTask::new(
        conn,
        Arc::clone(&ctx.server),
        tcp,
        runtime.timer(),
        Arc::clone(&ctx.decide),
        slot,
        permit,
    );
    task.await;
}

/// A connection that never reached its task (TLS failed or timed out, or shutdown).
#[cfg_attr(not(feature = "rustls"), allow(dead_code))]
fn end_early(server: &ServerShared, conn: &ConnShared) {
    conn.lock().finished = true;
    server.registry().remove(&conn.id);
    server.task_ended.notify(usize::MAX);
}

/// Answers one refused socket (after TLS, when configured), holding its refusal place.
async fn refuse<R: Listen>(runtime: R, tcp: R::Tcp, ctx: Arc<ServeContext>, over: OverLimit, permit: Permit) {
    let answer = ctx.refusal.clone();
    #[cfg(feature = "rustls")]
    if let Some(tls) = ctx.tls.clone() {
        let mut timer = runtime.timer();
        let deadline = resock_core::saturating_later(Instant::now(), answer.read_within.min(refuse::MAX_REFUSAL_READ));
        let never = DriverWake::default();
        let handshake = runtime.tls_accept(tls, tcp);
        if let Some(stream) = within(handshake, &mut timer, deadline, &never, || false).await {
            refuse::answer(stream, timer, over, answer).await;
        }
        drop(permit);
        return;
    }
    refuse::answer(tcp, runtime.timer(), over, answer).await;
    drop(permit);
}

/// Runs `future` until it succeeds, fails, `deadline` passes, or `stop` answers true after a
/// notification on `wake`; `Some` only on success.
#[cfg_attr(not(feature = "rustls"), allow(dead_code))]
async fn within<S: ByteStream, T: DriverTimer>(
    future: impl Future<Output = io::Result<S>>,
    timer: &mut T,
    deadline: Instant,
    wake: &DriverWake,
    stop: impl Fn() -> bool,
) -> Option<S> {
    timer.set_at(deadline);
    let mut future = pin!(future);
    poll_fn(|cx| {
        if let Poll::Ready(result) = future.as_mut().poll(cx) {
            return Poll::Ready(result.ok());
        }
        if timer.poll_fired(cx).is_ready() {
            return Poll::Ready(None);
        }
        while wake.poll_notified(cx).is_ready() {
            if stop() {
                return Poll::Ready(None);
            }
        }
        if stop() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}
