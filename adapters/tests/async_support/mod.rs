//! What the async test files share: the runtimes a test body runs on ([`Runtime`]: smol,
//! async-std, tokio's current-thread and multi-thread runtimes), bounded waits on any of them,
//! a loopback server thread that is stopped and joined when dropped, and the tungstenite
//! server-side helpers.
//!
//! A test body is a function generic over [`Runtime`]; `on_async_runtimes!` makes one
//! `#[test]` per runtime of the build for each body it names.

#![allow(dead_code, unused_imports)] // each test file uses what it needs

#[macro_use]
mod runtime;
mod events;
mod server;
#[cfg(feature = "tokio")]
mod tokio;
mod ws;

use std::time::Duration;

pub use events::{builder, builder_for_url, next_message, opened, wait_for};
#[cfg(feature = "async-std")]
pub use runtime::AsyncStd;
#[cfg(feature = "smol")]
pub use runtime::Smol;
pub use runtime::{DriverFuture, DriverTask, Runtime};
pub use server::Server;
#[cfg(feature = "tokio")]
pub use tokio::{TokioCurrentThread, TokioMultiThread};
pub use ws::{Seen, accept, accept_hdr, channel, collect, echo, next_seen, read_until_closed, server_config};

/// The bound of every wait that should take milliseconds.
pub const LIMIT: Duration = Duration::from_secs(20);
