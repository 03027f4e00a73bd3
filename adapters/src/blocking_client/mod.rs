//! A blocking client that stays connected: the [`Session`] of `resock-core` driven on
//! `std::net` by the thread that owns the [`Client`], plus a thread-safe [`Sender`] and
//! [`Subscription`]s for other threads.
//!
//! ```no_run
//! use resock::ClientBuilder;
//!
//! let mut client = ClientBuilder::new("ws://127.0.0.1:9001/chat").unwrap().connect_blocking().unwrap();
//! client.connected()?;
//! client.send_text("hello").unwrap();
//! loop {
//!     let message = client.recv()?; // Err(reason) once closed for good
//!     println!("{message:?}");
//! }
//! # Ok::<(), resock::core::session::ClosedReason>(())
//! ```
//!
//! # How it runs
//! Nothing happens in the background: every call that drives IO (`recv`, `next_event`,
//! `connected`, `send` while the queue is full, `close`) runs the session's loop on the
//! calling thread. It opens transports when the session asks (DNS, TCP and TLS on the calling
//! thread, bounded by the open timeout), writes what the session transmits (waiting for a full
//! socket at most 30 s), and otherwise waits on one poller for the socket, the session's next
//! deadline and the senders together: an idle client sleeps until one of them has something,
//! and a [`Sender`]'s message or close is taken at once. `send`, `try_send` and `close` also
//! write what is ready at once. So heartbeats, reconnects and the answer to a server's close
//! happen only while some call is driving: an application that stops calling for longer than
//! the pong timeout will find the connection failed and reconnected (nothing queued is lost).
//! Keep a thread in `recv`/`next_event`, or use the async client, whose driver runs on its own.
//!
//! In a simulated world (feature `sim`: `ClientBuilder::connect_blocking_sim`) the same client
//! opens the world's in-memory connections, reads its virtual clock, and runs the world where
//! it would otherwise wait (see `resock::sim`).
//!
//! # Who sees what
//! * [`recv`](Client::recv) takes data messages, as received, from the recv buffer (bounded by
//!   [`ClientBuilder::recv_capacity`]). They must not be lost: once `recv` was called, a full
//!   buffer stops reading from the socket while the connection is open (backpressure to the
//!   server; the heartbeat does not count the pause against it), so the buffer may exceed its
//!   bound only by the messages of one read (64 KiB). Until the first `recv`, it keeps the
//!   latest messages and drops older ones; while the application closes, a full buffer drops
//!   what still arrives. Both are counted in [`Metrics::messages_dropped`].
//! * [`next_event`](Client::next_event) is the owner's view of every event, messages included
//!   (as received, also with an envelope: a router decodes them), and each
//!   [`subscribe`](Client::subscribe) gives another thread the same. They share one buffer of
//!   [`ClientBuilder::event_capacity`] events that never stops reading: a listener that falls
//!   behind skips ahead (a subscription is told how many it missed), counted in
//!   [`Metrics::events_skipped`]. `recv` and the listeners never take events from each other.

mod driver;
mod io;
mod receive;
mod sender;
mod socket;
mod subscription;

pub use sender::Sender;
pub use subscription::Subscription;

pub(crate) use io::Io;

use std::sync::Arc;
use std::time::Duration;

use resock_core::session::{
    MessageId, Metrics, Rtt, Session, SessionSendError, SessionState, TransportError, TransportErrorKind, TransportId,
};
use resock_core::{CloseCode, Message};

#[cfg(feature = "json")]
use resock_core::typed::JsonEnvelope;

#[cfg(feature = "json")]
use crate::TypedSendError;
use crate::broadcast::Cursor;
use crate::clock::Clock;
use crate::net::TlsConfig;
use crate::{ClientBuilder, SendError};
use io::Socket;
use receive::Inbox;
use sender::Shared;
use subscription::Hub;

/// How long [`Client::send`] waits for room in a full queue by default.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The transport of the current attempt.
#[derive(Debug)]
struct Transport {
    id: TransportId,
    socket: Socket,
    /// False after EOF or a read error.
    readable: bool,
    /// False after a write error.
    writable: bool,
    /// Data may be waiting: true after the poller said so (and at the start), false once a
    /// read found nothing. TLS may hold decrypted bytes the socket no longer shows.
    maybe_readable: bool,
}

/// A WebSocket client that stays connected, driven by the thread that owns it.
///
/// Created by [`ClientBuilder::connect_blocking`]. Dropping it closes the session with 1000,
/// waiting at most the close timeout.
#[derive(Debug)]
pub struct Client {
    session: Session,
    transport: Option<Transport>,
    /// Where transports and time come from: the OS, or a simulated world.
    io: Io,
    /// The clock of `io`, read for every `now` and deadline.
    clock: Clock,
    /// Received data messages for `recv`.
    inbox: Inbox,
    /// Events for `next_event` and every subscription.
    hub: Arc<Hub>,
    /// The owner's place in `hub`.
    cursor: Cursor,
    /// Whether the socket is read (false while `recv`'s buffer is full).
    reading: bool,
    out: Vec<u8>,
    shared: Arc<Shared>,
    send_timeout: Duration,
    hooks: crate::hooks::Hooks,
    tracer: crate::trace::Tracer,
}

impl ClientBuilder {
    /// Starts a blocking client: the session starts connecting, and the first call that
    /// drives IO opens the connection (see [`blocking_client`](crate::blocking_client)).
    ///
    /// Fails, before anything connects, when a setting can never work
    /// ([`validate`](ClientBuilder::validate)).
    pub fn connect_blocking(self) -> Result<Client, resock_core::ConfigError> {
        self.validate()?;
        let proxy = crate::proxy::ProxyPlan::new(&self.proxy, true);
        let tls = if self.config.url.secure || proxy.may_use_tls() {
            tls_config(&self).map(Some)
        } else {
            Ok(None)
        };
        let (poller, poller_error) = match polling::Poller::new() {
            Ok(poller) => (Some(Arc::new(poller)), None),
            Err(e) => (None, Some(crate::net::transport_error("creating the poller", &e))),
        };
        self.build_blocking(
            Io::Os {
                tls,
                poller_error,
                proxy,
            },
            poller,
            crate::os_seed(),
        )
    }

    /// A blocking client on `io`, its session seeded with `seed`; `poller` wakes the owner
    /// when a sender hands something in (none in a simulated world). The builder was validated.
    pub(crate) fn build_blocking(
        self,
        io: Io,
        poller: Option<Arc<polling::Poller>>,
        seed: [u8; 32],
    ) -> Result<Client, resock_core::ConfigError> {
        let ClientBuilder {
            config,
            event_capacity,
            recv_capacity,
            hooks,
            ..
        } = self;
        // The client decodes with the envelope itself, so `recv` and the router see raw text.
        #[cfg(feature = "json")]
        let (envelope, config) = {
            let mut config = config;
            (config.envelope.take().unwrap_or_default(), config)
        };
        let sender_capacity = config.queue.max_messages.clamp(1, 1024);
        let clock = io.clock();
        let hub = Hub::new(event_capacity, clock.clone());
        let cursor = hub.subscribe();
        let now = clock.now();
        let mut session = Session::new(config, seed, now);
        session.connect(now);
        Ok(Client {
            session,
            transport: None,
            io,
            clock: clock.clone(),
            inbox: Inbox::new(recv_capacity),
            hub,
            cursor,
            reading: true,
            out: Vec::new(),
            shared: Shared::new(
                sender_capacity,
                poller,
                clock,
                #[cfg(feature = "json")]
                envelope,
            ),
            send_timeout: DEFAULT_SEND_TIMEOUT,
            hooks,
            tracer: Default::default(),
        })
    }
}

#[cfg(feature = "rustls")]
fn tls_config(builder: &ClientBuilder) -> Result<TlsConfig, TransportError> {
    builder
        .tls
        .client_config()
        .map_err(|e| TransportError::new(TransportErrorKind::TlsCertificate, format!("TLS configuration: {e}")))
}

#[cfg(not(feature = "rustls"))]
fn tls_config(_: &ClientBuilder) -> Result<TlsConfig, TransportError> {
    Err(TransportError::new(
        TransportErrorKind::TlsCertificate,
        "wss:// needs the rustls feature, which this build does not include",
    ))
}

impl Client {
    /// The session state.
    pub fn state(&self) -> &SessionState {
        self.session.state()
    }

    /// Latest and smoothed heartbeat round-trip times, once a pong arrived.
    pub fn rtt(&self) -> Option<Rtt> {
        self.session.rtt()
    }

    /// The subprotocol the server agreed for the connection now open (one of those offered
    /// with [`ClientBuilder::subprotocol`](crate::ClientBuilder::subprotocol)); `None` while
    /// no connection is open or when the server agreed none. Each reconnect asks again.
    pub fn subprotocol(&self) -> Option<&str> {
        self.session.subprotocol()
    }

    /// permessage-deflate as agreed for the connection now open; `None` while no connection
    /// is open or when its messages go uncompressed.
    pub fn deflate(&self) -> Option<resock_core::DeflateParams> {
        self.session.deflate()
    }

    /// Whether the session is closed for good (no more reconnects).
    pub fn is_closed(&self) -> bool {
        matches!(self.session.state(), SessionState::Closed(_))
    }

    /// The session, for its other getters (queue length, buffered bytes, failures).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session's counters, with what this client dropped or skipped: events listeners
    /// missed by falling behind (`events_skipped`, counted as each listener learns of it) and
    /// received messages `recv`'s buffer dropped (`messages_dropped`).
    pub fn metrics(&self) -> Metrics {
        let mut metrics = self.session.metrics();
        metrics.events_skipped = self.hub.skipped();
        metrics.messages_dropped = self.inbox.dropped();
        metrics
    }

    /// How long [`send`](Self::send) waits for room in a full queue.
    pub fn send_timeout(&self) -> Duration {
        self.send_timeout
    }

    /// Sets how long [`send`](Self::send) (and senders made afterwards) wait for room.
    pub fn set_send_timeout(&mut self, timeout: Duration) {
        self.send_timeout = timeout;
    }

    /// A handle for sending (and closing) from other threads.
    pub fn sender(&self) -> Sender {
        Sender::new(Arc::clone(&self.shared), self.send_timeout)
    }

    /// Every event from now on, for another thread (see [`Subscription`]).
    pub fn subscribe(&self) -> Subscription {
        Subscription::new(Arc::clone(&self.hub))
    }

    /// Queues `message` and writes what is ready. While the queue is full it drives IO until
    /// there is room, for at most [`send_timeout`](Self::send_timeout); then the message
    /// comes back in [`SendError::TimedOut`].
    pub fn send(&mut self, message: Message) -> Result<MessageId, SendError> {
        let deadline = resock_core::saturating_later(self.clock.now(), self.send_timeout);
        let mut message = message;
        loop {
            match self.session.send(message) {
                Ok(id) => {
                    self.pump();
                    return Ok(id);
                }
                Err(SessionSendError::QueueFull(refused)) => {
                    if self.clock.now() >= deadline {
                        return Err(SendError::TimedOut(refused));
                    }
                    message = refused;
                    self.pump();
                    if !self.is_closed() {
                        self.wait(Some(deadline));
                    }
                }
                Err(refused) => return Err(refused.into()),
            }
        }
    }

    /// Queues `message` without waiting for room: a full queue hands it back at once in
    /// [`SendError::Full`]. It still writes what is ready, and opens a connection the
    /// session asked for.
    pub fn try_send(&mut self, message: Message) -> Result<MessageId, SendError> {
        let id = self.session.send(message)?;
        self.pump();
        Ok(id)
    }

    /// Sends a text message; see [`send`](Self::send).
    pub fn send_text(&mut self, text: impl Into<String>) -> Result<MessageId, SendError> {
        self.send(Message::text(text))
    }

    /// Sends a binary message; see [`send`](Self::send).
    pub fn send_binary(&mut self, data: impl Into<resock_core::Bytes>) -> Result<MessageId, SendError> {
        self.send(Message::binary(data))
    }

    /// Sends `{"type": ty, "data": data, "timestamp": now}` in the builder's JSON envelope
    /// (or the default one); see [`send`](Self::send). `T` is any `serde::Serialize` type.
    #[cfg(feature = "json")]
    pub fn send_typed<T: serde::Serialize + ?Sized>(
        &mut self,
        ty: &str,
        data: &T,
    ) -> Result<MessageId, TypedSendError> {
        let message = encode_typed(self.shared.envelope(), ty, data, &self.clock)?;
        Ok(self.send(message)?)
    }

    /// Closes for good: queued messages are written, then the close handshake runs, for at
    /// most the close timeout (then the transport is dropped). Returns whether the session
    /// reached its closed state within that bound. Events (the close, handed-back messages)
    /// stay available from [`next_event`](Self::next_event) and subscriptions, and `recv`
    /// returns what it still holds, then the reason.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> bool {
        let start = self.clock.now();
        let deadline =
            resock_core::saturating_later(start, self.session.config().close_timeout.saturating_add(CLOSE_SLACK));
        self.inbox.closing = true;
        self.session.close(start, code, reason);
        loop {
            self.pump();
            if self.is_closed() {
                break;
            }
            if self.clock.now() >= deadline {
                self.abandon_transport("the close handshake did not finish in time");
                self.pump();
                break;
            }
            self.wait(Some(deadline));
        }
        self.is_closed()
    }
}

/// Encodes `data` in `envelope` with the current time on `clock`.
#[cfg(feature = "json")]
pub(super) fn encode_typed<T: serde::Serialize + ?Sized>(
    envelope: &JsonEnvelope,
    ty: &str,
    data: &T,
    clock: &Clock,
) -> Result<Message, resock_core::typed::EncodeError> {
    envelope.encode(ty, data, Some(clock.wall()))
}

/// Extra time `close` allows beyond the session's close timeout before dropping the transport.
const CLOSE_SLACK: Duration = Duration::from_millis(250);

impl Drop for Client {
    fn drop(&mut self) {
        if !self.is_closed() {
            self.close(CloseCode::NORMAL, "");
        }
        self.shared.close();
        self.hub.end();
    }
}
