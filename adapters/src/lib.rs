//! # resock
//!
//! A WebSocket client that stays connected, built on the sans-IO [`resock_core`] state machine.
//! This crate holds the drivers: the only places that touch sockets, read the clock
//! (`Instant::now()`) or draw OS randomness.
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `blocking` | yes | [`blocking`]: a driver on `std::net::TcpStream` for both roles |
//! | `blocking` | yes | [`blocking_client`]: a client that stays connected (reconnect, heartbeat, queue, TLS) on `std::net`, from [`ClientBuilder::connect_blocking`] |
//! | `rustls` | yes | [`tls`]: `wss://` with rustls, verification always on |
//! | `json` | yes | typed JSON messages (`resock_core::typed`) |
//! | `smol` | no | the async driver spawned on smol |
//! | `async-std` | no | the same async driver spawned on async-std (discontinued upstream) |
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
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(feature = "blocking")]
pub mod blocking_client;
mod builder;
#[cfg(feature = "blocking")]
mod read_buf;
#[cfg(feature = "blocking")]
mod net;
mod seed;
#[cfg(feature = "rustls")]
pub mod tls;

pub use builder::{ClientBuilder, DEFAULT_EVENT_CAPACITY};

pub use resock_core::{
    self as core, Accepted, ClientOptions, CloseCode, CloseInfo, Config, ConnectionError, Event, Message, Request,
    Text, WsUrl,
};
pub use seed::os_seed;
