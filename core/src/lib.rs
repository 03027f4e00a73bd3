//! # resock-core
//!
//! A sans-IO WebSocket (RFC 6455) state machine for both roles: the opening handshake, frames,
//! masking, fragmentation, UTF-8, ping/pong and the close handshake. It never touches a socket,
//! a clock or the OS random generator: bytes, time (`now: Instant`) and a 32-byte seed come in,
//! bytes to write, events and the next deadline come out. Drivers live in the `resock` crate.
//! [`server::ServerConnection`] adds what a server must bound (handshake, idle and pong
//! deadlines, a bounded outbound queue, a memory close) on top of the server role.
//! With the `sim` feature, `sim` is a deterministic simulator (virtual clock, seeded link,
//! scriptable server) to test code built on [`Session`] in virtual time.
//!
//! # Run loop
//! ```no_run
//! use std::time::Instant;
//! use resock_core::{ClientOptions, Config, Connection, Event, Input, WsUrl};
//!
//! let url: WsUrl = "ws://127.0.0.1:9001/chat".parse().unwrap();
//! let seed = [0u8; 32]; // take this from the OS in real code
//! let mut conn = Connection::client(&url, &ClientOptions::default(), Config::default(), seed, Instant::now()).unwrap();
//! let mut out = Vec::new();
//! # let mut read_from_socket = || -> Vec<u8> { Vec::new() };
//! loop {
//!     while conn.poll_transmit(&mut out).is_some() { /* write `out` to the socket */ out.clear(); }
//!     while let Some(event) = conn.poll_event() {
//!         match event {
//!             Event::Opened(_) => conn.send_text("hello").unwrap(),
//!             Event::Message(m) => println!("{m:?}"),
//!             Event::Closed(info) => { println!("closed: {info:?}"); return; }
//!             _ => {}
//!         }
//!     }
//!     // wait for socket data or `conn.poll_timeout()`, then:
//!     let data = read_from_socket();
//!     conn.handle_input(Instant::now(), Input::Data(&data));
//! }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod close;
pub mod config;
pub mod connection;
pub mod error;
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod message;
pub mod proxy;
pub mod rng;
pub mod server;
pub mod session;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "json")]
pub mod typed;
pub mod url;
pub mod utf8;
mod util;

pub use bytes::Bytes;
pub use close::CloseCode;
pub use config::Config;
pub use connection::{CloseInfo, Connection, Event, Initiator, Input};
pub use error::{CloseError, ConnectionError, ProtocolError, SendError};
pub use extension::{DeflateConfig, DeflateParams};
pub use frame::{OpCode, Role};
pub use handshake::{Accepted, ClientOptions, HandshakeError, HandshakeLimits, HttpRejection, Request};
pub use message::{Message, Text};
pub use rng::Rng;
pub use session::{
    CertificateError, CertificateErrorKind, ClosedReason, ConfigError, DisconnectReason, MessageId, Metrics, Output,
    Session, SessionConfig, SessionEvent, SessionSendError, SessionState, TransportError, TransportErrorKind,
    TransportId, TransportInput,
};
pub use url::WsUrl;
pub use util::{KEPT_BYTES_MAX, saturating_later};
