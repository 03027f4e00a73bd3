//! Shared helpers for resock's scenario and interop tests: the virtual-time [`pair::Pair`]
//! harness (a session, an in-memory server built from resock-core's server role, and a link
//! between them), after quinn's `Pair` and str0m's run loop.

pub mod alloc;
pub mod interop;
pub mod pair;
pub mod peers;
pub mod server;
pub mod test_client;
pub mod wire;
