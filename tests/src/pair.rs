//! The virtual-time harness of the scenarios: resock-core's simulator ([`Sim`]: a [`Session`],
//! an in-memory server and a link on a virtual clock) plus an independent decoder of every frame
//! the client wrote. `Pair` dereferences to the [`Sim`]; its own methods are the ones that run
//! time, so the decoded [`frames`](Pair::frames) are up to date after each of them.
//!
//! [`Session`]: resock_core::Session

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use resock_core::session::SessionEvent;
use resock_core::sim::Sim;
use resock_core::{
    DisconnectReason, Message, MessageId, SessionConfig, TransportErrorKind, TransportId, saturating_later,
};

use crate::wire::{self, ClientStream, Frame};

/// A session and a server joined by a link, on a virtual clock, with the client's frames decoded.
pub struct Pair {
    sim: Sim,
    /// Every frame the client wrote, decoded independently of resock-core, with its time and
    /// transport.
    pub frames: Vec<(Instant, TransportId, Frame)>,
    /// The decoder of the transport the client writes to (transports are written in turn).
    stream: Option<(TransportId, ClientStream)>,
}

impl Deref for Pair {
    type Target = Sim;

    fn deref(&self) -> &Sim {
        &self.sim
    }
}

impl DerefMut for Pair {
    fn deref_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }
}

impl Pair {
    /// A pair whose session connects to a default echo server, with 5 ms latency.
    pub fn new(config: SessionConfig) -> Self {
        Self::with_seed(config, [7; 32])
    }

    /// Like [`new`](Self::new) with a chosen seed for the session's CSPRNG.
    pub fn with_seed(config: SessionConfig, seed: [u8; 32]) -> Self {
        let mut sim = Sim::new(config, seed, Instant::now());
        sim.session.connect(sim.now());
        Pair {
            sim,
            frames: Vec::new(),
            stream: None,
        }
    }

    /// The default config for `ws://server.test/`.
    pub fn config() -> SessionConfig {
        SessionConfig::new("ws://server.test/".parse().unwrap())
    }

    /// Moves the bytes the client wrote since the last call out of the simulator's transcript
    /// ([`Sim::written`]) into decoded [`frames`](Self::frames), so long runs stay bounded.
    fn decode(&mut self) {
        for (at, id, bytes) in self.sim.written.drain(..) {
            if self.stream.as_ref().is_none_or(|(on, _)| *on != id) {
                self.stream = Some((id, ClientStream::new()));
            }
            let (_, stream) = self.stream.as_mut().expect("set above");
            for frame in stream.feed(&bytes) {
                self.frames.push((at, id, frame));
            }
        }
    }

    /// Runs until `until` (virtual), jumping from deadline to deadline.
    pub fn run_until(&mut self, until: Instant) {
        self.sim.run_to(until);
        self.decode();
    }

    /// Runs for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        self.sim.run_for(duration);
        self.decode();
    }

    /// Jumps the clock forward without running anything in between (a suspended laptop),
    /// then lets the session see the new time.
    pub fn jump(&mut self, by: Duration) {
        self.sim.advance(by);
        self.decode();
    }

    /// Runs until the session is open, at most `limit`.
    pub fn run_until_open(&mut self, limit: Duration) -> bool {
        let open = self.sim.run_until_open(limit);
        self.decode();
        open
    }

    /// Runs until `cond` holds (checked whenever nothing is left to do at an instant), at
    /// most `limit` of virtual time; returns whether it holds.
    pub fn run_until_cond(&mut self, limit: Duration, mut cond: impl FnMut(&Pair) -> bool) -> bool {
        let until = saturating_later(self.sim.now(), limit);
        loop {
            self.sim.settle();
            self.decode();
            if cond(self) {
                return true;
            }
            if !self.sim.step(until) {
                self.sim.run_to(until);
                self.sim.settle();
                self.decode();
                return cond(self);
            }
        }
    }

    /// Cuts the transport abruptly: both sides see EOF, in-flight bytes are lost.
    pub fn cut(&mut self) {
        self.sim.cut();
    }

    /// Ends the live transport right now (see [`Sim::end_transport_now`]).
    pub fn end_transport_now(&mut self, failure: Option<TransportErrorKind>) -> bool {
        let ended = self.sim.end_transport_now(failure);
        self.decode();
        ended
    }

    /// Sends a message from the application; panics if the session refuses it.
    pub fn send(&mut self, message: Message) -> MessageId {
        let id = self.sim.send(message).expect("send refused");
        self.decode();
        id
    }

    /// Every `Disconnected` event: when, why, and when the next attempt starts (`None`: for good).
    /// Checks on the way that the scheduled delay it carries is `retry_at` minus its instant.
    pub fn disconnects(&self) -> Vec<(Instant, DisconnectReason, Option<Instant>)> {
        for (t, e) in &self.sim.events {
            if let SessionEvent::Disconnected {
                reason,
                retry_at,
                retry_in,
            } = e
            {
                assert_eq!(*retry_in, retry_at.map(|at| at - *t), "{reason:?} at {t:?}");
            }
        }
        self.sim.disconnects()
    }

    /// Times at which the client wrote frames with `opcode`.
    pub fn frame_times(&self, opcode: u8) -> Vec<Instant> {
        self.frames
            .iter()
            .filter(|(_, _, f)| f.opcode == opcode)
            .map(|(t, _, _)| *t)
            .collect()
    }

    /// Times at which the client wrote pings.
    pub fn pings(&self) -> Vec<Instant> {
        self.frame_times(wire::PING)
    }

    /// The close frames the client wrote: time, transport and frame.
    pub fn close_frames(&self) -> Vec<(Instant, TransportId, Frame)> {
        self.frames
            .iter()
            .filter(|(_, _, f)| f.opcode == wire::CLOSE)
            .cloned()
            .collect()
    }

    /// Messages the server received, as text.
    pub fn server_texts(&self) -> Vec<String> {
        texts(&self.sim.server.received)
    }
}

/// The texts of text messages.
pub fn texts(messages: &[Message]) -> Vec<String> {
    messages.iter().filter_map(|m| m.as_text().map(str::to_owned)).collect()
}

/// Delays between consecutive `Connect` outputs.
pub fn gaps(instants: &[Instant]) -> VecDeque<Duration> {
    instants.windows(2).map(|w| w[1] - w[0]).collect()
}
