//! What `resock serve` tells: a JSON object per event on stdout (`--json-events`) and a status
//! line per event on stderr (unless `-q`), both through bounded [`Printer`]s, so a slow reader
//! of either costs lines, never a connection's progress.

use std::net::SocketAddr;
use std::sync::Arc;

use resock::{Message, Peer, Refusal, RefusalReason, ServerClose, ServerCloseReason};
use serde_json::{Map, Value};

use crate::jsonl::json_line;
use crate::printer::Printer;
use crate::relay::{Counts, Observer, Stopped};
use crate::report::hex;
use crate::term::{Paint, Style};

/// Where the events go.
pub struct Events {
    /// JSON lines on stdout, with `--json-events`.
    pub json: Option<Arc<Printer>>,
    /// Status lines on stderr, unless `-q`.
    pub status: Option<Arc<Printer>>,
    /// Colour of the status lines (only on a terminal).
    pub paint: Paint,
}

impl Events {
    fn status(&self, line: String) {
        if let Some(status) = &self.status {
            status.print(self.paint.paint(Style::Dim, line));
        }
    }

    fn json(&self, line: impl FnOnce() -> String) {
        if let Some(json) = &self.json {
            json.print(line());
        }
    }

    /// A refused connection: the server's refusal hook, so this never blocks (both printers
    /// are bounded and skip lines rather than wait).
    pub fn refused(&self, refusal: &Refusal) {
        let (peer, status, reason) = (refusal.peer_addr, refusal.status, &refusal.reason);
        // The path and Origin are known for a rejection (the request arrived whole).
        let path = refusal.request.as_ref().map(|request| request.path.as_str());
        let origin = refusal.request.as_ref().and_then(|request| request.origin.as_deref());
        let error = match reason {
            RefusalReason::BadRequest(problem) => Some(problem.as_str()),
            _ => None,
        };
        self.json(|| {
            json_line!(
                "event": "refused",
                "peer": peer.to_string(),
                "status": status,
                "reason": reason.name(),
                "path": path,
                "origin": origin,
                "error": error,
            )
        });
        self.status(match (path, reason) {
            (Some(path), RefusalReason::Rejected) => format!(
                "refused {peer} to {path} with {status}: origin {} is not allowed",
                origin.unwrap_or("(none)")
            ),
            _ => format!("refused {peer} with {status}: {reason}"),
        });
    }

    /// A second signal cut the shutdown short.
    pub fn impatient(&self, signal: &str) {
        self.json(|| json_line!("event": "shutdown_cut", "signal": signal));
        self.status(format!(
            "{signal} again: exiting without waiting for the close handshakes"
        ));
    }

    /// The shutdown: what the signal closed and how long it took.
    pub fn stopped(&self, signal: &str, stopped: Stopped, counts: &Counts, addr: SocketAddr) {
        use std::sync::atomic::Ordering::Relaxed;
        let (connections, messages) = (counts.connections.load(Relaxed), counts.messages.load(Relaxed));
        let (going_away, slow) = (counts.going_away.load(Relaxed), counts.slow.load(Relaxed));
        let stats = stopped.stats;
        let refused = refused_by_reason(&stats);
        self.json(|| {
            json_line!(
                "event": "shutdown",
                "signal": signal,
                "open": stopped.open,
                "closed_going_away": going_away,
                "unfinished": stopped.unfinished,
                "connections": connections,
                "messages": messages,
                "slow_consumers": slow,
                "refused": stats.refused,
                "refused_by_reason": refused,
                "dropped_unanswered": stats.dropped,
                "tls_failures": stats.tls_failures,
            )
        });
        self.status(format!(
            "{signal}: stopped listening on {addr}; closed {} open connection(s) with 1001 ({} did not \
             finish within the close timeout); served {connections} connection(s), {messages} message(s), \
             {slow} slow consumer(s) dropped; refused {} connection(s){}{}",
            stopped.open,
            stopped.unfinished,
            stats.refused,
            match stats.dropped {
                0 => String::new(),
                n => format!(" and closed {n} unanswered (too many refusals at once)"),
            },
            match stats.tls_failures {
                0 => String::new(),
                n => format!("; {n} TLS handshake(s) failed"),
            }
        ));
    }
}

impl Observer for Events {
    fn connected(&self, peer: &Peer) {
        let (id, addr, request) = (peer.id(), peer.peer_addr(), peer.request());
        let subprotocol = peer.subprotocol();
        self.json(|| {
            // Header names lower-cased; repeated headers joined with ", " (as HTTP allows).
            let mut joined = Map::new();
            for (name, value) in &request.headers {
                let name = name.to_ascii_lowercase();
                let merged = match joined.get(&name).and_then(Value::as_str) {
                    Some(previous) => format!("{previous}, {value}"),
                    None => value.clone(),
                };
                joined.insert(name, Value::String(merged));
            }
            json_line!(
                "event": "connected",
                "client": id,
                "peer": addr.to_string(),
                "path": request.path,
                "subprotocol": subprotocol,
                // The server's `Sec-WebSocket-Extensions` answer; null when none was agreed.
                "extensions": peer.extensions(),
                "headers": joined,
            )
        });
        self.status(match subprotocol {
            Some(p) => format!("#{id} connected from {addr} to {} (subprotocol {p})", request.path),
            None => format!("#{id} connected from {addr} to {}", request.path),
        });
    }

    fn message(&self, id: u64, message: &Message) {
        self.json(|| match message.as_text() {
            Some(text) => json_line!("event": "message", "client": id, "text": text),
            None => json_line!("event": "message", "client": id, "binary": hex(message.as_bytes())),
        });
    }

    fn disconnected(&self, id: u64, close: &ServerClose) {
        let error = match &close.why {
            ServerCloseReason::Error(e) => Some(e.to_string()),
            _ => None,
        };
        let why = why(&close.why);
        self.json(|| {
            json_line!(
                "event": "disconnected",
                "client": id,
                "opened": true,
                "code": close.code.0,
                "reason": close.reason,
                "why": why,
                "error": error,
            )
        });
        self.status(format!("#{id} disconnected with {}: {}", close.code, close.why));
    }
}

/// The refusals counted per reason, by [`RefusalReason::name`] (only the reasons seen).
fn refused_by_reason(stats: &resock::ServerStats) -> Map<String, Value> {
    let counts = [
        (RefusalReason::HandshakeTimeout, stats.handshake_timeouts),
        (RefusalReason::DecisionTimeout, stats.decision_timeouts),
        (RefusalReason::Full, stats.full),
        (RefusalReason::PerIpLimit, stats.per_ip_limit),
        (RefusalReason::Rejected, stats.rejected),
        (RefusalReason::BadRequest(String::new()), stats.bad_requests),
        (RefusalReason::ShuttingDown, stats.shutting_down),
        (RefusalReason::DecisionPanicked, stats.decision_panics),
    ];
    counts
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(reason, count)| (reason.name().to_owned(), Value::from(count)))
        .collect()
}

/// How a connection ended, as a short kebab-case word.
pub fn why(reason: &ServerCloseReason) -> &'static str {
    match reason {
        ServerCloseReason::Peer => "peer",
        ServerCloseReason::Local => "local",
        ServerCloseReason::HandshakeTimeout => "handshake-timeout",
        ServerCloseReason::DecisionTimeout => "decision-timeout",
        ServerCloseReason::Rejected { .. } => "rejected",
        ServerCloseReason::IdleTimeout => "idle-timeout",
        ServerCloseReason::PongTimeout => "pong-timeout",
        ServerCloseReason::SlowConsumer { .. } => "slow-consumer",
        ServerCloseReason::MemoryBudget => "memory-budget",
        ServerCloseReason::GoingAway => "going-away",
        ServerCloseReason::Error(_) => "error",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_short_kebab_name() {
        let reasons = [
            (ServerCloseReason::Peer, "peer"),
            (ServerCloseReason::IdleTimeout, "idle-timeout"),
            (ServerCloseReason::PongTimeout, "pong-timeout"),
            (ServerCloseReason::MemoryBudget, "memory-budget"),
            (ServerCloseReason::GoingAway, "going-away"),
            (ServerCloseReason::HandshakeTimeout, "handshake-timeout"),
            (
                ServerCloseReason::SlowConsumer {
                    queued_messages: 1,
                    queued_bytes: 2,
                },
                "slow-consumer",
            ),
        ];
        for (reason, name) in reasons {
            assert_eq!(why(&reason), name);
        }
    }
}
