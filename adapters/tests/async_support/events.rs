//! The client side of the async tests: a builder with nothing running on its own, and bounded
//! waits for a subscription's events.

use resock::{ClientBuilder, Subscription};
use resock_core::Message;
use resock_core::session::{HeartbeatConfig, ReconnectPolicy, SessionEvent};

use super::{LIMIT, Runtime, Server};

/// A builder for `url` with no heartbeat and no reconnect, unless a test sets them.
pub fn builder_for_url(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
        .unwrap()
        .heartbeat(HeartbeatConfig::disabled())
        .reconnect(ReconnectPolicy::disabled())
        .open_timeout(LIMIT)
}

/// [`builder_for_url`] for `server`.
pub fn builder(server: &Server) -> ClientBuilder {
    builder_for_url(&server.url())
}

/// The first event matching `wanted`, skipping others, within [`LIMIT`].
pub async fn wait_for<R: Runtime>(
    events: &mut Subscription,
    what: &str,
    mut wanted: impl FnMut(&SessionEvent) -> bool,
) -> SessionEvent {
    R::within(what, async {
        loop {
            let event = events
                .next()
                .await
                .unwrap_or_else(|| panic!("events ended before {what}"))
                .unwrap_or_else(|lagged| panic!("{lagged} before {what}"));
            if wanted(&event) {
                return event;
            }
        }
    })
    .await
}

/// The negotiated subprotocol, once the connection opened.
pub async fn opened<R: Runtime>(events: &mut Subscription) -> Option<String> {
    match wait_for::<R>(events, "the connection to open", |e| {
        matches!(e, SessionEvent::Opened { .. })
    })
    .await
    {
        SessionEvent::Opened { subprotocol, .. } => subprotocol,
        _ => unreachable!(),
    }
}

/// The next data message.
pub async fn next_message<R: Runtime>(events: &mut Subscription) -> Message {
    match wait_for::<R>(events, "a message", |e| matches!(e, SessionEvent::Message(_))).await {
        SessionEvent::Message(message) => message,
        _ => unreachable!(),
    }
}
