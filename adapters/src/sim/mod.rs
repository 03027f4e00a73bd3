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

mod executor;
mod runtime;
mod sockets;
#[cfg(test)]
mod tests;
mod world;

pub use executor::Task;
pub use resock_core::sim::{Answer, Link, Network, Restart, Server, Simulation};
pub use world::World;

pub(crate) use sockets::VirtualTime;
