//! Admission control: how many connections the server holds in all and per client address,
//! and how many refused sockets it answers at a time.
//!
//! A socket past a limit is not dropped unanswered: the server reads its request and answers
//! `503 Service Unavailable` (full) or `429 Too Many Requests` (that address holds too many),
//! each with `Retry-After`, so a client's backoff has something to go on (`refuse.rs`). Those
//! answers are bounded in turn: past [`Limits::max_refusals`] sockets being answered, a
//! further socket is closed at once, so a flood cannot spend every descriptor on refusals.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The admission settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Connections held at once, from accept to the end (handshakes included).
    pub(crate) max_connections: usize,
    /// Connections held at once from one IP address; `None`: no such limit.
    pub(crate) max_per_ip: Option<usize>,
    /// Refused sockets being answered at once.
    pub(crate) max_refusals: usize,
}

/// Why a socket is refused, and so the status it is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The server holds `max_connections`: `503 Service Unavailable`.
    Full,
    /// The client's address holds its maximum: `429 Too Many Requests`.
    PerIp,
}

impl Refusal {
    /// The HTTP status of the answer.
    pub(crate) fn status(self) -> u16 {
        match self {
            Refusal::Full => 503,
            Refusal::PerIp => 429,
        }
    }
}

/// What to do with an accepted socket.
#[derive(Debug)]
pub(crate) enum Admit {
    /// Serve it; the permit holds its place until dropped.
    Serve(Permit),
    /// Answer it with the refusal's status; the permit holds its place among the refusals.
    Refuse(Refusal, Permit),
    /// Close it at once: too many refusals are being answered already.
    Drop,
}

#[derive(Debug, Default)]
struct Counts {
    connections: usize,
    per_ip: HashMap<IpAddr, usize>,
    refusals: usize,
}

/// The counts, shared by the accept loop and every connection's [`Permit`].
#[derive(Debug)]
pub(crate) struct Admission {
    limits: Limits,
    counts: Mutex<Counts>,
}

/// A place held by one socket (a connection or a refusal); dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Permit {
    admission: Arc<Admission>,
    /// The address counted for the per-IP limit, for a served connection.
    held: Held,
}

#[derive(Debug, Clone, Copy)]
enum Held {
    Connection(IpAddr),
    Refusal,
}

impl Admission {
    pub(crate) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Admission {
            limits,
            counts: Mutex::new(Counts::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides about a socket from `ip` and takes its place.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Admit {
        let ip = ip.to_canonical();
        let mut counts = self.lock();
        let refusal = if counts.connections >= self.limits.max_connections {
            Some(Refusal::Full)
        } else if self
            .limits
            .max_per_ip
            .is_some_and(|max| counts.per_ip.get(&ip).copied().unwrap_or(0) >= max)
        {
            Some(Refusal::PerIp)
        } else {
            None
        };
        let held = match refusal {
            None => {
                counts.connections += 1;
                *counts.per_ip.entry(ip).or_insert(0) += 1;
                Held::Connection(ip)
            }
            Some(_) if counts.refusals >= self.limits.max_refusals => return Admit::Drop,
            Some(_) => {
                counts.refusals += 1;
                Held::Refusal
            }
        };
        let permit = Permit {
            admission: Arc::clone(self),
            held,
        };
        match refusal {
            None => Admit::Serve(permit),
            Some(refusal) => Admit::Refuse(refusal, permit),
        }
    }

    /// Connections held now.
    #[cfg(test)]
    pub(crate) fn connections(&self) -> usize {
        self.lock().connections
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.admission.lock();
        match self.held {
            Held::Connection(ip) => {
                counts.connections = counts.connections.saturating_sub(1);
                if let Some(n) = counts.per_ip.get_mut(&ip) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        counts.per_ip.remove(&ip);
                    }
                }
            }
            Held::Refusal => counts.refusals = counts.refusals.saturating_sub(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use proptest::prelude::*;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    fn admission(max_connections: usize, max_per_ip: Option<usize>, max_refusals: usize) -> Arc<Admission> {
        Admission::new(Limits {
            max_connections,
            max_per_ip,
            max_refusals,
        })
    }

    #[test]
    fn past_the_total_503_past_the_address_429_past_the_refusals_dropped() {
        let admission = admission(3, Some(2), 1);
        let a1 = admission.admit(A);
        let a2 = admission.admit(A);
        assert!(matches!(a1, Admit::Serve(_)) && matches!(a2, Admit::Serve(_)));
        let refused = admission.admit(A);
        assert!(matches!(refused, Admit::Refuse(Refusal::PerIp, _)), "{refused:?}");
        assert!(
            matches!(admission.admit(A), Admit::Drop),
            "one refusal in flight at most"
        );
        drop(refused);
        let b1 = admission.admit(B);
        assert!(matches!(b1, Admit::Serve(_)));
        let full = admission.admit(B);
        assert!(matches!(full, Admit::Refuse(Refusal::Full, _)), "{full:?}");
        assert_eq!(Refusal::Full.status(), 503);
        assert_eq!(Refusal::PerIp.status(), 429);
        drop(full);
        drop(a1);
        assert!(
            matches!(admission.admit(A), Admit::Serve(_)),
            "a freed place is free again"
        );
        assert_eq!(
            admission.connections(),
            2,
            "a2 and b1: the permit in the assert above was dropped at once"
        );
    }

    #[test]
    fn an_ipv4_mapped_address_counts_as_the_ipv4_address() {
        let admission = admission(10, Some(1), 1);
        let _held = admission.admit(A);
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        assert!(matches!(admission.admit(mapped), Admit::Refuse(Refusal::PerIp, _)));
    }

    proptest! {
        /// Whatever the limits and the order of arrivals and departures, the counts never pass
        /// a limit and return to zero when every permit is gone.
        #[test]
        fn limits_hold_and_counts_return_to_zero(
            max_connections in 0usize..6,
            max_per_ip in proptest::option::of(0usize..4),
            max_refusals in 0usize..4,
            steps in proptest::collection::vec((0u8..3, any::<bool>()), 0..60),
        ) {
            let admission = admission(max_connections, max_per_ip, max_refusals);
            let mut held: Vec<(IpAddr, Admit)> = Vec::new();
            for (who, arrive) in steps {
                let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, who));
                if arrive || held.is_empty() {
                    held.push((ip, admission.admit(ip)));
                } else {
                    held.remove(usize::from(who) % held.len());
                }
                let served = held.iter().filter(|(_, a)| matches!(a, Admit::Serve(_))).count();
                let refusing = held.iter().filter(|(_, a)| matches!(a, Admit::Refuse(..))).count();
                prop_assert!(served <= max_connections);
                prop_assert!(refusing <= max_refusals);
                prop_assert_eq!(admission.connections(), served);
                if let Some(max) = max_per_ip {
                    for (ip, _) in &held {
                        let of_ip = held.iter().filter(|(i, a)| i == ip && matches!(a, Admit::Serve(_))).count();
                        prop_assert!(of_ip <= max);
                    }
                }
            }
            drop(held);
            prop_assert_eq!(admission.connections(), 0);
            prop_assert!(admission.lock().per_ip.is_empty());
            prop_assert_eq!(admission.lock().refusals, 0);
        }
    }
}
