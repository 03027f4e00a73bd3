//! Shared helpers for resock's scenario and interop tests: the virtual-time [`pair::Pair`]
//! harness, a thin layer over resock-core's simulator (`resock_core::sim`: a session, an
//! in-memory server built from core's server role, and a link between them) that adds an
//! independent decoder of the client's frames, after quinn's `Pair` and str0m's run loop.

pub mod alloc;
pub mod deflate_interop;
pub mod interop;
pub mod pair;
pub mod peers;
pub mod proxy;
pub mod server;
pub mod test_client;
pub mod wire;
