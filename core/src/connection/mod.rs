//! One transport lifetime of a WebSocket: opening handshake, frames, messages, close.
//!
//! See [`Connection`] for the contract and the polling order.

mod closing;
mod decode;
#[cfg(all(test, feature = "deflate"))]
mod deflate_tests;
mod receive;
#[cfg(test)]
mod receive_bound_tests;
mod send;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::close::{CloseCode, fit_close_reason};
use crate::config::Config;
use crate::error::{ConnectionError, ProtocolError};
#[cfg(feature = "deflate")]
use crate::extension::compress::Compressor;
use crate::frame::{MAX_HEADER_LEN, Role};
use crate::handshake::{
    Accepted, ClientHandshake, ClientOptions, HandshakeError, Request, ServerHandshake,
    accept_response_with_extensions, reject_response,
};
use crate::message::Message;
use crate::rng::Rng;
use crate::url::WsUrl;
use crate::utf8::Utf8Validator;

use decode::Decoded;
use receive::Receiver;

/// Most pongs waiting for `poll_transmit`; older ones are dropped first (RFC 6455 §5.5.3).
pub const MAX_PENDING_PONGS: usize = 16;

/// Something the driver observed on the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input<'a> {
    /// Bytes read from the transport, in order. Any chunking is fine.
    Data(&'a [u8]),
    /// The peer closed its side of the transport (read returned 0).
    Eof,
    /// Reading or writing failed; the transport is gone. The text says why.
    TransportError(&'a str),
}

/// Who started the close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    /// This endpoint: a `close` call, a protocol failure we detected, or a timeout.
    Local,
    /// The peer: its close frame, or the transport ending under us.
    Remote,
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// The connection close code of RFC 6455 §7.1.5: the code of the first close frame received,
    /// 1005 if it had none, 1006 if no close frame was received.
    pub code: CloseCode,
    /// The reason of the first close frame received, if any.
    pub reason: String,
    /// Who started the close.
    pub initiator: Initiator,
    /// True when close frames went both ways (§7.1.4 "cleanly").
    pub clean: bool,
    /// Set when the connection ended because of an error.
    pub error: Option<ConnectionError>,
}

/// What the connection reports to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Server role: a valid opening request arrived; answer with [`Connection::accept`] or
    /// [`Connection::reject`].
    Request(Request),
    /// The opening handshake completed; messages may flow.
    Opened(Accepted),
    /// A whole data message.
    Message(Message),
    /// The peer pinged us; the pong is sent automatically.
    Ping(Bytes),
    /// The peer sent a pong (solicited or not).
    Pong(Bytes),
    /// The peer's close frame arrived; our reply, if needed, is queued.
    CloseReceived {
        /// The code it carried (1005 when none).
        code: CloseCode,
        /// The reason it carried.
        reason: String,
    },
    /// The connection is over: flush [`Connection::poll_transmit`] and drop the transport.
    Closed(CloseInfo),
}

#[derive(Debug)]
enum State {
    ClientHandshake(Box<ClientHandshake>),
    ServerHandshake(Box<ServerHandshake>),
    AwaitingAccept,
    Open,
    /// A close handshake is under way or done; the flags say which halves happened.
    Closing {
        sent: bool,
        received: bool,
    },
    Finished,
}

/// The sans-IO protocol state machine for one transport (TCP or TLS stream).
///
/// # Contract
/// The connection never does IO, never reads a clock and never draws OS randomness: bytes come
/// in through [`handle_input`](Self::handle_input), the time through `now` arguments, and
/// randomness from the seed given to the constructor.
///
/// # Run loop
/// After **every** mutating call (`handle_input`, `handle_timeout`, `send`, `ping`, `close`,
/// `accept`, `reject`), drain the outputs until none has anything left:
/// 1. [`poll_event`](Self::poll_event): hand events to the application. Received bytes are
///    decoded here, one event at a time, so the application can still answer a message that
///    arrived just before a protocol failure; decoding may queue pongs and close replies.
/// 2. [`poll_transmit`](Self::poll_transmit): write the bytes to the transport;
/// 3. [`poll_timeout`](Self::poll_timeout): wake up at that instant and call `handle_timeout`.
///
/// Keep this order: pongs and close replies are queued while events are decoded, so bytes
/// taken before `poll_event` returned `None` may miss them, and a deadline read earlier may
/// miss the close timer. The receive buffer is bounded even for a driver that does not drain
/// (one frame's limit, a header and one read): complete frames are then decoded into the
/// event queue first.
///
/// After [`Event::Closed`], write any remaining transmit bytes and drop the transport;
/// [`is_finished`](Self::is_finished) then stays true and further input is ignored.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    rng: Rng,
    state: State,
    receiver: Receiver,
    tx: Vec<u8>,
    pending_pongs: VecDeque<Bytes>,
    events: VecDeque<Event>,
    deadline: Option<Instant>,
    received_close: Option<(CloseCode, String)>,
    initiator: Option<Initiator>,
    /// The latest `now` passed in, for deadlines set while decoding lazily.
    now: Instant,
    /// A message we are sending in fragments, if one is open.
    outgoing: Option<OutgoingFragments>,
    /// Our compressor, once permessage-deflate is agreed.
    #[cfg(feature = "deflate")]
    compressor: Option<Compressor>,
}

/// The state of a message sent with `send_fragment` and not finished yet.
#[derive(Debug, Clone)]
struct OutgoingFragments {
    /// Present for text: the UTF-8 state carried across fragments.
    utf8: Option<Utf8Validator>,
    /// The message is compressed (RSV1 on its first frame): permessage-deflate was agreed
    /// when it started.
    compressed: bool,
}

impl Connection {
    /// A client connection: the opening request is queued for transmit at once, so call this
    /// when the transport is up. The handshake timeout starts at `now`.
    pub fn client(
        url: &WsUrl,
        options: &ClientOptions,
        config: Config,
        seed: [u8; 32],
        now: Instant,
    ) -> Result<Self, HandshakeError> {
        let mut rng = Rng::from_seed(seed);
        let mut key = [0u8; 16];
        rng.fill(&mut key);
        #[allow(unused_mut)]
        let mut handshake = ClientHandshake::new(url, options, key)?;
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &config.deflate {
            handshake.offer_deflate(deflate)?;
        }
        let mut conn = Self::new(
            Role::Client,
            config,
            rng,
            State::ClientHandshake(Box::new(handshake)),
            now,
        );
        if let State::ClientHandshake(hs) = &conn.state {
            hs.write_request(&mut conn.tx);
        }
        Ok(conn)
    }

    /// A server connection waiting for the client's opening request. The handshake timeout
    /// starts at `now`.
    pub fn server(config: Config, seed: [u8; 32], now: Instant) -> Self {
        let handshake = ServerHandshake::new(config.handshake.clone());
        Self::new(
            Role::Server,
            config,
            Rng::from_seed(seed),
            State::ServerHandshake(Box::new(handshake)),
            now,
        )
    }

    fn new(role: Role, config: Config, rng: Rng, state: State, now: Instant) -> Self {
        let deadline = now.checked_add(config.handshake_timeout);
        let receiver = Receiver::new(role, &config);
        Connection {
            role,
            config,
            rng,
            state,
            receiver,
            tx: Vec::new(),
            pending_pongs: VecDeque::new(),
            events: VecDeque::new(),
            deadline,
            received_close: None,
            initiator: None,
            now,
            outgoing: None,
            #[cfg(feature = "deflate")]
            compressor: None,
        }
    }

    // ----- getters -----

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True once the handshake completed and no close frame has been sent or received.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open)
    }

    /// True once the connection is over; the transport should be dropped after a last flush.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    /// Bytes queued for the transport and not yet taken by [`poll_transmit`](Self::poll_transmit).
    pub fn buffered_amount(&self) -> usize {
        self.tx.len() + self.pending_pongs.iter().map(|p| p.len() + 6).sum::<usize>()
    }

    // ----- inputs -----

    /// Feeds what the transport produced. Never fails: misbehaviour of the peer becomes
    /// events and state.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Data(data) => self.handle_data(now, data),
            Input::Eof => self.handle_transport_end(None),
            Input::TransportError(why) => self.handle_transport_end(Some(why)),
        }
    }

    /// Lets the connection act on its deadline; call it when `now >= poll_timeout()`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|d| now < d) {
            return;
        }
        self.deadline = None;
        match self.state {
            State::ClientHandshake(_) => {
                self.initiator = Some(Initiator::Local);
                self.finish(Some(ConnectionError::HandshakeTimeout));
            }
            // The server answers before it hangs up: 408 while the request is incomplete (a
            // slowloris client), 503 when the application did not decide in time.
            State::ServerHandshake(_) => {
                reject_response(408, b"the opening request did not arrive in time", &mut self.tx);
                self.initiator = Some(Initiator::Local);
                self.finish(Some(ConnectionError::HandshakeTimeout));
            }
            State::AwaitingAccept => {
                reject_response(503, b"the server did not answer the request in time", &mut self.tx);
                self.initiator = Some(Initiator::Local);
                self.finish(Some(ConnectionError::HandshakeTimeout));
            }
            State::Closing { received: true, .. } => self.finish(None),
            State::Closing { received: false, .. } => self.finish(Some(ConnectionError::CloseTimeout)),
            State::Open | State::Finished => {}
        }
    }

    fn handle_data(&mut self, now: Instant, data: &[u8]) {
        match &mut self.state {
            State::ClientHandshake(hs) => match hs.feed(data) {
                Ok(crate::handshake::Progress::Partial) => {}
                Ok(crate::handshake::Progress::Complete { value, consumed }) => {
                    self.state = State::Open;
                    self.deadline = None;
                    #[cfg(feature = "deflate")]
                    if let Some(params) = &value.deflate {
                        self.start_deflate(params);
                    }
                    self.events.push_back(Event::Opened(value));
                    self.receive(now, &data[consumed..]);
                }
                Err(e) => {
                    self.initiator = Some(Initiator::Remote);
                    self.finish(Some(ConnectionError::Handshake(e)));
                }
            },
            State::ServerHandshake(hs) => match hs.feed(data) {
                Ok(crate::handshake::Progress::Partial) => {}
                Ok(crate::handshake::Progress::Complete { value, consumed }) => {
                    self.state = State::AwaitingAccept;
                    self.receiver.buffer(&data[consumed..]);
                    self.events.push_back(Event::Request(value));
                }
                Err(e) => {
                    reject_response(e.http_status(), e.to_string().as_bytes(), &mut self.tx);
                    self.initiator = Some(Initiator::Remote);
                    self.finish(Some(ConnectionError::Handshake(e)));
                }
            },
            State::AwaitingAccept => {
                // Frames sent before our answer wait for `accept`, but only up to a frame's worth.
                if self.receiver.buffered() + data.len() > self.config.max_frame_size.saturating_add(MAX_HEADER_LEN) {
                    reject_response(413, b"too much data before the handshake completed", &mut self.tx);
                    self.initiator = Some(Initiator::Remote);
                    let size = (self.receiver.buffered() + data.len()) as u64;
                    let limit = self.config.max_frame_size;
                    self.finish(Some(ConnectionError::Protocol(ProtocolError::MessageTooLarge {
                        size,
                        limit,
                    })));
                } else {
                    self.receiver.buffer(data);
                }
            }
            State::Open | State::Closing { received: false, .. } => self.receive(now, data),
            // After the peer's close frame or after failing, nothing more is processed (§1.4, §7.1.7).
            State::Closing { received: true, .. } | State::Finished => {}
        }
    }

    fn handle_transport_end(&mut self, why: Option<&str>) {
        // Whatever arrived before the end is still delivered.
        self.decode_all();
        let error = match &mut self.state {
            State::Finished => return,
            State::ClientHandshake(hs) => Some(ConnectionError::Handshake(hs.feed_eof())),
            State::Closing { received: true, .. } => None,
            _ => Some(ConnectionError::ResetWithoutClose),
        };
        let error = match why {
            Some(text) if error.is_some() => Some(ConnectionError::Transport(text.to_owned())),
            _ => error,
        };
        self.initiator.get_or_insert(Initiator::Remote);
        self.finish(error);
    }

    // ----- commands -----

    /// Server role: answers the pending [`Event::Request`] with 101, choosing `subprotocol`
    /// (it should be one the client offered) and adding `extra_headers`. permessage-deflate
    /// is accepted when [`Config::deflate`] is set and the client offered it in a form we
    /// can honour; [`Event::Opened`] says what was agreed.
    pub fn accept(
        &mut self,
        now: Instant,
        request: &Request,
        subprotocol: Option<&str>,
        extra_headers: &[(String, String)],
    ) {
        if !matches!(self.state, State::AwaitingAccept) {
            return;
        }
        #[cfg(feature = "deflate")]
        let deflate = self.config.deflate.as_ref().and_then(|ours| {
            let offers = request
                .headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-extensions"))
                .map(|(_, value)| value.as_str());
            crate::extension::choose_offer(ours, offers)
        });
        #[cfg(not(feature = "deflate"))]
        let deflate: Option<crate::extension::DeflateParams> = None;
        let extensions = deflate.map(|d| d.to_string());
        // A subprotocol the client did not offer is left out of the 101 and so not agreed.
        let subprotocol = subprotocol.filter(|p| crate::handshake::offered(request, p));
        accept_response_with_extensions(request, subprotocol, extensions.as_deref(), extra_headers, &mut self.tx);
        self.state = State::Open;
        self.deadline = None;
        #[cfg(feature = "deflate")]
        if let Some(params) = &deflate {
            self.start_deflate(params);
        }
        self.events.push_back(Event::Opened(Accepted {
            subprotocol: subprotocol.map(str::to_owned),
            headers: request.headers.clone(),
            deflate,
        }));
        self.receive(now, &[]);
    }

    /// Server role: answers the pending [`Event::Request`] with an HTTP error and ends.
    pub fn reject(&mut self, status: u16, body: &[u8]) {
        self.reject_with_headers(status, &[], body);
    }

    /// Server role: [`reject`](Self::reject) with `extra_headers` (such as `Retry-After` on a
    /// 503) after the status line; malformed headers and those the response writes itself are
    /// skipped.
    pub fn reject_with_headers(&mut self, status: u16, extra_headers: &[(String, String)], body: &[u8]) {
        if !matches!(self.state, State::AwaitingAccept) {
            return;
        }
        crate::handshake::reject_response_with_headers(status, extra_headers, body, &mut self.tx);
        self.initiator = Some(Initiator::Local);
        self.finish(None);
    }

    /// Ends the connection at once: a close frame with `code` and `reason` (cut to fit) is
    /// queued when one may still be sent, and the connection finishes without waiting for the
    /// peer's reply (a dead or unwanted peer). Before the handshake completed it just finishes.
    pub(crate) fn abort(&mut self, code: CloseCode, reason: &str) {
        if matches!(self.state, State::Finished) {
            return;
        }
        if matches!(self.state, State::Open | State::Closing { sent: false, .. }) && code.is_sendable() {
            self.send_close(code, fit_close_reason(reason));
        }
        self.initiator.get_or_insert(Initiator::Local);
        self.finish(None);
    }

    /// True once permessage-deflate is agreed: messages are compressed by [`send`](Self::send).
    pub(crate) fn compresses(&self) -> bool {
        #[cfg(feature = "deflate")]
        {
            self.compressor.is_some()
        }
        #[cfg(not(feature = "deflate"))]
        {
            false
        }
    }

    /// Bytes held for inbound data not yet delivered: the receive buffer, the fragments of the
    /// message in progress and its inflated bytes.
    pub(crate) fn inbound_buffered(&self) -> usize {
        self.receiver.held()
    }

    // ----- outputs -----

    /// Moves the bytes to write into `buf` (appending) and returns how many, or `None`.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        self.flush_pong();
        if self.tx.is_empty() {
            return None;
        }
        let n = self.tx.len();
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.tx);
        } else {
            buf.extend_from_slice(&self.tx);
            self.tx.clear();
        }
        Some(n)
    }

    /// Whether drained buffers keep their allocations (see
    /// [`Session::keep_buffers`](crate::session::Session::keep_buffers)): the receive buffer
    /// once every byte in it is decoded, and the frames buffer, which keeps whatever
    /// allocation [`poll_transmit`](Self::poll_transmit) was given; `false` frees both now if
    /// drained.
    pub fn keep_buffers(&mut self, keep: bool) {
        self.receiver.keep_buffers(keep);
        if !keep && self.tx.is_empty() {
            self.tx = Vec::new();
        }
    }

    /// Makes room for `additional` more bytes of frames, so a batch of messages is encoded
    /// into one allocation instead of a growing one.
    pub(crate) fn reserve_transmit(&mut self, additional: usize) {
        self.tx.reserve(additional);
    }

    /// The next event for the application, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            match self.decode_step() {
                Decoded::Message(message) => return Some(Event::Message(message)),
                Decoded::Ping(payload) => return Some(Event::Ping(payload)),
                Decoded::Pong(payload) => return Some(Event::Pong(payload)),
                Decoded::Queued | Decoded::NeedMore => {}
            }
        }
        let event = self.events.pop_front();
        crate::util::release_if_drained(&mut self.events);
        event
    }

    /// The session's hot path: the next event if it is a data message, decoded straight into
    /// the return value (an [`Event`] is several times larger than a [`Message`]). Any other
    /// event stays queued for [`poll_event`](Self::poll_event).
    #[inline]
    pub(crate) fn poll_message(&mut self) -> Option<Message> {
        if !self.events.is_empty() {
            return None;
        }
        match self.decode_step() {
            Decoded::Message(message) => Some(message),
            Decoded::Ping(payload) => {
                self.events.push_back(Event::Ping(payload));
                None
            }
            Decoded::Pong(payload) => {
                self.events.push_back(Event::Pong(payload));
                None
            }
            Decoded::Queued | Decoded::NeedMore => None,
        }
    }

    /// The instant at which [`handle_timeout`](Self::handle_timeout) must be called, if any.
    ///
    /// Valid once [`poll_event`](Self::poll_event) has returned `None`: decoding happens there,
    /// and a decoded close frame starts the close timer (and a ping queues a pong for
    /// [`poll_transmit`](Self::poll_transmit)). Drain events, then transmit, then read this.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}
