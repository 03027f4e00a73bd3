//! SIGINT and SIGTERM as a future, on any of the three runtimes (`async-signal`: a self-pipe
//! on async-io's reactor, so it needs no help from the runtime that awaits it). Under
//! `serve --runtime tokio` this starts async-io's reactor thread for the signal pipe alone; the
//! server's sockets and timers stay on tokio.

use std::io;

use async_signal::{Signal, Signals};
use futures_lite::StreamExt;

/// The signals that stop `resock serve`, caught from [`new`](Self::new) on (instead of ending
/// the process at once).
pub struct StopSignals(Signals);

impl StopSignals {
    /// Catches SIGINT and SIGTERM from now on.
    pub fn new() -> io::Result<Self> {
        Signals::new([Signal::Int, Signal::Term]).map(StopSignals)
    }

    /// Waits for the next one; its name.
    pub async fn next(&mut self) -> &'static str {
        loop {
            match self.0.next().await {
                Some(Ok(Signal::Term)) => return "SIGTERM",
                Some(Ok(Signal::Int)) => return "SIGINT",
                Some(Ok(_)) => {}
                // The stream does not end or fail while the pipe stands; if it ever does, stop.
                Some(Err(_)) | None => return "signal",
            }
        }
    }
}
