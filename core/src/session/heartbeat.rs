//! Liveness: a ping every interval, a pong deadline, round-trip times, and sane behaviour when
//! the clock jumps (a laptop waking from sleep).

use std::time::{Duration, Instant};

use super::config::HeartbeatConfig;

/// Round-trip time measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtt {
    /// The latest sample.
    pub latest: Duration,
    /// Exponentially smoothed (gain 1/8, as TCP's SRTT).
    pub smoothed: Duration,
}

/// What the heartbeat wants done at a deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send a ping with this payload (and the app heartbeat, if configured).
    Ping([u8; 8]),
    /// The peer missed its deadline: fail the connection with 1011.
    Dead,
}

#[derive(Debug)]
pub(crate) struct Heartbeat {
    config: HeartbeatConfig,
    next_ping: Option<Instant>,
    pong_deadline: Option<Instant>,
    /// The latest frame not yet applied to the deadlines: `on_frame` runs for every received
    /// frame, so it only records the instant; the deadlines follow when next looked at.
    last_frame: Option<Instant>,
    outstanding: Option<([u8; 8], Instant)>,
    counter: u64,
    rtt: Option<Rtt>,
}

impl Heartbeat {
    pub(crate) fn new(config: HeartbeatConfig) -> Self {
        Heartbeat {
            config,
            next_ping: None,
            pong_deadline: None,
            last_frame: None,
            outstanding: None,
            counter: 0,
            rtt: None,
        }
    }

    pub(crate) fn config(&self) -> &HeartbeatConfig {
        &self.config
    }

    /// The connection opened: the first ping is due one interval from now.
    pub(crate) fn on_open(&mut self, now: Instant) {
        self.next_ping = self.config.interval.map(|i| now + i);
        self.pong_deadline = None;
        self.last_frame = None;
        self.outstanding = None;
    }

    /// The connection is gone: no timers.
    pub(crate) fn stop(&mut self) {
        self.next_ping = None;
        self.pong_deadline = None;
        self.last_frame = None;
        self.outstanding = None;
    }

    /// A frame arrived: with `any_frame_is_liveness`, the peer is alive and the next ping waits.
    #[inline]
    pub(crate) fn on_frame(&mut self, now: Instant) {
        if self.config.any_frame_is_liveness && self.next_ping.is_some() {
            self.last_frame = Some(now);
        }
    }

    /// The deadlines as of the latest frame: no pong is awaited and the next ping is one
    /// interval after that frame.
    fn deadlines(&self) -> (Option<Instant>, Option<Instant>) {
        match self.last_frame {
            Some(at) => (self.config.interval.map(|i| at + i), None),
            None => (self.next_ping, self.pong_deadline),
        }
    }

    /// Folds the latest frame into the stored deadlines.
    fn apply_last_frame(&mut self) {
        if self.last_frame.is_some() {
            (self.next_ping, self.pong_deadline) = self.deadlines();
            self.last_frame = None;
        }
    }

    /// A pong arrived; returns the new RTT when it answers our outstanding ping.
    pub(crate) fn on_pong(&mut self, now: Instant, payload: &[u8]) -> Option<Rtt> {
        self.apply_last_frame();
        let (expected, sent_at) = self.outstanding?;
        if payload != expected {
            return None;
        }
        self.outstanding = None;
        self.pong_deadline = None;
        let sample = now.saturating_duration_since(sent_at);
        let smoothed = match self.rtt {
            None => sample,
            Some(rtt) => (rtt.smoothed * 7 + sample) / 8,
        };
        let rtt = Rtt {
            latest: sample,
            smoothed,
        };
        self.rtt = Some(rtt);
        Some(rtt)
    }

    /// The latest RTT, if any pong answered a ping.
    pub(crate) fn rtt(&self) -> Option<Rtt> {
        self.rtt
    }

    /// The next heartbeat deadline.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self.deadlines() {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on due deadlines. A deadline overshot by more than the timeout means the process
    /// was not running (suspend, debugger): the peer gets one fresh liveness check instead of
    /// being declared dead, and stale pings never fire in a burst.
    pub(crate) fn on_timeout(&mut self, now: Instant) -> Option<Action> {
        self.apply_last_frame();
        if let Some(deadline) = self.pong_deadline {
            if now >= deadline {
                let overshoot = now - deadline;
                if overshoot <= self.config.timeout {
                    self.stop();
                    return Some(Action::Dead);
                }
                return Some(self.ping(now));
            }
        }
        match self.next_ping {
            Some(due) if now >= due => Some(self.ping(now)),
            _ => None,
        }
    }

    fn ping(&mut self, now: Instant) -> Action {
        self.counter += 1;
        let payload = self.counter.to_be_bytes();
        self.outstanding = Some((payload, now));
        self.pong_deadline = Some(now + self.config.timeout);
        self.next_ping = self.config.interval.map(|i| now + i);
        Action::Ping(payload)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests need one real Instant to start from
mod tests {
    use super::*;

    fn hb() -> Heartbeat {
        Heartbeat::new(HeartbeatConfig {
            interval: Some(Duration::from_secs(20)),
            timeout: Duration::from_secs(10),
            any_frame_is_liveness: true,
            app_message: None,
        })
    }

    #[test]
    fn ping_then_pong_gives_rtt() {
        let t0 = Instant::now();
        let mut h = hb();
        h.on_open(t0);
        assert_eq!(h.poll_timeout(), Some(t0 + Duration::from_secs(20)));
        let Some(Action::Ping(p)) = h.on_timeout(t0 + Duration::from_secs(20)) else {
            panic!("no ping")
        };
        let rtt = h.on_pong(t0 + Duration::from_millis(20_040), &p).unwrap();
        assert_eq!(rtt.latest, Duration::from_millis(40));
        assert_eq!(
            h.on_pong(t0 + Duration::from_secs(21), &p),
            None,
            "a second pong is unsolicited"
        );
    }

    #[test]
    fn silent_peer_is_dead_after_interval_plus_timeout() {
        let t0 = Instant::now();
        let mut h = hb();
        h.on_open(t0);
        assert!(matches!(
            h.on_timeout(t0 + Duration::from_secs(20)),
            Some(Action::Ping(_))
        ));
        assert_eq!(h.poll_timeout(), Some(t0 + Duration::from_secs(30)));
        assert_eq!(h.on_timeout(t0 + Duration::from_secs(30)), Some(Action::Dead));
    }

    #[test]
    fn clock_jump_gives_one_liveness_check() {
        let t0 = Instant::now();
        let mut h = hb();
        h.on_open(t0);
        h.on_timeout(t0 + Duration::from_secs(20));
        let woke = t0 + Duration::from_secs(3600);
        assert!(matches!(h.on_timeout(woke), Some(Action::Ping(_))));
        assert_eq!(h.on_timeout(woke), None, "no burst");
        assert_eq!(h.poll_timeout(), Some(woke + Duration::from_secs(10)));
    }
}
