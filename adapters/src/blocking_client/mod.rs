//! A blocking client that stays connected: the [`Session`] of `resock-core` driven on
//! `std::net` by the thread that owns the [`Client`], plus a thread-safe [`Sender`].
//!
//! ```no_run
//! use resock::ClientBuilder;
//! use resock::core::session::SessionEvent;
//!
//! let mut client = ClientBuilder::new("ws://127.0.0.1:9001/chat").unwrap().connect_blocking().unwrap();
//! client.send_text("hello").unwrap();
//! while let Some(event) = client.next_event() {
//!     match event {
//!         SessionEvent::Message(message) => println!("{message:?}"),
//!         SessionEvent::StateChanged(state) => println!("now {state}"),
//!         _ => {}
//!     }
//! }
//! ```
//!
//! # How it runs
//! Nothing happens in the background: every call that drives IO (`next_event`, `recv`,
//! `send` while the queue is full, `close`) runs the session's loop on the calling thread.
//! It opens transports when the session asks (DNS, TCP and TLS on the calling thread, bounded
//! by the open timeout), writes what the session transmits, and otherwise blocks in one socket
//! read whose timeout is the session's next deadline; between attempts it waits only until
//! the retry time. `send`, `try_send` and `close` also write what is ready at once.
//! So heartbeats, reconnects and the answer to a server's close happen only while some call
//! is driving: an application that stops calling for longer than the pong timeout will find
//! the connection failed and reconnected (nothing queued is lost). Keep a thread in
//! `next_event`/`recv`, or use the async client, whose driver runs on its own.
//!
//! # Bounds
//! Reading stops while the event buffer holds its capacity
//! ([`ClientBuilder::event_capacity`]); events decoded from bytes already read may exceed it
//! by what one read returned. When the buffer is full, informational events (`Sent`, `Pong`,
//! `Writable`) are discarded and counted in [`Client::dropped_events`]. Reads are 64 KiB.

mod driver;
mod sender;

pub use sender::{SENDER_POLL, Sender};

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use resock_core::session::{
    HandedBack, MessageId, Rtt, Session, SessionEvent, SessionSendError, SessionState, TransportError,
    TransportErrorKind, TransportId,
};
use resock_core::{CloseCode, Message};

#[cfg(feature = "json")]
use resock_core::typed::JsonEnvelope;

#[cfg(feature = "json")]
use crate::TypedSendError;
use crate::net::{Stream, TlsConfig};
use crate::{ClientBuilder, SendError};
use sender::Shared;

/// How long [`Client::send`] waits for room in a full queue by default.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The transport of the current attempt.
#[derive(Debug)]
struct Transport {
    id: TransportId,
    stream: Stream,
    /// False after EOF or a read error.
    readable: bool,
    /// False after a write error.
    writable: bool,
}

/// A WebSocket client that stays connected, driven by the thread that owns it.
///
/// Created by [`ClientBuilder::connect_blocking`]. Dropping it closes the session with 1000,
/// waiting at most the close timeout.
#[derive(Debug)]
pub struct Client {
    session: Session,
    transport: Option<Transport>,
    /// The TLS configuration for `wss://`, or why there is none.
    tls: Result<Option<TlsConfig>, TransportError>,
    #[cfg(feature = "json")]
    envelope: Option<resock_core::typed::JsonEnvelope>,
    events: VecDeque<SessionEvent>,
    capacity: usize,
    handed_back: VecDeque<HandedBack>,
    handed_back_capacity: usize,
    dropped_events: u64,
    out: Vec<u8>,
    shared: Arc<Shared>,
    send_timeout: Duration,
    hooks: crate::hooks::Hooks,
}

impl ClientBuilder {
    /// Starts a blocking client: the session starts connecting, and the first call that
    /// drives IO opens the connection (see [`blocking_client`](crate::blocking_client)).
    ///
    /// Fails, before anything connects, when a setting can never work
    /// ([`validate`](ClientBuilder::validate)).
    pub fn connect_blocking(self) -> Result<Client, resock_core::ConfigError> {
        self.validate()?;
        let tls = if self.config.url.secure {
            tls_config(&self).map(Some)
        } else {
            Ok(None)
        };
        let ClientBuilder {
            config,
            event_capacity,
            hooks,
            ..
        } = self;
        // The client decodes with the envelope itself, so `recv` and the router see raw text.
        #[cfg(feature = "json")]
        let (envelope, config) = {
            let mut config = config;
            (config.envelope.take(), config)
        };
        let handed_back_capacity = config.queue.max_messages.max(event_capacity);
        let inbox_capacity = config.queue.max_messages.clamp(1, 1024);
        let now = Instant::now();
        let mut session = Session::new(config, crate::os_seed(), now);
        session.connect(now);
        Ok(Client {
            session,
            transport: None,
            tls,
            #[cfg(feature = "json")]
            envelope,
            events: VecDeque::new(),
            capacity: event_capacity,
            handed_back: VecDeque::new(),
            handed_back_capacity,
            dropped_events: 0,
            out: Vec::new(),
            shared: Shared::new(inbox_capacity),
            send_timeout: DEFAULT_SEND_TIMEOUT,
            hooks,
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

    /// Whether the session is closed for good (no more reconnects).
    pub fn is_closed(&self) -> bool {
        matches!(self.session.state(), SessionState::Closed(_))
    }

    /// The session, for its other getters (queue length, buffered bytes, failures).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Informational events discarded because the event buffer was full, plus handed-back
    /// messages discarded from a full hand-back list.
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events
    }

    /// How long [`send`](Self::send) waits for room in a full queue.
    pub fn send_timeout(&self) -> Duration {
        self.send_timeout
    }

    /// Sets how long [`send`](Self::send) (and senders made afterwards) wait for room.
    pub fn set_send_timeout(&mut self, timeout: Duration) {
        self.send_timeout = timeout;
    }

    /// A handle for sending from other threads.
    pub fn sender(&self) -> Sender {
        Sender::new(Arc::clone(&self.shared), self.send_timeout)
    }

    /// Queues `message` and writes what is ready. While the queue is full it drives IO until
    /// there is room, for at most [`send_timeout`](Self::send_timeout); then the message
    /// comes back in [`SendError::TimedOut`].
    pub fn send(&mut self, message: Message) -> Result<MessageId, SendError> {
        let deadline = resock_core::saturating_later(Instant::now(), self.send_timeout);
        let mut message = message;
        loop {
            match self.session.send(message) {
                Ok(id) => {
                    self.pump(false);
                    return Ok(id);
                }
                Err(SessionSendError::QueueFull(refused)) => {
                    if Instant::now() >= deadline {
                        return Err(SendError::TimedOut(refused));
                    }
                    message = refused;
                    self.pump(false);
                    if !self.is_closed() {
                        let read = self.events.len() < self.capacity;
                        self.wait(Some(deadline), read);
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
        self.pump(false);
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
        let message = encode_typed(self.envelope.as_ref(), ty, data)?;
        Ok(self.send(message)?)
    }

    /// Drives IO until the next event; `None` once the session is closed for good and every
    /// event was delivered. With an envelope on the builder, text messages arrive as
    /// [`SessionEvent::Typed`] (or a decode [`SessionEvent::Error`]).
    pub fn next_event(&mut self) -> Option<SessionEvent> {
        self.next_event_until(None)
    }

    /// Like [`next_event`](Self::next_event), but also `None` when `timeout` passes first
    /// ([`is_closed`](Self::is_closed) tells the two apart).
    pub fn next_event_timeout(&mut self, timeout: Duration) -> Option<SessionEvent> {
        self.next_event_until(Some(resock_core::saturating_later(Instant::now(), timeout)))
    }

    /// Drives IO until the next data message, as received (never decoded with the envelope);
    /// `None` once closed for good. Other events are skipped, except that handed-back
    /// messages are kept for [`take_handed_back`](Self::take_handed_back).
    pub fn recv(&mut self) -> Option<Message> {
        loop {
            match self.next_raw_event(None)? {
                SessionEvent::Message(message) => return Some(message),
                other => self.keep_handed_back(other),
            }
        }
    }

    /// Messages handed back unsent whose events [`recv`](Self::recv) or
    /// [`run_router`](Self::run_router) skipped, oldest first. At most the larger of the
    /// queue's message bound and the event capacity are kept.
    pub fn take_handed_back(&mut self) -> Vec<HandedBack> {
        self.handed_back.drain(..).collect()
    }

    /// Closes for good: queued messages are written, then the close handshake runs, for at
    /// most the close timeout (then the transport is dropped). Returns whether the session
    /// reached its closed state within that bound. Events (the close, handed-back messages)
    /// stay available from [`next_event`](Self::next_event); to make room for them in a
    /// full event buffer the oldest events other than hand-backs are discarded and counted.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> bool {
        let start = Instant::now();
        let deadline = start + self.session.config().close_timeout + CLOSE_SLACK;
        self.session.close(start, code, reason);
        loop {
            self.pump(true);
            if self.is_closed() {
                break;
            }
            if Instant::now() >= deadline {
                self.abandon_transport("the close handshake did not finish in time");
                self.pump(true);
                break;
            }
            self.wait(Some(deadline), true);
        }
        self.shared.close();
        self.is_closed()
    }

    /// Reads events until the session is closed for good, dispatching each data message to
    /// `router` with this client as the handlers' context (so they can reply). Messages that
    /// do not decode, and decode errors, go to `on_error`; handed-back messages are kept for
    /// [`take_handed_back`](Self::take_handed_back); other events are skipped.
    #[cfg(feature = "json")]
    pub fn run_router(
        &mut self,
        router: &mut resock_core::typed::Router<Client>,
        mut on_error: impl FnMut(&mut Client, resock_core::typed::DecodeError),
    ) {
        while let Some(event) = self.next_raw_event(None) {
            match event {
                SessionEvent::Message(message) => {
                    if let Err(error) = router.dispatch(self, &message) {
                        on_error(self, error);
                    }
                }
                other => self.keep_handed_back(other),
            }
        }
    }

    fn next_event_until(&mut self, until: Option<Instant>) -> Option<SessionEvent> {
        let event = self.next_raw_event(until)?;
        #[cfg(feature = "json")]
        if let (SessionEvent::Message(message), Some(envelope)) = (&event, &self.envelope) {
            return Some(match envelope.decode_envelope(message) {
                Ok(typed) => SessionEvent::Typed(typed),
                Err(error) => SessionEvent::Error(resock_core::session::Error::Decode(error)),
            });
        }
        Some(event)
    }

    /// The next event as the session emitted it (data messages never decoded).
    fn next_raw_event(&mut self, until: Option<Instant>) -> Option<SessionEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                crate::release_if_drained(&mut self.events);
                return Some(event);
            }
            self.pump(false);
            if !self.events.is_empty() {
                continue;
            }
            if self.is_closed() || until.is_some_and(|u| Instant::now() >= u) {
                return None;
            }
            self.wait(until, true);
        }
    }

    fn keep_handed_back(&mut self, event: SessionEvent) {
        if let SessionEvent::HandedBack { id, message, reason } = event {
            if self.handed_back.len() >= self.handed_back_capacity {
                self.handed_back.pop_front();
                self.dropped_events += 1;
            }
            self.handed_back.push_back(HandedBack { id, message, reason });
        }
    }
}

/// Encodes `data` in `envelope` (or the default one) with the current time.
///
/// This crate does not depend on serde, so it cannot name `Serialize`: the data goes through
/// core's plain JSON codec, is read back as a JSON value inside a throwaway envelope, and the
/// configured envelope writes the message (its field order, names and checks).
#[cfg(feature = "json")]
fn encode_typed<T: serde::Serialize + ?Sized>(
    envelope: Option<&JsonEnvelope>,
    ty: &str,
    data: &T,
) -> Result<Message, resock_core::typed::EncodeError> {
    let at = Some(std::time::SystemTime::now());
    match envelope {
        Some(envelope) => envelope.encode(ty, data, at),
        None => JsonEnvelope::default().encode(ty, data, at),
    }
}

/// Extra time `close` allows beyond the session's close timeout before dropping the transport.
const CLOSE_SLACK: Duration = Duration::from_millis(250);

impl Drop for Client {
    fn drop(&mut self) {
        if !self.is_closed() {
            self.close(CloseCode::NORMAL, "");
        }
        self.shared.close();
    }
}
