//! The async WebSocket server (features `tokio`, `smol`, `async-std`, `async`): bind, accept,
//! a decision on each request, a handle per connection, broadcast and shutdown, on the same
//! runtime seam as the client. The protocol, its timeouts, the heartbeat and the bounded
//! outbound queue are core's [`ServerConnection`](resock_core::server::ServerConnection); this
//! module adds the sockets, the tasks, admission control and the shared inbound budget.
//!
//! | piece | file |
//! |---|---|
//! | settings and `bind_*` | `builder.rs` ([`ServerBuilder`]) |
//! | the decision on each request | `decide.rs` ([`RequestInfo`], [`Decision`]) |
//! | accept loop, TLS, refusals | `accept.rs`, `refuse.rs`, `admission.rs` |
//! | refusals told to the application, counts | `refusal.rs` ([`Refusal`], [`ServerStats`]) |
//! | one connection's task | `task.rs` |
//! | handles | `handle.rs` ([`Server`]), `peer.rs` ([`Peer`]), `broadcast.rs` ([`Broadcast`]) |
//! | the shared inbound budget | `budget.rs` |
//! | the runtime seam's listening side | `runtime.rs` |

mod accept;
mod admission;
mod broadcast;
mod broadcast_log;
mod budget;
mod builder;
mod decide;
mod handle;
mod peer;
mod refusal;
mod refuse;
mod runtime;
mod shared;
mod task;
#[cfg(feature = "rustls")]
mod tls;

pub use broadcast::{Broadcast, BroadcastReport};
pub use builder::{
    DEFAULT_INBOUND_BUDGET, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_REFUSALS, DEFAULT_RETRY_AFTER,
    DEFAULT_SERVER_RECV_CAPACITY, ServerBuilder, ServerError,
};
pub use decide::{Decision, RequestInfo};
pub use handle::Server;
pub use peer::Peer;
pub use refusal::{Refusal, RefusalReason, ServerStats};
#[cfg(feature = "tokio")]
pub(crate) use runtime::Task;
pub(crate) use runtime::{Listen, Spawner};
#[cfg(feature = "rustls")]
pub use tls::{ServerTls, ServerTlsError};
