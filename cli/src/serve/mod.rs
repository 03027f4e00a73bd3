//! `resock serve [ADDR]`: an echo (or broadcast) server on resock's async server, with its
//! limits as flags; SIGINT or SIGTERM closes every connection with 1001, waits for the close
//! handshakes (at most the close timeout), prints a summary and exits 0. A second signal during
//! that wait exits at once, with 1.

mod events;
mod settings;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::future;

use crate::args::{Runtime, ServeArgs};
use crate::executor::Executor;
use crate::jsonl::json_line;
use crate::printer::{self, Printer};
use crate::relay::{Mode, Relay};
use crate::signals::StopSignals;
use crate::term::{Paint, Style};

use events::Events;

/// The exit status of a usage error, as clap uses it.
const USAGE: u8 = 2;
/// How long the connection tasks are given, after the shutdown, to report their end.
const REPORT_WITHIN: Duration = Duration::from_millis(500);
/// How long the last lines may take to be written before the exit.
const PRINT_WITHIN: Duration = Duration::from_secs(2);

/// Runs `resock serve` until a signal stops it; the exit status: 0 after a graceful stop, 1
/// when the server could not start (or a second signal cut the stop short), 2 for settings
/// that cannot work.
pub fn run(args: &ServeArgs) -> ExitCode {
    let paint = Paint::stderr();
    let error = |message: &str| eprintln!("{} {message}", paint.paint(Style::Red, "resock: error:"));
    let events = Arc::new(Events {
        json: args
            .json_events
            .then(|| Arc::new(Printer::stdout(printer::Capacity::default()))),
        status: (!args.quiet).then(|| Arc::new(Printer::stderr(printer::Capacity::default()))),
        paint,
    });
    let refusals = Arc::clone(&events);
    let builder = match settings::builder(args, Arc::new(move |refusal| refusals.refused(refusal))) {
        Ok(builder) => builder,
        Err(message) => {
            error(&message);
            return ExitCode::from(USAGE);
        }
    };
    let executor = match Executor::new(Runtime::from(args.runtime)) {
        Ok(executor) => executor,
        Err(message) => {
            error(&message);
            return ExitCode::FAILURE;
        }
    };
    // Caught from before the listening line on: a signal right after it is a shutdown.
    let signals = match StopSignals::new(&executor) {
        Ok(signals) => signals,
        Err(e) => {
            error(&format!("cannot catch SIGINT and SIGTERM: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let code = executor.block_on(serve(&executor, builder, args, &events, signals));
    // Connection tasks may outlive this on the runtime: write what is queued now, unless
    // the reader of stdout or stderr has stopped.
    for printer in [&events.json, &events.status].into_iter().flatten() {
        printer.finish_within(PRINT_WITHIN);
    }
    code
}

/// Binds, prints the listening line, relays until a signal, then shuts down.
async fn serve(
    executor: &Executor,
    builder: resock::ServerBuilder,
    args: &ServeArgs,
    events: &Arc<Events>,
    mut signals: StopSignals,
) -> ExitCode {
    let server = match executor.bind(builder, args.addr) {
        Ok(server) => server,
        Err(e) => {
            eprintln!(
                "{} cannot listen on {}: {e}",
                events.paint.paint(Style::Red, "resock: error:"),
                args.addr
            );
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr();
    let (mode, mode_name) = match args.broadcast {
        true => (Mode::Broadcast, "broadcast"),
        false => (Mode::Echo, "echo"),
    };
    let scheme = if args.tls_cert.is_some() { "wss" } else { "ws" };
    if let Some(json) = &events.json {
        json.print(json_line!(
            "event": "listening",
            "addr": addr.to_string(),
            "port": addr.port(),
            "mode": mode_name,
            "scheme": scheme,
            "runtime": executor.name(),
        ));
    }
    // Always printed (even with --quiet): scripts read the port from it.
    eprintln!("listening on {scheme}://{addr} ({mode_name}, {})", executor.name());
    let relay = Relay::start(server, executor.spawner(), mode, None, Arc::clone(events) as _);
    let counts = relay.counts_handle();
    let signal = signals.next().await;
    // A second signal while the close handshakes run ends the wait.
    let stopping = async { Some(relay.shutdown(executor, REPORT_WITHIN).await) };
    let impatient = async {
        let again = signals.next().await;
        events.impatient(again);
        None
    };
    match future::or(stopping, impatient).await {
        Some(stopped) => {
            events.stopped(signal, stopped, &counts, addr);
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}
