//! The session client of every runtime behind one small interface, so one test body runs on
//! the blocking session client, smol, async-std and tokio (current-thread and multi-thread):
//! start from a builder, queue a message, read every event until the session closes for good
//! (or the test has seen enough and closes it), and hand back what happened.

#[cfg(any(feature = "smol", feature = "async-std", feature = "tokio"))]
use std::future::Future;
#[cfg(any(feature = "smol", feature = "async-std", feature = "tokio"))]
use std::pin::Pin;
use std::time::{Duration, Instant};

use resock::ClientBuilder;
use resock::core::session::{ClosedReason, DisconnectReason, SessionEvent, SessionState};
use resock::{CloseCode, Message};

use super::PATIENCE;

/// Makes a module per test function named in the list, with one `#[test]` per session runtime
/// of this build calling the function with that [`Runtime`].
#[allow(unused_macros)] // each test file uses what it needs
macro_rules! on_every_session_runtime {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[test]
                fn blocking() {
                    super::$test($crate::support::runtimes::Runtime::Blocking);
                }

                #[cfg(feature = "smol")]
                #[test]
                fn smol() {
                    super::$test($crate::support::runtimes::Runtime::Smol);
                }

                #[cfg(feature = "async-std")]
                #[test]
                fn async_std() {
                    super::$test($crate::support::runtimes::Runtime::AsyncStd);
                }

                #[cfg(feature = "tokio")]
                #[test]
                fn tokio_current_thread() {
                    super::$test($crate::support::runtimes::Runtime::TokioCurrentThread);
                }

                #[cfg(feature = "tokio")]
                #[test]
                fn tokio_multi_thread() {
                    super::$test($crate::support::runtimes::Runtime::TokioMultiThread);
                }
            }
        )*
    };
}

/// A session client flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `ClientBuilder::connect_blocking`.
    Blocking,
    /// `ClientBuilder::start_smol`.
    #[cfg(feature = "smol")]
    Smol,
    /// `ClientBuilder::start_async_std`.
    #[cfg(feature = "async-std")]
    AsyncStd,
    /// `ClientBuilder::build_tokio`, spawned on a current-thread tokio runtime.
    #[cfg(feature = "tokio")]
    TokioCurrentThread,
    /// `ClientBuilder::build_tokio`, spawned on a multi-thread tokio runtime.
    #[cfg(feature = "tokio")]
    TokioMultiThread,
}

impl Runtime {
    /// Every runtime this build has.
    pub fn all() -> Vec<Runtime> {
        vec![
            Runtime::Blocking,
            #[cfg(feature = "smol")]
            Runtime::Smol,
            #[cfg(feature = "async-std")]
            Runtime::AsyncStd,
            #[cfg(feature = "tokio")]
            Runtime::TokioCurrentThread,
            #[cfg(feature = "tokio")]
            Runtime::TokioMultiThread,
        ]
    }
}

/// What a session did, from its events.
#[derive(Debug, Default)]
pub struct Transcript {
    /// How many connections opened.
    pub opened: usize,
    /// Data messages received, in order.
    pub messages: Vec<Message>,
    /// Every disconnect: the reason, and whether another attempt was scheduled.
    pub disconnects: Vec<(DisconnectReason, bool)>,
    /// How the session closed for good; `None` if the test stopped it while it was still going.
    pub closed: Option<ClosedReason>,
    /// The text of every `Error` event, in order.
    pub errors: Vec<String>,
}

impl Transcript {
    fn record(&mut self, event: SessionEvent) -> bool {
        match event {
            SessionEvent::Opened { .. } => self.opened += 1,
            SessionEvent::Message(message) => self.messages.push(message),
            SessionEvent::Disconnected { reason, retry_at, .. } => self.disconnects.push((reason, retry_at.is_some())),
            SessionEvent::Error(error) => self.errors.push(error.to_string()),
            SessionEvent::StateChanged(SessionState::Closed(reason)) => {
                self.closed = Some(reason);
                return true;
            }
            _ => {}
        }
        false
    }

    /// The final reason, for a session that must have closed for good on its own.
    pub fn fatal_reason(&self) -> &DisconnectReason {
        match &self.closed {
            Some(ClosedReason::Fatal(reason)) => reason,
            other => panic!("expected a fatal close, got {other:?}; {self:#?}"),
        }
    }
}

/// Starts `builder` on `runtime`, queues `send` (if any), and reads events until the session
/// closes for good, or until `enough` says the test has seen what it waits for; then the test
/// closes it with 1000. Panics after [`PATIENCE`] without either.
pub fn run(
    runtime: Runtime,
    builder: ClientBuilder,
    send: Option<&str>,
    enough: impl FnMut(&Transcript) -> bool,
) -> Transcript {
    match runtime {
        Runtime::Blocking => run_blocking(builder, send, enough),
        #[cfg(feature = "smol")]
        Runtime::Smol => {
            // Subscribed before the driver runs, so no event is missed.
            let (client, driver) = builder.build_async().expect("a valid configuration");
            let events = client.subscribe();
            smol::spawn(driver).detach();
            smol::block_on(run_async(client, events, send, enough, async_io_sleep))
        }
        #[cfg(feature = "async-std")]
        Runtime::AsyncStd => {
            let (client, driver) = builder.build_async().expect("a valid configuration");
            let events = client.subscribe();
            drop(async_std::task::spawn(driver));
            async_std::task::block_on(run_async(client, events, send, enough, async_io_sleep))
        }
        #[cfg(feature = "tokio")]
        Runtime::TokioCurrentThread => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            run_tokio(runtime.expect("a tokio runtime"), builder, send, enough)
        }
        #[cfg(feature = "tokio")]
        Runtime::TokioMultiThread => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build();
            run_tokio(runtime.expect("a tokio runtime"), builder, send, enough)
        }
    }
}

/// A sleep on the async-io timer (smol, async-std).
#[cfg(any(feature = "smol", feature = "async-std"))]
fn async_io_sleep(duration: Duration) -> Sleep {
    Box::pin(async move {
        async_io::Timer::after(duration).await;
    })
}

/// [`run`] on `runtime`, with the driver from `build_tokio` spawned on it and every wait on
/// tokio's timer. The runtime (and the driver, if it has not ended) is dropped on return.
#[cfg(feature = "tokio")]
fn run_tokio(
    runtime: tokio::runtime::Runtime,
    builder: ClientBuilder,
    send: Option<&str>,
    enough: impl FnMut(&Transcript) -> bool,
) -> Transcript {
    let (client, driver) = builder.build_tokio().expect("a valid configuration");
    let events = client.subscribe();
    drop(runtime.spawn(driver));
    runtime.block_on(run_async(client, events, send, enough, |duration| {
        Box::pin(tokio::time::sleep(duration))
    }))
}

/// Echo: sends `text`, waits for it to come back, closes. The transcript ends closed by the user.
pub fn echo_once(runtime: Runtime, builder: ClientBuilder, text: &str) -> Transcript {
    let transcript = run(runtime, builder, Some(text), |t| !t.messages.is_empty());
    assert_eq!(
        transcript.messages,
        [Message::text(text)],
        "{runtime:?}: {transcript:#?}"
    );
    assert_eq!(
        transcript.closed,
        Some(ClosedReason::User),
        "{runtime:?}: {transcript:#?}"
    );
    transcript
}

fn run_blocking(builder: ClientBuilder, send: Option<&str>, mut enough: impl FnMut(&Transcript) -> bool) -> Transcript {
    let mut client = builder.connect_blocking().expect("a valid configuration");
    if let Some(text) = send {
        client.send_text(text).expect("queue the message");
    }
    let deadline = Instant::now() + PATIENCE;
    let mut transcript = Transcript::default();
    loop {
        // Bounded as a whole: a session that keeps reconnecting never runs out of events.
        let left = deadline.saturating_duration_since(Instant::now());
        let event = client.next_event_timeout(left).filter(|_| !left.is_zero());
        let Some(event) = event else {
            panic!("no end within {PATIENCE:?}: {transcript:#?}");
        };
        if transcript.record(event) {
            return transcript;
        }
        if enough(&transcript) {
            assert!(client.close(CloseCode::NORMAL, ""), "closing: {transcript:#?}");
            while let Some(event) = client.next_event_timeout(Duration::ZERO) {
                transcript.record(event);
            }
            return transcript;
        }
    }
}

/// A runtime's timer: resolves after the duration.
#[cfg(any(feature = "smol", feature = "async-std", feature = "tokio"))]
type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

#[cfg(any(feature = "smol", feature = "async-std", feature = "tokio"))]
async fn run_async(
    client: resock::Client,
    mut events: resock::Subscription,
    send: Option<&str>,
    mut enough: impl FnMut(&Transcript) -> bool,
    sleep: fn(Duration) -> Sleep,
) -> Transcript {
    use futures_lite::future;
    if let Some(text) = send {
        let room = async {
            sleep(PATIENCE).await;
            panic!("no room to send within {PATIENCE:?}");
        };
        let queued = future::or(client.send_text(text), room).await;
        queued.expect("queue the message");
    }
    let transcript = std::cell::RefCell::new(Transcript::default());
    let session = async {
        loop {
            let Some(event) = events.next().await else {
                panic!("the events ended before the session closed: {:#?}", transcript.borrow());
            };
            let event = event.expect("a listener that keeps up");
            if transcript.borrow_mut().record(event) {
                return;
            }
            if enough(&transcript.borrow()) {
                let closed = client.close(CloseCode::NORMAL, "").await;
                transcript.borrow_mut().closed = Some(closed);
                return;
            }
        }
    };
    // Bounded as a whole: a session that keeps reconnecting never runs out of events.
    let timeout = async {
        sleep(PATIENCE).await;
        panic!("no end within {PATIENCE:?}: {:#?}", transcript.borrow());
    };
    future::or(session, timeout).await;
    transcript.into_inner()
}
