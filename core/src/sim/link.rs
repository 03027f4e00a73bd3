//! The simulated network between the client and the server: latency, seeded jitter, loss (as a
//! cut connection, the way TCP shows it), stalls and refused connects.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::saturating_later;
use crate::session::{TransportErrorKind, TransportId};

/// Something in flight on the link, due at an instant.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// The TCP handshake finished for the client, or its transport failed (a refused connect,
    /// a reset).
    ClientConnect(TransportId, Result<(), TransportErrorKind>),
    /// Bytes for the client.
    ToClient(TransportId, Vec<u8>),
    /// The server closed the transport.
    ClientEof(TransportId),
    /// A new TCP connection reaches the server.
    ServerOpen(TransportId),
    /// Bytes for the server.
    ToServer(TransportId, Vec<u8>),
    /// The client closed the transport.
    ServerEof(TransportId),
}

impl Delivery {
    /// The transport and direction (true: towards the server) the delivery belongs to.
    fn lane(&self) -> (TransportId, bool) {
        match *self {
            Delivery::ClientConnect(id, _) | Delivery::ToClient(id, _) | Delivery::ClientEof(id) => (id, false),
            Delivery::ServerOpen(id) | Delivery::ToServer(id, _) | Delivery::ServerEof(id) => (id, true),
        }
    }

    /// Whether the delivery carries bytes of transport `id` (not an open or a close).
    pub(crate) fn is_data_of(&self, id: TransportId) -> bool {
        matches!(self, Delivery::ToClient(on, _) | Delivery::ToServer(on, _) if *on == id)
    }
}

/// A seeded link with one-way latency, jitter, loss, stalls and refusal.
///
/// Jitter never reorders the bytes of one direction of one transport (TCP keeps order): a
/// delivery is never due before the previous one in its lane. Loss is modelled as TCP shows it
/// to an application: each chunk of bytes put on the link cuts the connection with probability
/// [`loss`](Self::loss) (both sides see the transport end, the bytes in flight are gone).
/// With `jitter` zero and `loss` zero the link draws no random numbers at all.
#[derive(Debug)]
pub struct Link {
    /// One-way latency of every delivery (default 5 ms).
    pub latency: Duration,
    /// Extra one-way delay, uniform in `0..=jitter`, drawn from the seeded generator (default 0).
    pub jitter: Duration,
    /// Probability in `0.0..=1.0` that a chunk of bytes put on the link cuts its connection
    /// instead of arriving (default 0).
    pub loss: f64,
    /// When false the link is a black hole: bytes in both directions and new connects are
    /// silently lost, as on a dead Wi-Fi (default true).
    pub up: bool,
    /// What a connect to a server that is down reports after twice the latency (default
    /// [`TransportErrorKind::Refused`]; e.g. `TlsCertificate` for an untrusted certificate).
    pub refusal: TransportErrorKind,
    /// Nothing is delivered before this instant (a stall: bytes wait, nothing is lost).
    pub stalled_until: Option<Instant>,
    rng: Rng,
    in_flight: BTreeMap<(Instant, u64), Delivery>,
    lanes: BTreeMap<(TransportId, bool), Instant>,
    seq: u64,
}

impl Link {
    /// A link with 5 ms latency, no jitter, no loss, up, whose random draws come from `seed`.
    pub fn new(seed: [u8; 32]) -> Self {
        Link {
            latency: Duration::from_millis(5),
            jitter: Duration::ZERO,
            loss: 0.0,
            up: true,
            refusal: TransportErrorKind::Refused,
            stalled_until: None,
            rng: Rng::from_seed(seed),
            in_flight: BTreeMap::new(),
            lanes: BTreeMap::new(),
            seq: 0,
        }
    }

    /// Holds every delivery (already in flight or put on the link later) until `until`.
    pub fn stall(&mut self, until: Instant) {
        self.stalled_until = Some(self.stalled_until.map_or(until, |s| s.max(until)));
        let held: Vec<_> = std::mem::take(&mut self.in_flight).into_iter().collect();
        for ((due, seq), delivery) in held {
            self.in_flight.insert((due.max(until), seq), delivery);
        }
    }

    /// How many deliveries are in flight.
    pub fn pending(&self) -> usize {
        self.in_flight.len()
    }

    /// When the next delivery is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|(t, _)| *t)
    }

    /// One draw of the loss dice: whether the next chunk of bytes cuts its connection.
    pub(crate) fn roll_loss(&mut self) -> bool {
        if self.loss <= 0.0 {
            return false;
        }
        let draw = self.rng.next_u64() as f64 / u64::MAX as f64;
        draw < self.loss
    }

    /// One one-way delay: latency plus a jitter draw.
    pub(crate) fn delay(&mut self) -> Duration {
        let jitter = match u64::try_from(self.jitter.as_nanos()) {
            Ok(0) => 0,
            Ok(max) => self.rng.below_or_equal(max),
            Err(_) => self.rng.next_u64(),
        };
        self.latency.saturating_add(Duration::from_nanos(jitter))
    }

    /// Puts `delivery` on the link, due `after` from `now` (never before the previous delivery
    /// in its lane, nor before the end of a stall).
    pub(crate) fn schedule(&mut self, now: Instant, after: Duration, delivery: Delivery) {
        let lane = delivery.lane();
        let mut due = saturating_later(now, after);
        if let Some(&last) = self.lanes.get(&lane) {
            due = due.max(last);
        }
        if let Some(stall) = self.stalled_until.filter(|s| *s > now) {
            due = due.max(stall);
        }
        self.lanes.insert(lane, due);
        self.seq += 1;
        self.in_flight.insert((due, self.seq), delivery);
    }

    /// Puts `delivery` on the link due at `now` itself, ahead of anything queued in its lane
    /// (a reset overtakes the bytes it destroys).
    pub(crate) fn schedule_now(&mut self, now: Instant, delivery: Delivery) {
        self.seq += 1;
        self.in_flight.insert((now, self.seq), delivery);
    }

    /// The first delivery due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Delivery> {
        let entry = self.in_flight.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        let delivery = entry.remove();
        // A lane whose last delivery is due constrains nothing any more (a new one is due
        // after now anyway): forget it, so a long run over many transports stays bounded.
        let lane = delivery.lane();
        if self.lanes.get(&lane).is_some_and(|last| *last <= now) {
            self.lanes.remove(&lane);
        }
        Some(delivery)
    }

    /// Drops every delivery that `drop` selects.
    pub(crate) fn drop_where(&mut self, mut drop: impl FnMut(&Delivery) -> bool) {
        self.in_flight.retain(|_, d| !drop(d));
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real Instant to start from
mod tests {
    use super::*;

    #[test]
    fn jitter_keeps_each_lane_in_order_and_is_seeded() {
        let run = |seed| {
            let now = Instant::now();
            let mut link = Link::new(seed);
            link.jitter = Duration::from_millis(50);
            let id = TransportId(1);
            for i in 0..100u8 {
                let after = link.delay();
                link.schedule(now, after, Delivery::ToServer(id, vec![i]));
            }
            let mut order = Vec::new();
            let mut dues = Vec::new();
            while let Some(((due, _), Delivery::ToServer(_, b))) = link.in_flight.pop_first() {
                order.push(b[0]);
                dues.push(due - now);
            }
            (order, dues)
        };
        let (order, dues) = run([1; 32]);
        assert_eq!(order, (0..100).collect::<Vec<u8>>());
        assert!(
            dues.iter()
                .all(|d| *d >= Duration::from_millis(5) && *d <= Duration::from_millis(55))
        );
        assert_eq!(run([1; 32]).1, dues);
        assert_ne!(run([2; 32]).1, dues);
    }
}
