//! # resock
//!
//! A WebSocket client that stays connected, built on the sans-IO [`resock_core`] state machine.
//! This crate holds the drivers: the only places that touch sockets, read the clock
//! (`Instant::now()`) or draw OS randomness.
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `blocking` | yes | [`blocking`]: a driver on `std::net` for both roles (`wss://` with `rustls`) |
//! | `blocking` | yes | [`blocking_client`]: a client that stays connected (reconnect, heartbeat, queue, TLS) on `std::net`, from [`ClientBuilder::connect_blocking`] |
//! | `rustls` | yes | [`tls`]: `wss://` with rustls, verification always on |
//! | `json` | yes | typed JSON messages (`resock_core::typed`) |
//! | `async` | with `smol` / `async-std` | `Client`, the cloneable handle, and `Driver`, the async driver on async-io (`async-net`, `futures-rustls`, `async-io` timers; `ClientBuilder::build_async` for any executor) |
//! | `smol` | no | `ClientBuilder::start_smol`: the async driver spawned on smol |
//! | `tokio` | no | `resock::tokio`: `ClientBuilder::start_tokio`, the same driver and `Client` natively on tokio's TCP, timers and `tokio-rustls` |
//! | `async-driver` | with `async` / `tokio` | the runtime-independent part of both (the driver loop, `Client`, subscriptions); selects no runtime by itself |
//! | `tracing` | no | a span per connection attempt and events for state changes, reconnects and failures, through the `tracing` crate |
//! | `async-std` | no | `ClientBuilder::start_async_std`: the same driver spawned on async-std (discontinued upstream; prefer smol) |
//! | `tokio`, `smol`, `async-std`, `async` | no | also the async server: `ServerBuilder` (`bind_tokio`, `bind_smol`, `bind_async_std`, `bind_async`), `Server`, `Peer`, `Broadcast`: admission with 503/429 + `Retry-After`, a shared inbound budget, fan-out that never waits, graceful shutdown |
//!
//! ```no_run
//! use resock::blocking::WebSocket;
//!
//! let mut ws = WebSocket::connect("ws://127.0.0.1:9001/echo").unwrap();
//! ws.send_text("hello").unwrap();
//! if let Some(message) = ws.recv().unwrap() {
//!     println!("{message:?}");
//! }
//! ws.close(resock::CloseCode::NORMAL, "bye").unwrap();
//! ```
#![deny(unsafe_code)] // one audited exception: registering a socket with the poller (blocking_client/socket.rs)
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

#[cfg(feature = "async-driver")]
#[cfg_attr(
    not(any(feature = "async", feature = "tokio", feature = "sim")),
    allow(dead_code, unused_imports)
)] // no runtime selected
mod async_driver;
#[cfg(feature = "async")]
mod async_io;
#[cfg(all(feature = "async-driver", feature = "json"))]
mod async_router;
#[cfg(feature = "async-std")]
pub mod async_std;
#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(feature = "blocking")]
pub mod blocking_client;
#[cfg(any(feature = "blocking", feature = "async-driver"))]
mod broadcast;
mod builder;
#[cfg(any(feature = "blocking", feature = "async-driver"))]
mod clock;
#[cfg(feature = "async-driver")]
mod handle;
#[cfg_attr(not(any(feature = "blocking", feature = "async-driver")), allow(dead_code))] // run by the drivers
mod hooks;
#[cfg(any(feature = "blocking", feature = "async-driver", feature = "rustls"))]
#[cfg_attr(not(any(feature = "blocking", feature = "async-driver")), allow(dead_code))] // TLS alone uses `cause`
mod io_error;
#[cfg(feature = "blocking")]
mod net;
mod proxy;
#[cfg(any(feature = "blocking", feature = "async-driver"))]
mod read_buf;
mod seed;
mod send_error;
#[cfg(any(feature = "async", feature = "tokio"))]
mod server;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "smol")]
pub mod smol;
#[cfg(feature = "rustls")]
pub mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;
#[cfg(any(feature = "blocking", feature = "async-driver"))]
mod trace;

#[cfg(feature = "async")]
pub use async_io::Driver;
/// Frees a queue's allocation once it is empty: events are large, and a burst must not stay
/// allocated for the life of an idle connection.
#[cfg(any(feature = "blocking", feature = "async-driver"))]
pub(crate) fn release_if_drained<T>(queue: &mut std::collections::VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = std::collections::VecDeque::new();
    }
}

#[cfg(all(feature = "async-driver", feature = "json"))]
pub use async_router::AsyncRouter;
#[cfg(any(feature = "blocking", feature = "async-driver"))]
pub use broadcast::Lagged;
pub use builder::{ClientBuilder, DEFAULT_EVENT_CAPACITY, DEFAULT_RECV_CAPACITY};
#[cfg(feature = "async-driver")]
pub use handle::{Client, Subscription};
pub use send_error::SendError;
#[cfg(feature = "json")]
pub use send_error::TypedSendError;

pub use resock_core::{
    self as core, Accepted, Bytes, ClientOptions, CloseCode, CloseInfo, Config, ConnectionError, DeflateConfig,
    DeflateParams, Event, HandshakeError, HttpRejection, Message, Request, Text, WsUrl,
};
// What a client's user names: settings, states, events, errors. One name each, at the root.
pub use resock_core::session::{
    CertificateError, CertificateErrorKind, ClosedReason, ConfigError, DisconnectReason, HandBackReason, HandedBack,
    HeartbeatConfig, MessageId, Metrics, OverflowPolicy, QueueConfig, ReconnectPolicy, Rtt, SessionEvent, SessionState,
    TransportError, TransportErrorKind,
};
pub use resock_core::session::{RedirectError, RedirectErrorKind, RedirectPolicy};
#[cfg(feature = "json")]
pub use resock_core::typed::{
    DecodeError, Dispatched, EncodeError, Envelope, Incoming, JsonEnvelope, Router, Unrouted,
};
pub use seed::os_seed;
#[cfg(any(feature = "async", feature = "tokio"))]
pub use server::{
    Broadcast, BroadcastReport, DEFAULT_INBOUND_BUDGET, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_REFUSALS,
    DEFAULT_RETRY_AFTER, DEFAULT_SERVER_RECV_CAPACITY, Decision, Peer, RequestInfo, Server, ServerBuilder, ServerError,
};
#[cfg(all(any(feature = "async", feature = "tokio"), feature = "rustls"))]
pub use server::{ServerTls, ServerTlsError};
#[cfg(feature = "rustls")]
pub use tls::TlsOptions;
// What a server's user names: settings, how a connection ended, send errors.
#[cfg(any(feature = "async", feature = "tokio"))]
pub use resock_core::server::{
    PreparedMessage, ServerClose, ServerCloseReason, ServerConfig, ServerConfigError, ServerSendError,
};

/// The README's Rust examples, compiled as doc tests with every feature on.
#[cfg(all(
    doctest,
    feature = "smol",
    feature = "async-std",
    feature = "tokio",
    feature = "blocking",
    feature = "json"
))]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
