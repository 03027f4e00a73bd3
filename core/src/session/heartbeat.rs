//! Liveness: a ping every interval, a pong deadline, round-trip times, and sane behaviour when
//! the clock jumps (a laptop waking from sleep).

use std::collections::VecDeque;
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

/// Pings remembered for matching pongs (RTT samples). Older ones are forgotten; their pongs
/// still prove liveness, since the payload is our counter.
const REMEMBERED_PINGS: usize = 16;

/// A pong deadline overshot by more than this (and more than the timeout) means the process
/// was not running (a suspended laptop): one fresh check instead of a failure. Waking a little
/// late under load must not count, or a short timeout would never fail a dead peer.
const SUSPEND_THRESHOLD: Duration = Duration::from_secs(1);

/// Liveness of one open connection.
///
/// A ping goes out every `interval`: one interval after the open, after the previous ping, or
/// (with `any_frame_is_liveness`) after the latest received frame. The peer must answer the
/// oldest unanswered ping within `timeout` of sending it; a later ping never moves that
/// deadline. A pong answers its own ping and every older one, so with a round trip longer than
/// the interval each pong still matches its ping and gives an RTT sample. With
/// `any_frame_is_liveness`, any frame answers every ping sent before it. A silent peer is
/// therefore failed at most `interval + timeout` after the last sign of life, for every
/// combination of the two; an instant past `Instant`'s range means "never".
#[derive(Debug)]
pub(crate) struct Heartbeat {
    config: HeartbeatConfig,
    next_ping: Option<Instant>,
    /// When the oldest ping not yet answered went out: the pong deadline is `timeout` later.
    unanswered_since: Option<Instant>,
    /// The latest frame not yet applied to the deadlines: `on_frame` runs for every received
    /// frame, so it only records the instant; the deadlines follow when next looked at.
    last_frame: Option<Instant>,
    /// The newest pings, oldest first: counter and send time.
    sent: VecDeque<(u64, Instant)>,
    counter: u64,
    rtt: Option<Rtt>,
    /// The driver is not reading the transport (its application is behind): the peer cannot be
    /// heard, so no pong deadline runs. Kept across connections, like the driver's state.
    deaf: bool,
}

impl Heartbeat {
    pub(crate) fn new(config: HeartbeatConfig) -> Self {
        Heartbeat {
            config,
            next_ping: None,
            unanswered_since: None,
            last_frame: None,
            sent: VecDeque::new(),
            counter: 0,
            rtt: None,
            deaf: false,
        }
    }

    pub(crate) fn config(&self) -> &HeartbeatConfig {
        &self.config
    }

    /// The ping interval; zero (refused by validation) counts as off rather than a busy loop.
    fn interval(&self) -> Option<Duration> {
        self.config.interval.filter(|i| !i.is_zero())
    }

    /// The connection opened: the first ping is due one interval from now.
    pub(crate) fn on_open(&mut self, now: Instant) {
        self.stop();
        self.next_ping = self.interval().and_then(|i| now.checked_add(i));
    }

    /// The connection is gone: no timers.
    pub(crate) fn stop(&mut self) {
        self.next_ping = None;
        self.unanswered_since = None;
        self.last_frame = None;
        self.sent = VecDeque::new();
    }

    /// A frame arrived: with `any_frame_is_liveness`, the peer is alive and the next ping waits.
    #[inline]
    pub(crate) fn on_frame(&mut self, now: Instant) {
        if self.config.any_frame_is_liveness && self.next_ping.is_some() {
            self.last_frame = Some(now);
        }
    }

    /// The deadlines as of the latest frame: every ping sent before it is answered and the
    /// next ping is one interval after it.
    fn deadlines(&self) -> (Option<Instant>, Option<Instant>) {
        match self.last_frame {
            Some(at) => (self.interval().and_then(|i| at.checked_add(i)), None),
            None => (self.next_ping, self.unanswered_since),
        }
    }

    /// Folds the latest frame into the stored deadlines.
    fn apply_last_frame(&mut self) {
        if self.last_frame.is_some() {
            (self.next_ping, self.unanswered_since) = self.deadlines();
            self.last_frame = None;
        }
    }

    /// The pong deadline: `timeout` after the oldest unanswered ping; none while deaf.
    fn pong_deadline(&self, unanswered_since: Option<Instant>) -> Option<Instant> {
        if self.deaf {
            return None;
        }
        unanswered_since.and_then(|at| at.checked_add(self.config.timeout))
    }

    /// The driver stopped (`false`) or resumed (`true`) reading the transport. While it does
    /// not read, silence proves nothing, so no pong deadline runs. On resume the oldest
    /// unanswered ping counts as sent now (a full timeout for the peer to be heard), and
    /// pings sent before give no RTT sample, since their pongs waited unread.
    pub(crate) fn set_reading(&mut self, now: Instant, reading: bool) {
        if self.deaf != reading {
            return;
        }
        self.apply_last_frame();
        self.deaf = !reading;
        if reading {
            self.sent.clear();
            if self.unanswered_since.is_some() {
                self.unanswered_since = Some(now);
            }
        }
    }

    /// A pong arrived; returns the new RTT when it answers a ping we remember.
    pub(crate) fn on_pong(&mut self, now: Instant, payload: &[u8]) -> Option<Rtt> {
        self.apply_last_frame();
        let answered = <[u8; 8]>::try_from(payload).ok().map(u64::from_be_bytes)?;
        if answered == 0 || answered > self.counter {
            return None; // not one of ours
        }
        // This ping and every older one are answered; the oldest newer one sets the deadline.
        let sample = self
            .sent
            .iter()
            .find(|(counter, _)| *counter == answered)
            .map(|(_, at)| now.saturating_duration_since(*at));
        while self.sent.front().is_some_and(|(counter, _)| *counter <= answered) {
            self.sent.pop_front();
        }
        if self.unanswered_since.is_some() {
            self.unanswered_since = self.sent.front().map(|(_, at)| *at);
        }
        let sample = sample?;
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
        let (next_ping, unanswered_since) = self.deadlines();
        match (next_ping, self.pong_deadline(unanswered_since)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on due deadlines. A deadline overshot by more than the timeout (and more than a
    /// second) means the process was not running (suspend, debugger): the peer gets one fresh
    /// liveness check instead of being declared dead, and stale pings never fire in a burst.
    pub(crate) fn on_timeout(&mut self, now: Instant) -> Option<Action> {
        self.apply_last_frame();
        if let Some(deadline) = self.pong_deadline(self.unanswered_since) {
            if now >= deadline {
                let overshoot = now - deadline;
                if overshoot <= self.config.timeout.max(SUSPEND_THRESHOLD) {
                    self.stop();
                    return Some(Action::Dead);
                }
                // Pings from before the gap would give meaningless RTTs.
                self.sent.clear();
                self.unanswered_since = None;
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
        if self.sent.len() == REMEMBERED_PINGS {
            self.sent.pop_front();
        }
        self.sent.push_back((self.counter, now));
        self.unanswered_since.get_or_insert(now);
        self.next_ping = self.interval().and_then(|i| now.checked_add(i));
        Action::Ping(self.counter.to_be_bytes())
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
    fn a_pong_that_answers_no_ping_of_ours_is_no_sign_of_life() {
        let t0 = Instant::now();
        let mut h = hb();
        h.config.any_frame_is_liveness = false;
        h.on_open(t0);
        let Some(Action::Ping(p)) = h.on_timeout(t0 + Duration::from_secs(20)) else {
            panic!("no ping")
        };
        let later = t0 + Duration::from_secs(25);
        // A counter we never sent, zero, and a payload of another length answer nothing.
        for bogus in [[0xFF; 8].as_slice(), &[0; 8], &p[..7]] {
            assert_eq!(h.on_pong(later, bogus), None);
            assert_eq!(h.poll_timeout(), Some(t0 + Duration::from_secs(30)), "{bogus:?}");
        }
        assert_eq!(h.on_timeout(t0 + Duration::from_secs(30)), Some(Action::Dead));
        assert_eq!(h.poll_timeout(), None, "a dead peer leaves no timer behind");
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

    #[test]
    fn no_pong_deadline_while_not_reading_and_a_full_timeout_after() {
        let t0 = Instant::now();
        let mut h = hb();
        h.config.any_frame_is_liveness = false;
        h.on_open(t0);
        let Some(Action::Ping(_)) = h.on_timeout(t0 + Duration::from_secs(20)) else {
            panic!("no ping")
        };
        h.set_reading(t0 + Duration::from_secs(21), false);
        // Only the next ping is due; the pong deadline at 30 s is suspended.
        assert_eq!(h.poll_timeout(), Some(t0 + Duration::from_secs(40)));
        assert!(matches!(
            h.on_timeout(t0 + Duration::from_secs(40)),
            Some(Action::Ping(_))
        ));
        assert_eq!(h.on_timeout(t0 + Duration::from_secs(59)), None);
        let resumed = t0 + Duration::from_secs(59);
        h.set_reading(resumed, true);
        h.set_reading(resumed, true); // idempotent
        assert_eq!(
            h.poll_timeout(),
            Some(resumed + Duration::from_secs(1)),
            "next ping at 60 s"
        );
        assert!(matches!(
            h.on_timeout(resumed + Duration::from_secs(1)),
            Some(Action::Ping(_))
        ));
        assert_eq!(h.on_timeout(resumed + Duration::from_secs(9)), None);
        assert_eq!(h.on_timeout(resumed + Duration::from_secs(10)), Some(Action::Dead));
    }
}
