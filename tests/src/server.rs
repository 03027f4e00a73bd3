//! The in-memory WebSocket server of the scenarios: resock-core's simulator server
//! ([`resock_core::sim::Server`]), re-exported under the name the tests use.

pub use resock_core::sim::{Answer, Server};
