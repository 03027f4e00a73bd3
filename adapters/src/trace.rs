//! The `tracing` feature: a span per connection attempt, and events for state changes,
//! reconnects and failures. Drivers hand every session output to a [`Tracer`]; without the
//! feature it is an empty struct and every call compiles to nothing.
//!
//! What is logged never holds credentials: the URL without its query (tokens often ride
//! there) and never a header. Received messages and `Sent` confirmations are not logged (the
//! hot path stays free); use the metrics for counts.

#[cfg(feature = "tracing")]
use resock_core::session::SessionEvent;
use resock_core::session::{Output, SessionState};

/// Logs a session's outputs through `tracing`.
#[derive(Debug, Default)]
pub(crate) struct Tracer {
    /// The span of the current connection attempt.
    #[cfg(feature = "tracing")]
    span: Option<tracing::Span>,
    /// A `Connecting` state, logged inside the attempt's span once its `Connect` names it (the
    /// session reports the state just before asking for the transport).
    #[cfg(feature = "tracing")]
    connecting: Option<SessionState>,
}

impl Tracer {
    /// Call for each output taken from the session, before acting on it; `state` is the
    /// session's state after `poll_output` returned it.
    #[cfg(feature = "tracing")]
    pub(crate) fn on_output(&mut self, output: &Output, state: &SessionState) {
        match output {
            Output::Connect { id, url } => {
                let attempt = match state {
                    SessionState::Connecting { attempt, .. } => *attempt,
                    _ => 0,
                };
                let path = url.path_and_query.split('?').next().unwrap_or("/");
                let span = tracing::info_span!(
                    "resock.connection",
                    transport = id.0,
                    attempt,
                    scheme = url.scheme(),
                    host = %url.host,
                    port = url.port,
                    path,
                );
                if let Some(state) = self.connecting.take() {
                    tracing::info!(parent: &span, state = %state, "state changed");
                }
                tracing::info!(parent: &span, "connecting");
                self.span = Some(span);
            }
            Output::Disconnect { id } => {
                tracing::debug!(parent: self.parent(), transport = id.0, "closing the transport");
            }
            Output::Event(event) => self.on_event(event),
            _ => {}
        }
    }

    /// Without the feature: nothing.
    #[cfg(not(feature = "tracing"))]
    #[inline(always)]
    pub(crate) fn on_output(&mut self, _output: &Output, _state: &SessionState) {}

    #[cfg(feature = "tracing")]
    fn parent(&self) -> Option<tracing::Id> {
        self.span.as_ref().and_then(tracing::Span::id)
    }

    #[cfg(feature = "tracing")]
    fn on_event(&mut self, event: &SessionEvent) {
        if let SessionEvent::StateChanged(state @ SessionState::Connecting { .. }) = event {
            // A new attempt: its span starts with its `Connect`.
            self.span = None;
            self.connecting = Some(state.clone());
            return;
        }
        let parent = self.parent();
        match event {
            SessionEvent::StateChanged(state) => {
                tracing::info!(parent: parent, state = %state, "state changed");
            }
            SessionEvent::Opened { subprotocol, .. } => {
                tracing::info!(parent: parent, subprotocol = subprotocol.as_deref(), "connection open");
            }
            SessionEvent::Disconnected {
                reason,
                retry_in: Some(delay),
                ..
            } => {
                tracing::warn!(parent: parent, reason = %reason, retry_in = ?delay, "disconnected; reconnecting");
            }
            SessionEvent::Disconnected { reason, .. } => {
                tracing::warn!(parent: parent, reason = %reason, "disconnected for good");
            }
            SessionEvent::Closed {
                code,
                reason,
                initiator,
            } => {
                tracing::info!(parent: parent, code = code.0, reason = %reason, initiator = ?initiator, "closed");
            }
            SessionEvent::Error(error) => tracing::warn!(parent: parent, error = %error, "error"),
            SessionEvent::Pong { rtt, smoothed } => {
                tracing::trace!(parent: parent, rtt = ?rtt, smoothed = ?smoothed, "pong");
            }
            SessionEvent::HandedBack { id, reason, .. } => {
                tracing::debug!(parent: parent, id = id.0, reason = ?reason, "message handed back");
            }
            SessionEvent::Redirected { status, to } => {
                // Like the connection span: the URL without its query.
                let path = to.path_and_query.split('?').next().unwrap_or("/");
                tracing::info!(
                    parent: parent,
                    status,
                    scheme = to.scheme(),
                    host = %to.host,
                    port = to.port,
                    path,
                    "redirected"
                );
            }
            _ => {}
        }
    }
}
