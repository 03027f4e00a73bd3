//! Per-connection hooks: values an application computes afresh for each attempt (an auth
//! token) or each open (the subscriptions a feed needs again). Drivers run them with no lock
//! held, so a hook may call the client.

use std::sync::Arc;

use resock_core::Message;
use resock_core::session::{Session, TransportId};

type HeadersHook = Arc<dyn Fn(u32) -> Vec<(String, String)> + Send + Sync>;
type OpenMessagesHook = Arc<dyn Fn() -> Vec<Message> + Send + Sync>;

/// The hooks a [`ClientBuilder`](crate::ClientBuilder) collected.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    headers: Option<HeadersHook>,
    open_messages: Option<OpenMessagesHook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("headers", &self.headers.is_some())
            .field("open_messages", &self.open_messages.is_some())
            .finish()
    }
}

/// What the hooks returned for one attempt, to hand to the session.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    headers: Option<Vec<(String, String)>>,
    open_messages: Option<Vec<Message>>,
}

impl Hooks {
    pub(crate) fn set_headers(&mut self, hook: impl Fn(u32) -> Vec<(String, String)> + Send + Sync + 'static) {
        self.headers = Some(Arc::new(hook));
    }

    pub(crate) fn set_open_messages(&mut self, hook: impl Fn() -> Vec<Message> + Send + Sync + 'static) {
        self.open_messages = Some(Arc::new(hook));
    }

    /// Whether any hook is set (drivers skip the unlock/relock dance otherwise).
    pub(crate) fn any(&self) -> bool {
        self.headers.is_some() || self.open_messages.is_some()
    }

    /// Runs the hooks for attempt number `attempt` (from 1). Call it with no lock held.
    pub(crate) fn prepare(&self, attempt: u32) -> Prepared {
        Prepared {
            headers: self.headers.as_ref().map(|hook| hook(attempt)),
            open_messages: self.open_messages.as_ref().map(|hook| hook()),
        }
    }
}

impl Prepared {
    /// Gives the results to the session for transport `id`, before `Connected` is reported.
    pub(crate) fn apply(self, session: &mut Session, id: TransportId) {
        if let Some(headers) = self.headers {
            session.set_attempt_headers(id, headers);
        }
        if let Some(messages) = self.open_messages {
            session.set_open_messages(messages);
        }
    }
}
