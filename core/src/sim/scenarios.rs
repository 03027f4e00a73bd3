//! The common outage scripts as one call each on any [`Simulation`] ([`Sim`], and the `sim`
//! runtime of the `resock` crate): restarts every N seconds (graceful or
//! abrupt), a network outage, a server that answers 503 with `Retry-After` for a while, a server
//! that stops answering pings, and a deploy that closes with 1012 and comes back. Each runs the
//! simulation through the whole script and returns with the server (and the network) healthy
//! again, so a test goes on from there. Each runs the simulation for the virtual time it names,
//! deadline by deadline, as [`Sim::run_for`] does: a `Duration::MAX` there never returns, while
//! a `Duration::MAX` period or downtime only means "never again".

use std::time::Duration;

use std::time::Instant;

use super::{Answer, Network};
use crate::{CloseCode, Message};

#[cfg(doc)]
use super::Sim;

/// How a scripted restart ends the server's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// A close handshake with 1001 (going away) on every connection, then the server stops.
    Graceful,
    /// The process dies: every connection is dropped without a close frame.
    Abrupt,
}

/// A simulation that runs on virtual time around a [`Network`]: what the outage scripts need.
/// [`Sim`] implements it; so does the `resock` crate's simulated world. Import it to use the
/// scripts (`use resock_core::sim::Simulation;`).
pub trait Simulation {
    /// The virtual now.
    fn now(&self) -> Instant;

    /// Runs everything due up to `at`, deadline by deadline, and leaves the clock at `at`.
    fn run_to(&mut self, at: Instant);

    /// The server and the link.
    fn network(&mut self) -> &mut Network;

    /// Runs for `duration` of virtual time.
    fn run_for(&mut self, duration: Duration) {
        let at = crate::saturating_later(self.now(), duration);
        self.run_to(at);
    }

    /// Stops the server: every connection is cut (EOF without a close frame) and connects are
    /// refused until [`start_server`](Self::start_server).
    fn stop_server(&mut self) {
        let now = self.now();
        self.network().stop_server(now);
    }

    /// The server comes back on the same address.
    fn start_server(&mut self) {
        self.network().start_server();
    }

    /// The server sends `message` on every open connection, now.
    fn broadcast(&mut self, message: &Message) {
        let now = self.now();
        self.network().server.broadcast(message, now);
        self.network().settle(now);
    }

    /// The server starts a close handshake with `code` and `reason` on every connection, now.
    fn close_all(&mut self, code: CloseCode, reason: &str) {
        let now = self.now();
        self.network().server.close_all_with_reason(code, reason, now);
        self.network().settle(now);
    }

    /// For `total`, the server restarts every `every` (`how`), keeping that period whatever
    /// the downtime, and stays down for `downtime` each time: connects during the downtime are
    /// refused. Runs the whole script; the server is up when it returns. `every` and
    /// `downtime` are at least 1 ms.
    fn restart_every(&mut self, every: Duration, downtime: Duration, how: Restart, total: Duration) {
        let every = every.max(Duration::from_millis(1));
        let downtime = downtime.max(Duration::from_millis(1));
        let end = crate::saturating_later(self.now(), total);
        // Restarts keep their period whatever the downtime: at start + every, + 2 × every, …
        let mut restart_at = crate::saturating_later(self.now(), every);
        while self.now() < end {
            self.run_to(restart_at.min(end));
            if self.now() >= end {
                break;
            }
            restart_at = crate::saturating_later(restart_at, every);
            if how == Restart::Graceful {
                let now = self.now();
                self.network().server.close_all(CloseCode::GOING_AWAY, now);
                self.network().settle(now);
                // The close frames leave before the process exits.
                let latency = self.network().link.latency;
                self.run_for(latency);
            }
            self.stop_server();
            self.run_to(crate::saturating_later(self.now(), downtime).min(end));
            self.start_server();
        }
        self.start_server();
    }

    /// The network goes dark for `duration`: bytes in both directions and new connects are
    /// lost (nothing is refused, nothing arrives), then it comes back. The client notices
    /// through its heartbeat or open timeout only.
    fn network_outage(&mut self, duration: Duration) {
        self.network().link.up = false;
        self.run_for(duration);
        self.network().link.up = true;
    }

    /// For `duration`, every opening is answered with 503 Service Unavailable and
    /// `Retry-After: <retry_after_secs>`; open connections stay. Afterwards the server accepts
    /// again (without a subprotocol).
    fn unavailable_for(&mut self, duration: Duration, retry_after_secs: u64) {
        self.network().server.answer = Answer::Reject {
            status: 503,
            headers: vec![("Retry-After".to_owned(), retry_after_secs.to_string())],
        };
        self.run_for(duration);
        self.network().server.answer = Answer::Accept(None);
    }

    /// From now on the server ignores pings (it still reads and answers everything else),
    /// as a half-dead proxy or a stuck event loop does.
    fn stop_answering_pings(&mut self) {
        self.network().server.answer_pings = false;
    }

    /// A deploy: every connection is closed with 1012 (service restart), openings are
    /// answered with 503 for `downtime`, then the new version accepts.
    fn deploy(&mut self, downtime: Duration) {
        let now = self.now();
        self.network()
            .server
            .close_all_with_reason(CloseCode::SERVICE_RESTART, "deploying", now);
        self.network().settle(now);
        self.network().server.answer = Answer::reject(503);
        self.run_for(downtime);
        self.network().server.answer = Answer::Accept(None);
    }
}
