//! `resock`: a WebSocket client that stays connected, on the command line.
//!
//! * no arguments (or `resock demo`): a self-contained demo over loopback;
//! * `resock URL`: stdin lines out as messages, received messages to stdout;
//! * `resock serve [ADDR]`: an echo or broadcast server.
//!
//! Exit status: 0 after a clean close, 1 when the connection failed for good, 2 for bad
//! arguments.

mod args;
mod client;
mod demo;
mod executor;
mod input;
mod jsonl;
mod printer;
mod relay;
mod report;
mod serve;
mod signals;
mod term;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use report::ReportOptions;

/// The exit status of a usage error, as clap uses it.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Demo(demo)) => return demo::run(demo.runtime),
        Some(Command::Serve(serve)) => return serve::run(serve),
        None => {}
    }
    let options = &cli.client;
    let Some(url) = &options.url else {
        return demo::run(options.runtime);
    };
    let builder = match options.builder(url) {
        Ok(builder) => builder,
        Err(message) => {
            eprintln!("resock: error: {message}\n\nFor more information, try '--help'.");
            return ExitCode::from(USAGE);
        }
    };
    let report = ReportOptions {
        json: options.json_events,
        quiet: options.quiet,
        raw_binary: options.binary,
        exit_after: options.exit_after,
        url: url.clone(),
    };
    client::run(builder, options.runtime, report, options.binary)
}
