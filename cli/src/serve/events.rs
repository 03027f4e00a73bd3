//! What `resock serve` tells: a JSON object per event on stdout (`--json-events`) and a status
//! line per event on stderr (unless `-q`), both through bounded [`Printer`]s, so a slow reader
//! of either costs lines, never a connection's progress.

use std::net::SocketAddr;
use std::sync::Arc;

use resock::{Message, Peer, RequestInfo, ServerClose, ServerCloseReason};
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

    /// A request the decision refused with `status`.
    pub fn refused(&self, request: &RequestInfo, status: u16) {
        let peer = request.peer_addr();
        let origin = request.origin();
        self.json(|| {
            json_line!(
                "event": "refused",
                "peer": peer.to_string(),
                "path": request.path(),
                "origin": origin,
                "status": status,
            )
        });
        let origin = origin.unwrap_or("(none)");
        self.status(format!(
            "refused {peer} to {}: origin {origin} is not allowed ({status})",
            request.path()
        ));
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
            )
        });
        self.status(format!(
            "{signal}: stopped listening on {addr}; closed {} open connection(s) with 1001 ({} did not \
             finish within the close timeout); served {connections} connection(s), {messages} message(s), \
             {slow} slow consumer(s) dropped",
            stopped.open, stopped.unfinished
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
                // resock's `Peer` does not tell the agreed extensions (yet): null, not a guess.
                "extensions": Value::Null,
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
