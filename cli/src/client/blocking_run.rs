//! The blocking client (`--runtime blocking`): the main thread drives the session; a thread
//! feeds stdin through a `Sender` and says when stdin has ended.

use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use resock::ClientBuilder;
use resock::CloseCode;
use resock::SendError;
use resock::blocking_client::Sender;

use super::{can_close, warn};
use crate::input;
use crate::report::{ReportOptions, Reporter};

/// How long the main thread waits for an event before it looks at stdin's end and the clock.
const IDLE_WAIT: Duration = Duration::from_millis(50);
/// How long one stdin send waits for room before trying again (the queue may be full while
/// disconnected; the line is never dropped).
const SEND_WAIT: Duration = Duration::from_secs(3600);

pub fn run(builder: ClientBuilder, report: ReportOptions, binary: bool) -> ExitCode {
    let quiet = report.quiet;
    let mut client = builder.connect_blocking().expect("settings validated");
    client.set_send_timeout(SEND_WAIT);
    let sender = client.sender();
    let (ended_tx, ended_rx) = mpsc::channel::<()>();
    // The thread is not joined: it may sit in a stdin read when the session ends.
    thread::spawn(move || {
        feed_stdin(&sender, binary, quiet);
        let _ = ended_tx.send(());
    });

    let mut reporter = Reporter::new(report);
    let mut stdin_ended = false;
    let mut closing = false;
    loop {
        let wait = reporter.tick_interval().unwrap_or(IDLE_WAIT).min(IDLE_WAIT);
        match client.next_event_timeout(wait) {
            Some(event) => reporter.event(event),
            None if client.is_closed() => break,
            None => reporter.tick(),
        }
        if !stdin_ended {
            stdin_ended = !matches!(ended_rx.try_recv(), Err(mpsc::TryRecvError::Empty));
        }
        let drained = stdin_ended && can_close(client.state());
        if !closing && (reporter.limit_reached() || drained) {
            closing = true;
            // Drives IO until the close handshake is done; its events stay buffered and are
            // reported by the next turns of this loop.
            client.close(CloseCode::NORMAL, "");
        }
    }
    reporter.finish(client.state())
}

fn feed_stdin(sender: &Sender, binary: bool, quiet: bool) {
    let stdin = std::io::stdin().lock();
    input::feed(
        stdin,
        binary,
        |w| warn(quiet, w),
        |message| {
            let mut message = message;
            loop {
                match sender.send(message) {
                    Ok(_) => return true,
                    Err(SendError::TimedOut(m)) => message = m,
                    Err(_) => return false,
                }
            }
        },
    );
}
