//! A deterministic simulator for testing code built on [`Session`](crate::Session): a virtual
//! [`Clock`], a seeded [`Link`] (latency, jitter, loss by cut, stalls, refusal) and a scriptable
//! [`Server`] made of core's own server-role connections, joined by [`Sim`].
//!
//! Enabled by the `sim` feature. Like the rest of core it does no IO, reads no clock, starts no
//! thread and asks the OS for no randomness: the start instant and the 32-byte seed come from
//! the caller, and the same seed with the same script gives the same run, byte for byte.
//!
//! Time moves only when asked ([`Sim::run_for`], [`Sim::run_to`], [`Sim::run_until`],
//! [`Sim::advance`]), jumping from one deadline to the next, so a day of reconnects runs in
//! milliseconds. The server can accept (with a subprotocol), reject with any status and headers
//! (401, 429 with `Retry-After`, 503), send messages and pings, go silent, close with any code,
//! drop or reset its connections ([`Sim::cut`], [`Sim::reset`]), stop and come back on the same
//! address ([`Sim::stop_server`], [`Sim::start_server`]); the simulator records every event of
//! the session and every byte the client wrote ([`Network::written`], through `sim.written`).
//!
//! The common outages are one call each on the [`Simulation`] trait, every one running its
//! whole script: [`restart_every`](Simulation::restart_every) (graceful or abrupt, see
//! [`Restart`]), [`network_outage`](Simulation::network_outage),
//! [`unavailable_for`](Simulation::unavailable_for) (503 with `Retry-After`),
//! [`stop_answering_pings`](Simulation::stop_answering_pings) and
//! [`deploy`](Simulation::deploy) (1012, then 503 while down, then back).
//!
//! The [`Network`] (the server behind the link, driven by transport-level calls) is the part
//! the `resock` crate's `sim` runtime shares: there the async and blocking clients, not a bare
//! session, sit on the client side.
//!
//! # Example
//! ```
//! use std::time::{Duration, Instant};
//! use resock_core::sim::{Answer, Sim};
//! use resock_core::{DisconnectReason, HandshakeError, Message, SessionConfig, SessionState};
//!
//! let config = SessionConfig::new("ws://server.test/".parse().unwrap());
//! // Any instant will do: the simulator never reads the clock itself.
//! # #[allow(clippy::disallowed_methods)]
//! let start = Instant::now();
//! let mut sim = Sim::new(config, [7; 32], start);
//!
//! // The server is busy: 429 with Retry-After: 90.
//! sim.server.answer = Answer::too_many_requests(90);
//! sim.session.connect(sim.now());
//! sim.run_for(Duration::from_secs(1));
//! let (at, reason, retry_at) = sim.disconnects()[0].clone();
//! assert!(matches!(reason, DisconnectReason::Handshake(HandshakeError::Rejected(ref r)) if r.status == 429));
//! assert_eq!(retry_at, Some(at + Duration::from_secs(90)), "Retry-After beats the backoff");
//!
//! // It recovers; the session reconnects, and a message goes through the echo server.
//! sim.server.answer = Answer::Accept(None);
//! assert!(sim.run_until_open(Duration::from_secs(120)));
//! sim.send(Message::text("hello")).unwrap();
//! assert!(sim.run_until(Duration::from_secs(1), |s| !s.received.is_empty()));
//! assert_eq!(sim.received[0].as_text(), Some("hello"));
//!
//! // A server restarted every ten minutes for a day: a few milliseconds of real time.
//! for _ in 0..144 {
//!     sim.run_for(Duration::from_secs(600));
//!     sim.stop_server();
//!     sim.run_for(Duration::from_secs(2));
//!     sim.start_server();
//! }
//! assert!(sim.run_until_open(Duration::from_secs(60)));
//! assert_eq!(*sim.session.state(), SessionState::Open);
//! assert!(sim.elapsed() > Duration::from_secs(24 * 3600));
//! ```

mod clock;
mod link;
mod network;
mod scenarios;
mod server;
mod world;

#[cfg(test)]
mod scenario_tests;
#[cfg(test)]
mod tests;

pub use clock::Clock;
pub use link::Link;
pub use network::{Arrival, Network};
pub use scenarios::{Restart, Simulation};
pub use server::{Answer, Server};
pub use world::Sim;
