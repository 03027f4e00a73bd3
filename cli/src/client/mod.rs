//! `resock URL`: stdin lines out, received messages to stdout, on the chosen runtime.
//!
//! Both runners follow the same rules: every stdin line is queued (waiting while the queue is
//! full, across reconnects); at the end of stdin the client waits until the queue can drain
//! (the connection is open, or nothing is queued) and closes with 1000, which writes the queue
//! before the close frame; `--exit-after N` closes the same way after N received messages.

mod async_run;
mod blocking_run;

use std::process::ExitCode;

use resock::ClientBuilder;
use resock::core::session::SessionState;

use crate::args::Runtime;
use crate::report::ReportOptions;
use crate::term::{Paint, Style};

/// Runs a client until its session ends; the exit status says how it ended.
pub fn run(builder: ClientBuilder, runtime: Runtime, report: ReportOptions, binary: bool) -> ExitCode {
    match runtime {
        Runtime::Smol | Runtime::AsyncStd => async_run::run(builder, runtime, report, binary),
        Runtime::Blocking => blocking_run::run(builder, report, binary),
    }
}

/// Whether a close now lets every queued message go out first: the connection is open, or
/// nothing is waiting (or the session is already over).
fn can_close(state: &SessionState, queued: usize) -> bool {
    matches!(state, SessionState::Open | SessionState::Closed(_)) || queued == 0
}

/// Reports a problem with stdin on stderr (unless quiet).
fn warn(quiet: bool, text: &str) {
    if !quiet {
        eprintln!("{}", Paint::stderr().paint(Style::Yellow, format!("resock: {text}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn closing_waits_for_a_connection_only_when_messages_wait() {
        assert!(can_close(&SessionState::Open, 5));
        assert!(can_close(&SessionState::Connecting { attempt: 1 }, 0));
        assert!(!can_close(&SessionState::Connecting { attempt: 1 }, 1));
        let waiting = SessionState::WaitingToRetry {
            until: Instant::now(),
            attempt: 2,
        };
        assert!(!can_close(&waiting, 3));
    }
}
