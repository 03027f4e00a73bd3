//! [`ServerBuilder`]: every setting of a server; each runtime module adds its `bind_*` method.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use resock_core::server::{ServerConfig, ServerConfigError};

use super::accept::{Acceptor, ServeContext};
use super::admission::{Admission, Limits};
use super::budget::InboundBudget;
use super::decide::{Decide, Decision, RequestInfo};
use super::handle::Server;
use super::refusal::{OnRefusal, Refusal, Reports};
use super::refuse::RefusalAnswer;
use super::runtime::{AnyTimer, Listen, Spawner};
use super::shared::ServerShared;
#[cfg(feature = "rustls")]
use super::tls::ServerTls;
use crate::async_driver::DriverWake;

/// Default most connections held at once (see [`ServerBuilder::max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default bound on the bytes all connections together hold for incomplete inbound messages
/// (see [`ServerBuilder::inbound_budget`]).
pub const DEFAULT_INBOUND_BUDGET: usize = 256 << 20;
/// Default most refused sockets answered at once (see [`ServerBuilder::max_refusals`]).
pub const DEFAULT_MAX_REFUSALS: usize = 256;
/// Default `Retry-After` of a 503 or 429 (see [`ServerBuilder::retry_after`]).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Default number of received messages a closing connection keeps for `recv` (see
/// [`ServerBuilder::recv_capacity`]).
pub const DEFAULT_SERVER_RECV_CAPACITY: usize = 256;

/// Everything needed to start a server; `bind_tokio`, `bind_smol`, `bind_async_std` or
/// `bind_async` (by feature) starts it. Their address is resolved as
/// `std::net::TcpListener::bind` resolves it (a name is looked up, blocking, once); the first
/// address that binds is used.
///
/// ```no_run
/// # #[cfg(feature = "tokio")]
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use resock::{Decision, ServerBuilder};
///
/// let server = ServerBuilder::new()
///     .max_connections(1000)
///     .max_connections_per_ip(20)
///     .decide(|request| match request.path() {
///         "/chat" => Decision::accept().subprotocol("chat"),
///         _ => Decision::reject(404),
///     })
///     .bind_tokio("127.0.0.1:9001")?;
/// while let Some(peer) = server.accept().await {
///     tokio::spawn(async move {
///         while let Some(message) = peer.recv().await {
///             let _ = peer.send(message);
///         }
///     });
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerBuilder {
    pub(crate) config: ServerConfig,
    max_connections: usize,
    max_per_ip: Option<usize>,
    max_refusals: usize,
    inbound_budget: usize,
    retry_after: Duration,
    recv_capacity: usize,
    decide: Option<Decide>,
    on_refusal: Option<OnRefusal>,
    #[cfg(feature = "rustls")]
    tls: Option<ServerTls>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A setting can never work; the error names it.
    #[error(transparent)]
    Config(#[from] ServerConfigError),
    /// Binding the address failed.
    #[error("listening on {addr}: {}", crate::io_error::cause(source))]
    Bind {
        /// The address, as given.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The runtime is missing (`bind_tokio` outside a tokio runtime).
    #[error("{0}")]
    Runtime(&'static str),
}

impl ServerBuilder {
    /// A builder with the defaults: [`ServerConfig::default`] (1 MiB messages, handshake
    /// timeout 10 s, idle timeout 300 s, ping every 30 s, queue of 1024 messages / 4 MiB),
    /// 10 000 connections, no per-IP limit, a 256 MiB inbound budget, every request accepted
    /// without a subprotocol, no TLS.
    pub fn new() -> Self {
        ServerBuilder {
            config: ServerConfig::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_ip: None,
            max_refusals: DEFAULT_MAX_REFUSALS,
            inbound_budget: DEFAULT_INBOUND_BUDGET,
            retry_after: DEFAULT_RETRY_AFTER,
            recv_capacity: DEFAULT_SERVER_RECV_CAPACITY,
            decide: None,
            on_refusal: None,
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }

    /// Every connection's settings (limits, timeouts, heartbeat, outbound queue).
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Most connections held at once, handshakes included (default 10 000). Past it, the
    /// server still accepts, reads the request and answers `503 Service Unavailable` with
    /// [`retry_after`](Self::retry_after).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Most connections held at once from one IP address (default: no limit). Past it,
    /// `429 Too Many Requests` with [`retry_after`](Self::retry_after).
    pub fn max_connections_per_ip(mut self, max: usize) -> Self {
        self.max_per_ip = Some(max);
        self
    }

    /// Most refused sockets answered at once (default 256); past it a refused socket is
    /// closed without an answer, so a flood cannot use every descriptor on refusals.
    pub fn max_refusals(mut self, max: usize) -> Self {
        self.max_refusals = max;
        self
    }

    /// The `Retry-After` of a 503 or 429, rounded up to whole seconds, at least 1 (default
    /// 5 s).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    /// Bytes all connections together may hold for incomplete inbound frames and messages
    /// (default 256 MiB). Past it, the largest holders are closed with 1009 until the rest
    /// fit.
    pub fn inbound_budget(mut self, bytes: usize) -> Self {
        self.inbound_budget = bytes;
        self
    }

    /// Received messages a closing connection keeps for [`Peer::recv`](super::Peer::recv)
    /// (default 256; the newest are dropped past it). While a connection is open, messages are
    /// decoded on demand and at most one waits for `recv` (see its documentation).
    pub fn recv_capacity(mut self, capacity: usize) -> Self {
        self.recv_capacity = capacity;
        self
    }

    /// The decision on each opening request (default: accept, no subprotocol). It runs on
    /// the connection's task with no lock held; keep it quick (the handshake timeout runs).
    /// A panic in it answers that request 500 and is reported as
    /// [`RefusalReason::DecisionPanicked`](super::RefusalReason::DecisionPanicked); the server
    /// goes on.
    pub fn decide(mut self, hook: impl Fn(&RequestInfo) -> Decision + Send + Sync + 'static) -> Self {
        self.decide = Some(Arc::new(hook));
        self
    }

    /// Tells `hook` about each refused connection, once, when the server decides to refuse
    /// it: past [`max_connections`](Self::max_connections) (503) or
    /// [`max_connections_per_ip`](Self::max_connections_per_ip) (429), a request not complete
    /// within the handshake timeout (408), a decision not made in time (503), a rejection by
    /// [`decide`](Self::decide), a request that is not a valid opening request (400, 405,
    /// 426, 431), a request waiting for its decision at shutdown (503). See [`Refusal`]. A
    /// connection refused during its handshake is reported once it ended, its place among
    /// [`max_connections`](Self::max_connections) already free.
    ///
    /// It runs on the accept loop or on the connection's task, with no lock held, and **must
    /// not block** (a panic in it is caught and goes no further): a slow hook delays accepting
    /// (hand the refusal to a bounded channel or a counter). Sockets closed unanswered during a flood (past
    /// [`max_refusals`](Self::max_refusals)) are only counted, in
    /// [`ServerStats::dropped`](super::ServerStats::dropped).
    pub fn on_refusal(mut self, hook: impl Fn(&Refusal) + Send + Sync + 'static) -> Self {
        self.on_refusal = Some(Arc::new(hook));
        self
    }

    /// Serve `wss://`: TLS on every accepted socket, within the handshake timeout.
    #[cfg(feature = "rustls")]
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Checks every setting: [`ServerConfig::validate`], and no zero where a bound was meant.
    pub fn validate(&self) -> Result<(), ServerConfigError> {
        self.config.validate()?;
        let zero = |value: usize, setting: &'static str| {
            if value == 0 {
                Err(ServerConfigError::new(setting, "must be at least 1"))
            } else {
                Ok(())
            }
        };
        zero(self.max_connections, "max_connections")?;
        zero(self.max_per_ip.unwrap_or(1), "max_connections_per_ip")?;
        zero(self.inbound_budget, "inbound_budget")?;
        zero(self.recv_capacity, "recv_capacity")?;
        Ok(())
    }

    /// Binds on `runtime` and spawns the accept loop with `spawner`.
    pub(crate) fn bind_on<R: Listen>(
        self,
        runtime: R,
        spawner: Spawner,
        addr: impl ToSocketAddrs,
    ) -> Result<Server, ServerError> {
        self.validate()?;
        let (listener, local_addr) = bind_first(&runtime, addr)?;
        let timer_runtime = runtime.clone();
        let server = Arc::new(ServerShared {
            accepted: Default::default(),
            accepted_changed: Default::default(),
            registry: Default::default(),
            task_ended: Default::default(),
            shutting_down: AtomicBool::new(false),
            stop_accepting: AtomicBool::new(false),
            acceptor_wake: DriverWake::default(),
            close_timeout: self.config.connection.close_timeout,
            timer: Arc::new(move || Box::new(timer_runtime.timer()) as AnyTimer),
            reports: Reports::new(self.on_refusal),
            broadcasts: Arc::new(super::broadcast_log::BroadcastLog::new(
                self.config.max_queued_messages,
                self.config.max_queued_bytes,
            )),
        });
        let ctx = Arc::new(ServeContext {
            server: Arc::clone(&server),
            refusal: RefusalAnswer {
                retry_after: self.retry_after,
                read_within: self.config.connection.handshake_timeout,
                limits: self.config.connection.handshake.clone(),
            },
            decide: self
                .decide
                .unwrap_or_else(|| Arc::new(|_: &RequestInfo| Decision::accept())),
            admission: Admission::new(Limits {
                max_connections: self.max_connections,
                max_per_ip: self.max_per_ip,
                max_refusals: self.max_refusals,
            }),
            budget: InboundBudget::new(self.inbound_budget),
            spawner: spawner.clone(),
            #[cfg(feature = "rustls")]
            tls: self.tls.map(|tls| tls.config),
            recv_capacity: self.recv_capacity,
            next_id: AtomicU64::new(1),
            config: self.config,
        });
        spawner.spawn(Acceptor::new(runtime, listener, ctx));
        Ok(Server {
            shared: server,
            local_addr,
        })
    }
}

/// Binds the first of `addr`'s addresses that works.
fn bind_first<R: Listen>(runtime: &R, addr: impl ToSocketAddrs) -> Result<(R::Listener, SocketAddr), ServerError> {
    let bind_error = |addr: String, source| ServerError::Bind { addr, source };
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| bind_error("the given address".into(), e))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match runtime.bind(addr).and_then(|l| R::local_addr(&l).map(|a| (l, a))) {
            Ok(bound) => return Ok(bound),
            Err(e) => last = Some(bind_error(addr.to_string(), e)),
        }
    }
    Err(last.unwrap_or_else(|| {
        bind_error(
            "the given address".into(),
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "it names no address"),
        )
    }))
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_ip", &self.max_per_ip)
            .field("inbound_budget", &self.inbound_budget)
            .field("on_refusal", &self.on_refusal.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_zero_bound_is_refused_with_the_setting_name() {
        assert!(ServerBuilder::new().validate().is_ok(), "the defaults work");
        let cases = [
            (ServerBuilder::new().max_connections(0), "max_connections"),
            (ServerBuilder::new().max_connections_per_ip(0), "max_connections_per_ip"),
            (ServerBuilder::new().inbound_budget(0), "inbound_budget"),
            (ServerBuilder::new().recv_capacity(0), "recv_capacity"),
            (
                ServerBuilder::new().config(ServerConfig::default().max_queued_messages(0)),
                "max_queued_messages",
            ),
        ];
        for (builder, setting) in cases {
            let error = builder.validate().unwrap_err();
            assert_eq!(error.setting, setting, "{error}");
        }
    }

    proptest! {
        /// Any combination of the server's own bounds is accepted exactly when none is zero,
        /// and `max_refusals` 0 (answer no refusal, close at once) and any `retry_after` are
        /// always fine.
        #[test]
        fn bounds_are_valid_exactly_when_none_is_zero(
            max_connections in prop_oneof![Just(0usize), 1usize..100, Just(usize::MAX)],
            max_per_ip in proptest::option::of(prop_oneof![Just(0usize), 1usize..100, Just(usize::MAX)]),
            max_refusals in prop_oneof![Just(0usize), Just(usize::MAX)],
            budget in prop_oneof![Just(0usize), 1usize..100, Just(usize::MAX)],
            recv in prop_oneof![Just(0usize), 1usize..100, Just(usize::MAX)],
            retry_secs in prop_oneof![Just(0u64), Just(u64::MAX)],
        ) {
            let mut builder = ServerBuilder::new()
                .max_connections(max_connections)
                .max_refusals(max_refusals)
                .inbound_budget(budget)
                .recv_capacity(recv)
                .retry_after(Duration::from_secs(retry_secs));
            if let Some(max) = max_per_ip {
                builder = builder.max_connections_per_ip(max);
            }
            let valid = max_connections > 0 && max_per_ip != Some(0) && budget > 0 && recv > 0;
            prop_assert_eq!(builder.validate().is_ok(), valid);
        }
    }
}
