//! What the client prints: received messages on stdout (plain lines, hex, raw bytes or JSON
//! events), short status lines on stderr, and the exit status once the session has ended.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use resock::core::connection::Initiator;
use resock::core::session::{ClosedReason, DisconnectReason, HandBackReason, SessionEvent, SessionState};
use resock::{CloseCode, Message};

use crate::jsonl::json_line;
use crate::term::{Paint, StatusLine, Style};

/// How the client reports.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// JSON events on stdout instead of plain text (status lines then stay off stderr).
    pub json: bool,
    /// No status lines on stderr.
    pub quiet: bool,
    /// Binary messages as raw bytes instead of hex lines.
    pub raw_binary: bool,
    /// Stop printing (and ask to close) after this many received messages.
    pub exit_after: Option<u64>,
    /// The URL, for the first status line.
    pub url: String,
}

/// Turns session events into output and tracks what the exit status depends on.
#[derive(Debug)]
pub struct Reporter {
    options: ReportOptions,
    paint: Paint,
    status: StatusLine,
    received: u64,
    /// The next attempt while waiting to retry: when and which.
    retry: Option<(Instant, u32)>,
    /// The reason of the last disconnect, shown with the following retry line.
    lost: Option<String>,
    /// Whether the connection that just ended had opened (a drop, not a failed attempt).
    was_open: bool,
    /// Stdout is gone (a pipe into `head` ended): nobody reads what we receive.
    stdout_gone: bool,
}

impl Reporter {
    pub fn new(options: ReportOptions) -> Self {
        let status_lines = !options.quiet && !options.json;
        Reporter {
            options,
            paint: Paint::stderr(),
            status: StatusLine::new(status_lines),
            received: 0,
            retry: None,
            lost: None,
            was_open: false,
            stdout_gone: false,
        }
    }

    /// Messages received and reported so far.
    #[cfg(test)]
    fn received(&self) -> u64 {
        self.received
    }

    /// Whether `--exit-after` has been reached, or stdout is gone: the caller should close.
    pub fn limit_reached(&self) -> bool {
        self.stdout_gone || self.options.exit_after.is_some_and(|n| self.received >= n)
    }

    /// How often [`tick`](Self::tick) wants to be called, when it wants to.
    pub fn tick_interval(&self) -> Option<Duration> {
        (self.status.is_live() && self.retry.is_some()).then_some(Duration::from_millis(100))
    }

    /// Redraws the live countdown while waiting to retry.
    pub fn tick(&mut self) {
        if let Some((until, attempt)) = self.retry {
            let left = until.saturating_duration_since(Instant::now());
            let text = format!("… reconnecting in {:.1} s (attempt {attempt})", left.as_secs_f64());
            self.status.show(&self.paint.paint(Style::Yellow, text));
        }
    }

    /// Reports one event.
    pub fn event(&mut self, event: SessionEvent) {
        if self.options.json {
            if let Some(mut line) = self.json_event(event) {
                line.push('\n');
                self.stdout_line(line.as_bytes());
            }
        } else {
            self.plain_event(event);
        }
    }

    fn plain_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::Message(message) => self.message(&message),
            SessionEvent::StateChanged(state) => match state {
                SessionState::Connecting { attempt, .. } => {
                    self.retry = None;
                    let text = if attempt == 1 {
                        format!("connecting to {}", self.options.url)
                    } else {
                        format!("connecting to {} (attempt {attempt})", self.options.url)
                    };
                    self.status_line(Style::Dim, &text);
                }
                SessionState::WaitingToRetry {
                    until,
                    retry_in: delay,
                    attempt,
                } => {
                    let lost = self.lost.take().unwrap_or_else(|| "disconnected".into());
                    let text = format!("{lost}; retrying in {} (attempt {attempt})", seconds(delay));
                    self.status_line(Style::Yellow, &text);
                    self.retry = Some((until, attempt));
                    self.tick();
                }
                SessionState::Closing { .. } => self.status_line(Style::Dim, "closing"),
                _ => {}
            },
            SessionEvent::Opened {
                subprotocol, deflate, ..
            } => {
                self.was_open = true;
                let agreed: Vec<String> = subprotocol
                    .map(|p| format!("subprotocol {p}"))
                    .into_iter()
                    .chain(deflate.map(|d| d.to_string()))
                    .collect();
                let text = match agreed.is_empty() {
                    false => format!("connected ({})", agreed.join(", ")),
                    true => "connected".to_owned(),
                };
                self.status_line(Style::Green, &text);
            }
            SessionEvent::Closed {
                code,
                reason,
                initiator,
            } => {
                let by = match initiator {
                    Initiator::Local => "closed",
                    Initiator::Remote => "closed by the server",
                };
                let text = match reason.is_empty() {
                    true => format!("{by} with {}", code),
                    false => format!("{by} with {}: {reason}", code),
                };
                self.status_line(Style::Dim, &text);
            }
            SessionEvent::Disconnected {
                reason,
                retry_at: Some(_),
                ..
            } => {
                let what = if std::mem::take(&mut self.was_open) {
                    "disconnected"
                } else {
                    "failed"
                };
                self.lost = Some(format!("{what}: {}", describe(&reason)));
            }
            SessionEvent::HandedBack { id, message, reason } => {
                let why = match reason {
                    HandBackReason::Dropped => "dropped from the full queue",
                    _ => "not sent: the session closed first",
                };
                let text = format!("message #{} ({} bytes) {why}", id.0, message.len());
                self.status_line(Style::Yellow, &text);
            }
            SessionEvent::Redirected { status, to } => {
                let text = format!("redirected ({status}) to {}", without_query(&to));
                self.status_line(Style::Dim, &text);
            }
            _ => {}
        }
    }

    fn json_event(&mut self, event: SessionEvent) -> Option<String> {
        Some(match event {
            SessionEvent::Message(message) => {
                if self.limit_reached() {
                    return None;
                }
                self.received += 1;
                match message.as_text() {
                    Some(text) => json_line!("event": "message", "text": text),
                    None => json_line!("event": "message", "binary": hex(message.as_bytes())),
                }
            }
            SessionEvent::StateChanged(state) => match state {
                SessionState::Idle => json_line!("event": "state", "state": "idle"),
                SessionState::Connecting { attempt, .. } => {
                    json_line!("event": "state", "state": "connecting", "attempt": attempt)
                }
                SessionState::Open => json_line!("event": "state", "state": "open"),
                SessionState::Closing { .. } => json_line!("event": "state", "state": "closing"),
                SessionState::WaitingToRetry {
                    retry_in: delay,
                    attempt,
                    ..
                } => {
                    json_line!("event": "reconnect", "attempt": attempt, "delay_ms": millis(delay))
                }
                SessionState::Closed(reason) => {
                    let (ok, why) = outcome(&reason);
                    json_line!("event": "state", "state": "closed", "ok": ok, "reason": why)
                }
            },
            SessionEvent::Opened {
                subprotocol, deflate, ..
            } => json_line!(
                "event": "open",
                "subprotocol": subprotocol,
                "extensions": deflate.map(|d| d.to_string()).unwrap_or_default()
            ),
            SessionEvent::Closed {
                code,
                reason,
                initiator,
            } => {
                let by = if initiator == Initiator::Local {
                    "client"
                } else {
                    "server"
                };
                json_line!("event": "closed", "code": code.0, "reason": reason, "by": by)
            }
            SessionEvent::Disconnected { reason, retry_in, .. } => json_line!(
                "event": "disconnected",
                "reason": describe(&reason),
                "retry_in_ms": retry_in.map(millis),
            ),
            SessionEvent::Error(error) => json_line!("event": "error", "message": error.to_string()),
            SessionEvent::Pong { rtt, smoothed } => json_line!(
                "event": "pong",
                "rtt_ms": rtt.as_secs_f64() * 1e3,
                "smoothed_ms": smoothed.as_secs_f64() * 1e3,
            ),
            SessionEvent::Sent(id) => json_line!("event": "sent", "id": id.0),
            SessionEvent::HandedBack { id, message, reason } => {
                let why = if reason == HandBackReason::Dropped {
                    "dropped"
                } else {
                    "closed"
                };
                json_line!("event": "handed_back", "id": id.0, "bytes": message.len(), "reason": why)
            }
            SessionEvent::Writable => json_line!("event": "writable"),
            SessionEvent::Redirected { status, to } => {
                json_line!("event": "redirected", "status": status, "url": without_query(&to))
            }
            SessionEvent::Typed(envelope) => json_line!("event": "typed", "type": envelope.ty, "data": envelope.data),
            _ => return None,
        })
    }

    fn message(&mut self, message: &Message) {
        if self.limit_reached() {
            return;
        }
        self.received += 1;
        match message {
            Message::Text(text) => {
                let mut line = Vec::with_capacity(text.len() + 1);
                line.extend_from_slice(text.as_bytes());
                line.push(b'\n');
                self.stdout_line(&line);
            }
            Message::Binary(bytes) if self.options.raw_binary => self.stdout_line(bytes),
            Message::Binary(bytes) => {
                let mut line = hex(bytes).into_bytes();
                line.push(b'\n');
                self.stdout_line(&line);
            }
        }
    }

    fn stdout_line(&mut self, bytes: &[u8]) {
        self.status.clear();
        let mut out = std::io::stdout().lock();
        // A closed stdout (a pipe into `head`) ends the client with a clean close.
        if out.write_all(bytes).and_then(|()| out.flush()).is_err() {
            self.stdout_gone = true;
        }
        drop(out);
        if !self.options.json {
            self.tick_if_waiting();
        }
    }

    fn tick_if_waiting(&mut self) {
        if self.retry.is_some() {
            self.tick();
        }
    }

    fn status_line(&mut self, style: Style, text: &str) {
        if self.options.quiet || self.options.json {
            return;
        }
        self.status.clear();
        self.retry = None;
        eprintln!("{}", self.paint.paint(style, text));
    }

    /// Reports how the session ended and returns the exit status: 0 after a close we asked
    /// for or a normal close by the server, 1 when the connection failed for good.
    pub fn finish(&mut self, state: &SessionState) -> ExitCode {
        self.status.clear();
        self.retry = None;
        let SessionState::Closed(reason) = state else {
            eprintln!(
                "{}",
                self.paint.paint(Style::Red, "resock: the client ended without closing")
            );
            return ExitCode::FAILURE;
        };
        let (ok, why) = outcome(reason);
        if ok {
            return ExitCode::SUCCESS;
        }
        // Errors are reported even with --quiet and --json-events.
        eprintln!("{} {why}", self.paint.paint(Style::Red, "resock: error:"));
        ExitCode::FAILURE
    }
}

/// Whether a final state is a success, and a sentence saying why the session ended.
pub fn outcome(reason: &ClosedReason) -> (bool, String) {
    match reason {
        ClosedReason::User => (true, "closed".into()),
        ClosedReason::Fatal(DisconnectReason::ServerClosed { code, .. }) if *code == CloseCode::NORMAL => {
            (true, "closed by the server".into())
        }
        ClosedReason::Fatal(DisconnectReason::UserClosed) => (true, "closed".into()),
        ClosedReason::Fatal(reason) => (false, format!("connection failed: {}", describe(reason))),
        ClosedReason::RetriesExhausted(reason) => (false, format!("gave up reconnecting: {}", describe(reason))),
    }
}

/// A short sentence for a disconnect.
pub fn describe(reason: &DisconnectReason) -> String {
    match reason {
        DisconnectReason::ServerClosed { code, reason } if reason.is_empty() => {
            format!("the server closed with {}", code)
        }
        // The server's own text: quoted, control characters escaped.
        DisconnectReason::ServerClosed { code, reason } => {
            format!("the server closed with {}: {reason:?}", code)
        }
        other => other.to_string(),
    }
}

/// A URL for a status line: its query, which often carries a token, shown as `?…`.
fn without_query(url: &resock::WsUrl) -> String {
    let text = url.to_string();
    match text.split_once('?') {
        Some((before, _)) => format!("{before}?…"),
        None => text,
    }
}

/// `1.25 s` or `250 ms`.
pub fn seconds(duration: Duration) -> String {
    if duration < Duration::from_millis(999) {
        format!("{:.0} ms", duration.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", duration.as_secs_f64())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Lower-case hex without separators.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use resock::core::session::{TransportError, TransportErrorKind};

    #[test]
    fn hex_is_lower_case_pairs() {
        assert_eq!(hex(&[0xde, 0xad, 0x00, 0x0f]), "dead000f");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn outcomes_decide_the_exit_status() {
        assert!(outcome(&ClosedReason::User).0);
        let normal = DisconnectReason::ServerClosed {
            code: CloseCode::NORMAL,
            reason: String::new(),
        };
        assert!(outcome(&ClosedReason::Fatal(normal)).0);
        let refused = DisconnectReason::Transport(TransportError::new(
            TransportErrorKind::Refused,
            "connecting to 127.0.0.1:1: connection refused",
        ));
        let (ok, why) = outcome(&ClosedReason::Fatal(refused.clone()));
        assert!(!ok);
        assert_eq!(why, "connection failed: connecting to 127.0.0.1:1: connection refused");
        let (ok, why) = outcome(&ClosedReason::RetriesExhausted(refused));
        assert!(!ok);
        assert!(why.starts_with("gave up reconnecting: "));
    }

    #[test]
    fn durations_and_codes_read_well() {
        assert_eq!(seconds(Duration::from_millis(250)), "250 ms");
        assert_eq!(seconds(Duration::from_millis(1250)), "1.25 s");
        assert_eq!(CloseCode::GOING_AWAY.to_string(), "1001 (going away)");
        assert_eq!(CloseCode(4000).to_string(), "4000");
    }

    #[test]
    fn retry_delays_are_reported_as_scheduled() {
        let mut reporter = Reporter::new(ReportOptions {
            json: true,
            quiet: true,
            raw_binary: false,
            exit_after: None,
            url: "ws://h/".into(),
        });
        // Read later than they were produced: `until` is already in the past.
        let until = Instant::now();
        let retry_in = Duration::from_millis(250);
        let disconnected = reporter.json_event(SessionEvent::Disconnected {
            reason: DisconnectReason::Reset,
            retry_at: Some(until),
            retry_in: Some(retry_in),
        });
        assert!(disconnected.unwrap().contains(r#""retry_in_ms":250"#));
        let waiting = reporter.json_event(SessionEvent::StateChanged(SessionState::WaitingToRetry {
            until,
            retry_in,
            attempt: 2,
        }));
        assert!(waiting.unwrap().contains(r#""delay_ms":250"#));
    }

    #[test]
    fn the_message_limit_stops_reporting() {
        let mut reporter = Reporter::new(ReportOptions {
            json: true,
            quiet: true,
            raw_binary: false,
            exit_after: Some(1),
            url: "ws://h/".into(),
        });
        assert!(reporter.json_event(SessionEvent::Message(Message::text("a"))).is_some());
        assert!(reporter.limit_reached());
        assert!(reporter.json_event(SessionEvent::Message(Message::text("b"))).is_none());
        assert_eq!(reporter.received(), 1);
    }
}
