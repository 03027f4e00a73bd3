//! Deterministic tests for applications built on resock (feature `sim`): the application's own
//! code, written against [`Client`](crate::Client), runs unchanged in a simulated [`World`] on
//! virtual time, against the scriptable server of `resock_core::sim`.
//!
//! [`ClientBuilder::start_sim`](crate::ClientBuilder::start_sim) starts a client on the world's
//! `sim` runtime (the same driver seam as smol and tokio): connecting opens an in-memory
//! connection through the world's seeded [`Link`] to its [`Server`], timers wait on the virtual
//! clock, and the world runs every task until all are idle before it moves time to the next
//! deadline. No threads, no sockets, no sleeping: a day of server restarts takes milliseconds,
//! and the same seed gives the same run, byte for byte.
//!
//! The outage scripts are the [`Simulation`] trait's: [`restart_every`](Simulation::restart_every),
//! [`network_outage`](Simulation::network_outage), [`unavailable_for`](Simulation::unavailable_for),
//! [`stop_answering_pings`](Simulation::stop_answering_pings) and [`deploy`](Simulation::deploy);
//! [`broadcast`](Simulation::broadcast) and [`close_all`](Simulation::close_all) make the server
//! speak now. Import the trait with the world: `use resock::sim::{Simulation, World};`.
//!
//! # Example
//! ```
//! use std::time::Duration;
//!
//! use resock::sim::{Restart, Simulation, World};
//! use resock::{ClientBuilder, SessionEvent};
//!
//! let mut world = World::new([7; 32]);
//! // The application's own configuration, wss:// and all.
//! let client = ClientBuilder::new("wss://feed.example/ws").unwrap().start_sim(&mut world).unwrap();
//!
//! // The application: says hello on every connection.
//! let app = world.spawn({
//!     let client = client.clone();
//!     async move {
//!         let mut events = client.subscribe();
//!         let mut connections = 0;
//!         while let Some(event) = events.next().await {
//!             if let Ok(SessionEvent::Opened { .. }) = event {
//!                 connections += 1;
//!                 client.send_text("hello").await.unwrap();
//!             }
//!         }
//!         connections
//!     }
//! });
//!
//! // An hour of abrupt restarts every five minutes, two seconds down each time: milliseconds.
//! let minute = Duration::from_secs(60);
//! world.restart_every(5 * minute, Duration::from_secs(2), Restart::Abrupt, 60 * minute);
//! world.run_for(minute);
//! assert_eq!(world.server.received.len(), 12, "one hello per connection, none lost");
//!
//! // The application closes; its task sees the end of the events.
//! world.block_on(Duration::from_secs(5), async move { client.close(resock::CloseCode::NORMAL, "").await });
//! world.run_for(Duration::from_secs(1));
//! assert_eq!(app.take_output(), Some(12));
//! ```
//!
//! # The blocking client
//! The blocking [`Client`](crate::blocking_client::Client) runs in a world too, the same type
//! with the same calls. Share the world ([`World::shared`] gives a [`SharedWorld`]) and start the
//! client with [`ClientBuilder::connect_blocking_sim`](crate::ClientBuilder::connect_blocking_sim):
//! each call that would wait (`recv`, `next_event`, `connected`, `close`, a `send` to a full
//! queue) runs the world instead, its tasks until idle and then its clock to the next deadline,
//! never past the call's own, until it can answer. Between calls, the test borrows the world to
//! script it. Everything runs on the test's thread; a call that could only wait forever (nothing
//! due, ever) panics instead of hanging.
//!
//! ```
//! use std::time::Duration;
//!
//! use resock::ClientBuilder;
//! use resock::sim::World;
//!
//! let world = World::new([7; 32]).shared();
//! let mut client = ClientBuilder::new("wss://feed.example/ws")
//!     .unwrap()
//!     .send_on_open("subscribe prices")
//!     .connect_blocking_sim(&world)
//!     .unwrap();
//!
//! // The server echoes: the subscription comes back.
//! assert_eq!(client.recv().unwrap().as_text(), Some("subscribe prices"));
//!
//! // The server restarts while the application is between calls.
//! world.borrow_mut().stop_server();
//! world.borrow_mut().run_for(Duration::from_secs(10));
//! world.borrow_mut().start_server();
//!
//! // The next `recv` sees the drop, reconnects on virtual time and subscribes again.
//! assert_eq!(client.recv().unwrap().as_text(), Some("subscribe prices"));
//! assert_eq!(world.borrow().server.accepted, 2);
//! ```

#[cfg(feature = "blocking")]
mod blocking;
mod executor;
mod runtime;
#[cfg(feature = "blocking")]
mod shared;
mod sockets;
#[cfg(test)]
mod tests;
mod world;

pub use executor::Task;
pub use resock_core::sim::{Answer, Link, Network, Restart, Server, Simulation};
#[cfg(feature = "blocking")]
pub use shared::SharedWorld;
pub use world::World;

#[cfg(feature = "blocking")]
pub(crate) use blocking::{SimConnection, Waited, WorldLink, run_world_to};
#[cfg(feature = "blocking")]
pub(crate) use shared::holds_world;
pub(crate) use sockets::VirtualTime;

/// The wall-clock time a world starts at, 2026-01-01T00:00:00Z: a client in a world stamps its
/// typed messages with this plus the virtual time elapsed, so they are the same on every run.
pub(crate) fn wall_start() -> std::time::SystemTime {
    std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600)
}
