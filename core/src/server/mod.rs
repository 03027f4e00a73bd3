//! The server role with the limits a server needs against clients it does not control.
//!
//! [`ServerConnection`] wraps a server-role [`Connection`](crate::Connection) and adds what a
//! server must bound: the handshake and decision timeouts (answered 408 and 503), the idle
//! timeout, a heartbeat (ping interval, pong deadline), a bounded outbound queue whose overflow
//! closes the connection (1008 "slow consumer") instead of blocking anyone, and a close for
//! the server's inbound memory budget (1009). [`PreparedMessage`] is a message encoded once for
//! a broadcast. Sans-IO like the rest of the crate: the adapters' server drives it.

mod config;
mod connection;
mod event;
#[cfg(test)]
mod limit_tests;
mod outbound;
mod prepared;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timer_tests;

pub use config::{ServerConfig, ServerConfigError};
pub use connection::{ServerConnection, TRANSMIT_CHUNK};
pub use event::{ServerClose, ServerCloseReason, ServerEvent, ServerSendError};
pub use prepared::PreparedMessage;
