//! The async client (`--runtime smol`, `async-std` or `tokio`): the driver task runs on the
//! runtime, a thread feeds stdin into a cloned handle, and the main thread reports events.

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use futures_lite::future;
use resock::SessionEvent;
use resock::core::session::SessionState;
use resock::{Client, ClientBuilder, CloseCode, Subscription};

use super::{can_close, warn};
use crate::executor::Executor;
use crate::input;
use crate::report::{ReportOptions, Reporter};

/// How often the stdin thread looks whether the connection is open before it closes.
const DRAIN_POLL: Duration = Duration::from_millis(20);

pub fn run(builder: ClientBuilder, executor: &Executor, report: ReportOptions, binary: bool) -> ExitCode {
    // Subscribed before the driver runs, so the report starts at the first attempt.
    let (client, events) = executor.start(builder);
    let quiet = report.quiet;
    let feeder = client.clone();
    // The thread is not joined: it may sit in a stdin read when the session ends.
    thread::spawn(move || feed_stdin(&feeder, binary, quiet));
    let reporter = Reporter::new(report);
    executor.block_on(report_events(executor, client, events, reporter, quiet))
}

fn feed_stdin(client: &Client, binary: bool, quiet: bool) {
    let stdin = std::io::stdin().lock();
    input::feed(
        stdin,
        binary,
        |w| warn(quiet, w),
        |message| future::block_on(client.send(message)).is_ok(),
    );
    while !can_close(&client.state()) {
        thread::sleep(DRAIN_POLL);
    }
    future::block_on(client.close(CloseCode::NORMAL, ""));
}

async fn report_events(
    executor: &Executor,
    client: Client,
    mut events: Subscription,
    mut reporter: Reporter,
    quiet: bool,
) -> ExitCode {
    let mut closing = false;
    let mut ended = false;
    loop {
        // Messages come from `recv`, which loses none (a slow stdout makes the client stop
        // reading, not skip); everything else from the subscription, looked at first, so a
        // state change is reported before the messages that follow it.
        let next = future::or(
            async {
                match events.next().await {
                    Some(Ok(SessionEvent::Message(_))) => Next::Skip,
                    Some(Ok(event)) => Next::Event(event),
                    Some(Err(lagged)) => Next::Lagged(lagged.to_string()),
                    None => Next::EventsEnded,
                }
            },
            async {
                if ended {
                    return future::pending().await;
                }
                match client.recv().await {
                    Ok(message) => Next::Event(SessionEvent::Message(message)),
                    Err(_) => Next::MessagesEnded,
                }
            },
        );
        let next = match reporter.tick_interval() {
            Some(every) => {
                future::or(next, async {
                    executor.sleep(every).await;
                    Next::Tick
                })
                .await
            }
            None => next.await,
        };
        match next {
            Next::Event(event) => reporter.event(event),
            // Output slower than the server: informational events were skipped (never messages).
            Next::Lagged(lagged) => warn(quiet, &lagged),
            Next::Skip => {}
            Next::MessagesEnded => ended = true,
            Next::EventsEnded if ended => break,
            Next::EventsEnded => {
                // Take what `recv` still holds, then stop.
                while let Ok(message) = client.recv().await {
                    reporter.event(SessionEvent::Message(message));
                }
                break;
            }
            Next::Tick => reporter.tick(),
        }
        if reporter.limit_reached() && !closing {
            closing = true;
            // The close starts at the first poll and goes on after the future is dropped;
            // events keep flowing here until the stream ends.
            let _ = future::poll_once(client.close(CloseCode::NORMAL, "")).await;
        }
    }
    let state = client.state();
    debug_assert!(matches!(state, SessionState::Closed(_)));
    reporter.finish(&state)
}

/// What the report loop woke up for.
enum Next {
    Event(SessionEvent),
    Lagged(String),
    /// A message event of the subscription: it comes through `recv` instead.
    Skip,
    MessagesEnded,
    EventsEnded,
    Tick,
}
