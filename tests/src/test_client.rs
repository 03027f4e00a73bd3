//! resock's session clients behind one synchronous, bounded test API: [`TestClient`] drives the
//! blocking client or the async `Client` on a chosen [`Runtime`], records every event it takes
//! ([`Record`]), and closes and drains its session when dropped.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_lite::future;
use resock::{ClientBuilder, CloseCode, Message};
use resock_core::Initiator;
use resock_core::session::{HandBackReason, MessageId, Rtt, SessionEvent, SessionState};

/// The bound of an ordinary wait (an event, an echo of a small message, a log line).
pub const LIMIT: Duration = Duration::from_secs(20);

/// Which of resock's session clients a [`TestClient`] drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// `blocking_client::Client` (`ClientBuilder::connect_blocking`), driven by the calling thread.
    Blocking,
    /// The async `Client` on smol (`ClientBuilder::start_smol`), awaited with `smol::block_on`.
    Smol,
    /// The async `Client` on async-std (`ClientBuilder::start_async_std`), awaited with
    /// `async_std::task::block_on`.
    AsyncStd,
    /// The async `Client` natively on tokio's multi-thread runtime (`ClientBuilder::build_tokio`,
    /// the driver spawned on one runtime with two workers shared by the whole test process),
    /// awaited with that runtime's `block_on`: the driver runs on the workers all the time.
    Tokio,
    /// The async `Client` on a tokio current-thread runtime of its own
    /// (`ClientBuilder::start_tokio` inside `Runtime::enter`), as
    /// `#[tokio::main(flavor = "current_thread")]` runs it: the driver and the test's waits
    /// share the thread, so the driver makes progress only while the test waits in that
    /// runtime's `block_on` (as the blocking client does only while it is driven).
    TokioCurrentThread,
}

impl Runtime {
    /// All five.
    pub const ALL: [Runtime; 5] = [
        Runtime::Blocking,
        Runtime::Smol,
        Runtime::AsyncStd,
        Runtime::Tokio,
        Runtime::TokioCurrentThread,
    ];

    /// `"blocking"`, `"smol"`, `"async-std"`, `"tokio"` (multi-thread) or
    /// `"tokio-current-thread"`.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Blocking => "blocking",
            Runtime::Smol => "smol",
            Runtime::AsyncStd => "async-std",
            Runtime::Tokio => "tokio",
            Runtime::TokioCurrentThread => "tokio-current-thread",
        }
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `future`, or `None` once `timeout` has passed.
pub async fn within<T>(timeout: Duration, future: impl Future<Output = T>) -> Option<T> {
    future::or(async { Some(future.await) }, async {
        smol::Timer::after(timeout).await;
        None
    })
    .await
}

/// A message the session handed back, as a [`TestClient`] saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handed {
    /// The id `send` returned.
    pub id: MessageId,
    /// The message.
    pub message: Message,
    /// Why.
    pub reason: HandBackReason,
}

/// What a [`TestClient`] has seen so far, in event order.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// Connections opened (`Opened` events); the n-th connection is number n.
    pub opened: u32,
    /// Every `Sent(id)` with the number of the connection it was written to.
    pub sent: Vec<(MessageId, u32)>,
    /// Every `HandedBack`.
    pub handed_back: Vec<Handed>,
    /// `Disconnected` events.
    pub disconnects: u32,
    /// `Pong` events.
    pub pongs: u32,
    /// `Closed` events: code, reason, who started the close.
    pub closed: Vec<(CloseCode, String, Initiator)>,
    /// The numbers of the connections that ended with a close frame from the server.
    pub closed_by_server: Vec<u32>,
    /// The subprotocol of each `Opened`.
    pub subprotocols: Vec<Option<String>>,
    /// A short description of the last events, for failure messages.
    pub recent: VecDeque<String>,
}

impl Record {
    fn observe(&mut self, event: &SessionEvent) {
        match event {
            SessionEvent::Opened { subprotocol, .. } => {
                self.opened += 1;
                self.subprotocols.push(subprotocol.clone());
            }
            SessionEvent::Sent(id) => self.sent.push((*id, self.opened)),
            SessionEvent::HandedBack { id, message, reason } => self.handed_back.push(Handed {
                id: *id,
                message: message.clone(),
                reason: *reason,
            }),
            SessionEvent::Disconnected { .. } => self.disconnects += 1,
            SessionEvent::Pong { .. } => self.pongs += 1,
            SessionEvent::Closed {
                code,
                reason,
                initiator,
            } => {
                if *initiator == Initiator::Remote {
                    self.closed_by_server.push(self.opened);
                }
                self.closed.push((*code, reason.clone(), *initiator));
            }
            _ => {}
        }
        if !matches!(event, SessionEvent::Sent(_) | SessionEvent::Message(_)) {
            if self.recent.len() == 24 {
                self.recent.pop_front();
            }
            self.recent.push_back(describe(event));
        }
    }
}

/// A one-line description of an event (message payloads reduced to their length).
pub fn describe(event: &SessionEvent) -> String {
    match event {
        SessionEvent::Message(m) => format!("Message({} bytes, text: {})", m.len(), m.is_text()),
        SessionEvent::HandedBack { id, message, reason } => {
            format!("HandedBack({id:?}, {} bytes, {reason:?})", message.len())
        }
        SessionEvent::StateChanged(state) => format!("StateChanged({state})"),
        other => {
            let mut text = format!("{other:?}");
            text.truncate(200);
            text
        }
    }
}

enum Inner {
    Blocking(Box<resock::blocking_client::Client>),
    Async {
        client: resock::Client,
        events: resock::Subscription,
        executor: Executor,
    },
}

/// What runs an async client's driver, and the futures a test waits on.
enum Executor {
    Smol,
    AsyncStd,
    /// The process's multi-thread runtime ([`tokio_multi_thread`]).
    TokioMultiThread(&'static tokio::runtime::Runtime),
    /// A current-thread runtime owned by this client; dropped (with what is left of the driver
    /// task) after the client's last wait.
    TokioCurrentThread(tokio::runtime::Runtime),
}

impl Executor {
    /// Runs `future` to its end on the calling thread, the way this runtime's programs wait.
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        match self {
            Executor::Smol => smol::block_on(future),
            Executor::AsyncStd => async_std::task::block_on(future),
            Executor::TokioMultiThread(runtime) => runtime.block_on(future),
            Executor::TokioCurrentThread(runtime) => runtime.block_on(future),
        }
    }
}

/// The tokio multi-thread runtime every [`Runtime::Tokio`] client of the process runs on (two
/// workers, IO and time enabled), built at first use.
fn tokio_multi_thread() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio multi-thread runtime")
    })
}

/// What one bounded wait for an event produced.
enum Next {
    Event(SessionEvent),
    TimedOut,
    /// The session is closed for good and every event was taken.
    Ended,
}

/// One resock session client behind a synchronous API, whatever its runtime. Every method
/// that waits takes (or uses) a bound; the async clients' events are taken whenever the test
/// waits (a subscription that fell behind is counted in [`TestClient::dropped_events`]).
pub struct TestClient {
    runtime: Runtime,
    inner: Inner,
    /// Events taken from an async client while a send or close was waiting (already observed).
    pending: VecDeque<SessionEvent>,
    record: Record,
}

impl TestClient {
    /// Starts a client of `runtime` from `builder`; it starts connecting at once.
    pub fn open(runtime: Runtime, builder: ClientBuilder) -> TestClient {
        let inner = match runtime {
            Runtime::Blocking => {
                let mut client = builder.connect_blocking().unwrap();
                client.set_send_timeout(LIMIT);
                Inner::Blocking(Box::new(client))
            }
            Runtime::Smol => {
                // Subscribed before the driver runs, so every event is seen.
                let (client, driver) = builder.build_async().unwrap();
                let events = client.subscribe();
                smol::spawn(driver).detach();
                let executor = Executor::Smol;
                Inner::Async {
                    client,
                    events,
                    executor,
                }
            }
            Runtime::AsyncStd => {
                let (client, driver) = builder.build_async().unwrap();
                let events = client.subscribe();
                drop(async_std::task::spawn(driver));
                let executor = Executor::AsyncStd;
                Inner::Async {
                    client,
                    events,
                    executor,
                }
            }
            Runtime::Tokio => {
                let runtime = tokio_multi_thread();
                let (client, driver) = builder.build_tokio().unwrap();
                let events = client.subscribe();
                drop(runtime.spawn(driver));
                let executor = Executor::TokioMultiThread(runtime);
                Inner::Async {
                    client,
                    events,
                    executor,
                }
            }
            Runtime::TokioCurrentThread => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio current-thread runtime");
                // Started the way an application starts it; nothing runs before the first
                // `block_on`, so the subscription still sees every event.
                let client = {
                    let _inside = runtime.enter();
                    builder.start_tokio().unwrap()
                };
                let events = client.subscribe();
                let executor = Executor::TokioCurrentThread(runtime);
                Inner::Async {
                    client,
                    events,
                    executor,
                }
            }
        };
        TestClient {
            runtime,
            inner,
            pending: VecDeque::new(),
            record: Record::default(),
        }
    }

    /// The runtime.
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// Queues a message (waiting at most [`LIMIT`] for room); the error says why it was refused.
    pub fn send(&mut self, message: Message) -> Result<MessageId, String> {
        let TestClient {
            inner, pending, record, ..
        } = self;
        match inner {
            Inner::Blocking(client) => client.send(message).map_err(|e| e.to_string()),
            Inner::Async {
                client,
                events,
                executor,
            } => {
                let drain = drain_into(events, pending, record);
                let send = async { Some(client.send(message).await) };
                match executor.block_on(within(LIMIT, future::or(send, drain))) {
                    Some(Some(result)) => result.map_err(|e| e.to_string()),
                    Some(None) => Err("the event stream ended while sending".to_owned()),
                    None => Err(format!("send did not return within {LIMIT:?}")),
                }
            }
        }
    }

    /// Sends a text message; panics if it is refused.
    pub fn send_text(&mut self, text: impl Into<String>) -> MessageId {
        self.send(Message::text(text.into()))
            .unwrap_or_else(|e| panic!("send refused: {e}"))
    }

    fn next(&mut self, timeout: Duration) -> Next {
        if let Some(event) = self.pending.pop_front() {
            return Next::Event(event);
        }
        let event = match &mut self.inner {
            Inner::Blocking(client) => match client.next_event_timeout(timeout) {
                Some(event) => event,
                None if client.is_closed() => return Next::Ended,
                None => return Next::TimedOut,
            },
            Inner::Async { events, executor, .. } => match executor.block_on(within(timeout, next_in_order(events))) {
                Some(Some(event)) => event,
                Some(None) => return Next::Ended,
                None => return Next::TimedOut,
            },
        };
        self.record.observe(&event);
        Next::Event(event)
    }

    /// The next event, or `None` when `timeout` passes first or the session has ended.
    pub fn next_event(&mut self, timeout: Duration) -> Option<SessionEvent> {
        match self.next(timeout) {
            Next::Event(event) => Some(event),
            Next::TimedOut | Next::Ended => None,
        }
    }

    /// The first event within `timeout` that matches `wanted` (others are taken and recorded);
    /// panics naming `what` otherwise.
    pub fn expect_event(
        &mut self,
        timeout: Duration,
        what: &str,
        mut wanted: impl FnMut(&SessionEvent) -> bool,
    ) -> SessionEvent {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Next::Event(event) if wanted(&event) => return event,
                Next::Event(_) => {}
                Next::TimedOut => panic!(
                    "no {what} within {timeout:?}; state {}; recent events {:?}",
                    self.state(),
                    self.record.recent
                ),
                Next::Ended => panic!(
                    "the session ended before {what}; state {}; recent events {:?}",
                    self.state(),
                    self.record.recent
                ),
            }
        }
    }

    /// The next data message within `timeout` (other events are taken and recorded).
    pub fn recv_message(&mut self, timeout: Duration) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Next::Event(SessionEvent::Message(message)) => return Some(message),
                Next::Event(_) => {}
                Next::TimedOut | Next::Ended => return None,
            }
        }
    }

    /// Like [`recv_message`](Self::recv_message), but panics naming `what` on a timeout.
    pub fn expect_message(&mut self, timeout: Duration, what: &str) -> Message {
        match self.expect_event(timeout, what, |e| matches!(e, SessionEvent::Message(_))) {
            SessionEvent::Message(message) => message,
            _ => unreachable!(),
        }
    }

    /// Waits for the next connection to open; returns its subprotocol.
    pub fn expect_opened(&mut self, timeout: Duration) -> Option<String> {
        match self.expect_event(timeout, "Opened", |e| matches!(e, SessionEvent::Opened { .. })) {
            SessionEvent::Opened { subprotocol, .. } => subprotocol,
            _ => unreachable!(),
        }
    }

    /// Takes and records events for `duration` (or until the session ended); returns whether it
    /// ended. On the blocking client this is also what drives its IO and timers.
    pub fn process_events_for(&mut self, duration: Duration) -> bool {
        self.pending.clear();
        let deadline = Instant::now() + duration;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Next::Event(_) => {
                    if left.is_zero() {
                        return false;
                    }
                }
                Next::TimedOut => return false,
                Next::Ended => return true,
            }
        }
    }

    /// Takes events until the session state is `Open` (at most `timeout`); returns whether it is.
    pub fn wait_open(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.state() != SessionState::Open {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            if self.process_events_for(left.min(Duration::from_millis(5))) {
                return false;
            }
        }
        true
    }

    /// Closes for good with `code` and `reason` (the queue is written first when open), taking
    /// events meanwhile; returns the state afterwards.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> SessionState {
        let TestClient {
            inner, pending, record, ..
        } = self;
        match inner {
            Inner::Blocking(client) => {
                client.close(code, reason);
            }
            Inner::Async {
                client,
                events,
                executor,
            } => {
                let drain = drain_into(events, pending, record);
                let close = async { Some(client.close(code, reason).await) };
                let bound = LIMIT + client_close_timeout();
                executor.block_on(within(bound, future::or(close, drain)));
            }
        }
        self.state()
    }

    /// Takes the remaining events until the session has ended (at most `timeout`); returns
    /// whether it ended.
    pub fn finish(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Next::Event(_) => {}
                Next::Ended => return true,
                Next::TimedOut => return false,
            }
        }
    }

    /// The session state now.
    pub fn state(&self) -> SessionState {
        match &self.inner {
            Inner::Blocking(client) => client.state().clone(),
            Inner::Async { client, .. } => client.state(),
        }
    }

    /// The heartbeat round-trip times, once a pong arrived.
    pub fn rtt(&self) -> Option<Rtt> {
        match &self.inner {
            Inner::Blocking(client) => client.rtt(),
            Inner::Async { client, .. } => client.rtt(),
        }
    }

    /// Messages accepted and not yet handed to the transport.
    pub fn queued_messages(&self) -> usize {
        match &self.inner {
            Inner::Blocking(client) => client.session().queued_messages(),
            Inner::Async { client, .. } => client.queued_messages(),
        }
    }

    /// Events the client discarded because the test fell behind (the async clients' lagging
    /// subscription included).
    pub fn dropped_events(&self) -> u64 {
        match &self.inner {
            Inner::Blocking(client) => client.metrics().events_skipped,
            Inner::Async { client, .. } => client.metrics().events_skipped,
        }
    }

    /// Every message handed back so far (from the events the test has taken).
    pub fn handed_back(&self) -> &[Handed] {
        &self.record.handed_back
    }

    /// Everything seen so far.
    pub fn record(&self) -> &Record {
        &self.record
    }
}

/// The session close timeout [`TestClient::close`] allows for beyond [`LIMIT`].
fn client_close_timeout() -> Duration {
    Duration::from_secs(10)
}

/// The next event of a subscription, stepping over lag reports (which the client counts in
/// its metrics, read by [`TestClient::dropped_events`]).
async fn next_in_order(events: &mut resock::Subscription) -> Option<SessionEvent> {
    loop {
        if let Ok(event) = events.next().await? {
            return Some(event);
        }
    }
}

/// Takes an async client's events into `pending` (recording them) until the stream ends.
async fn drain_into<T>(
    events: &mut resock::Subscription,
    pending: &mut VecDeque<SessionEvent>,
    record: &mut Record,
) -> Option<T> {
    while let Some(event) = next_in_order(events).await {
        record.observe(&event);
        pending.push_back(event);
    }
    None
}

impl Drop for TestClient {
    fn drop(&mut self) {
        if let Inner::Async {
            client,
            events,
            executor,
        } = &mut self.inner
            && (!matches!(client.state(), SessionState::Closed(_))
                || matches!(executor, Executor::TokioCurrentThread(_)))
        {
            // Close and take the events so the driver task ends now, bounded (a current-thread
            // runtime's driver runs only here, so it is driven to its end even once closed).
            let mut sink = VecDeque::new();
            let mut record = Record::default();
            let drain = drain_into::<()>(events, &mut sink, &mut record);
            let close = async {
                client.close(CloseCode::NORMAL, "").await;
                Some(())
            };
            executor.block_on(within(Duration::from_secs(5), future::or(close, drain)));
        }
        // The blocking client closes itself in its own Drop (bounded by its close timeout).
    }
}
