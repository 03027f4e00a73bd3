//! Loopback servers and helpers shared by the driver tests: a tungstenite server thread for
//! `ws://` ([`ws_server`]) and its TLS twin with a test PKI made by rcgen ([`tls_server`]).
//! Each test file includes this module with `mod support;` and uses what it needs.

#![allow(dead_code)]

#[cfg(feature = "blocking")]
#[macro_use]
pub mod runtimes;
pub mod ws_server;

#[cfg(feature = "rustls")]
pub mod tls_client;
#[cfg(feature = "rustls")]
pub mod tls_server;

use std::time::Duration;
#[cfg(feature = "blocking")]
use std::time::Instant;

#[cfg(feature = "blocking")]
use resock::blocking_client::Client;
#[cfg(feature = "blocking")]
use resock::core::session::SessionEvent;

/// How long a test waits for something that should happen in milliseconds on loopback.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Drives `client` until an event matches `want`, returning it; panics with the events seen
/// when `PATIENCE` passes or the session closes first.
#[cfg(feature = "blocking")]
pub fn expect_event(client: &mut Client, what: &str, mut want: impl FnMut(&SessionEvent) -> bool) -> SessionEvent {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_event_timeout(left) {
            Some(event) if want(&event) => return event,
            Some(event) => seen.push(format!("{event:?}")),
            None => panic!(
                "no {what} (closed: {}, state: {}); events seen: {seen:#?}",
                client.is_closed(),
                client.state()
            ),
        }
        assert!(seen.len() < 100_000, "runaway event stream while waiting for {what}");
    }
}

/// Drives `client` until it is open.
#[cfg(feature = "blocking")]
pub fn expect_open(client: &mut Client) -> Option<String> {
    match expect_event(client, "Opened", |e| matches!(e, SessionEvent::Opened { .. })) {
        SessionEvent::Opened { subprotocol, .. } => subprotocol,
        _ => unreachable!(),
    }
}
