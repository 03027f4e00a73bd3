//! `resock URL`: stdin lines out, received messages to stdout, on the chosen runtime.
//!
//! Both runners follow the same rules: every stdin line is queued (waiting while the queue is
//! full, across reconnects); at the end of stdin the client waits for an open connection
//! (reconnecting as configured) and closes with 1000, which writes the queue before the close
//! frame; `--exit-after N` closes the same way after N received messages. A session that
//! fails for good on the way ends with status 1 instead.

mod async_run;
mod blocking_run;

use std::process::ExitCode;

use resock::ClientBuilder;
use resock::core::session::SessionState;

use crate::args::Runtime;
use crate::executor::Executor;
use crate::report::ReportOptions;
use crate::term::{Paint, Style};

/// Runs a client until its session ends; the exit status says how it ended.
pub fn run(builder: ClientBuilder, runtime: Runtime, report: ReportOptions, binary: bool) -> ExitCode {
    if runtime == Runtime::Blocking {
        return blocking_run::run(builder, report, binary);
    }
    match Executor::new(runtime) {
        Ok(executor) => async_run::run(builder, &executor, report, binary),
        Err(e) => {
            eprintln!("{} {e}", Paint::stderr().paint(Style::Red, "resock: error:"));
            ExitCode::FAILURE
        }
    }
}

/// Whether to close now: only an open connection can write the queue and a 1000 close frame
/// (a session that is already over needs no close).
fn can_close(state: &SessionState) -> bool {
    matches!(state, SessionState::Open | SessionState::Closed(_))
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
    use resock::core::session::ClosedReason;
    use std::time::{Duration, Instant};

    #[test]
    fn closing_waits_for_an_open_connection() {
        assert!(can_close(&SessionState::Open));
        assert!(can_close(&SessionState::Closed(ClosedReason::User)));
        assert!(!can_close(&SessionState::Connecting {
            attempt: 1,
            reconnect: false
        }));
        assert!(!can_close(&SessionState::Closing { for_good: true }));
        let waiting = SessionState::WaitingToRetry {
            until: Instant::now(),
            retry_in: Duration::from_millis(250),
            attempt: 2,
        };
        assert!(!can_close(&waiting));
    }
}
