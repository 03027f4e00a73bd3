//! SIGINT and SIGTERM as a future, on the runtime that serves: under `--runtime tokio`
//! tokio's own signal driver (so that mode starts no async-io thread), under smol and
//! async-std `async-signal` (a self-pipe on async-io's reactor, which those runtimes run
//! anyway).

use std::io;

use async_signal::{Signal, Signals};
use futures_lite::StreamExt;

use crate::executor::Executor;

/// The signals that stop `resock serve`, caught from [`new`](Self::new) on (instead of ending
/// the process at once).
pub enum StopSignals {
    /// smol and async-std.
    AsyncIo(Signals),
    /// tokio's signal streams, registered in its runtime.
    #[cfg(unix)]
    Tokio {
        interrupt: tokio::signal::unix::Signal,
        terminate: tokio::signal::unix::Signal,
    },
}

impl StopSignals {
    /// Catches SIGINT and SIGTERM from now on, with `executor`'s runtime.
    pub fn new(executor: &Executor) -> io::Result<Self> {
        match executor {
            #[cfg(unix)]
            Executor::Tokio(runtime) => {
                use tokio::signal::unix::{SignalKind, signal};
                let _entered = runtime.enter();
                Ok(StopSignals::Tokio {
                    interrupt: signal(SignalKind::interrupt())?,
                    terminate: signal(SignalKind::terminate())?,
                })
            }
            _ => Signals::new([Signal::Int, Signal::Term]).map(StopSignals::AsyncIo),
        }
    }

    /// Waits for the next one; its name.
    pub async fn next(&mut self) -> &'static str {
        match self {
            StopSignals::AsyncIo(signals) => loop {
                match signals.next().await {
                    Some(Ok(Signal::Term)) => return "SIGTERM",
                    Some(Ok(Signal::Int)) => return "SIGINT",
                    Some(Ok(_)) => {}
                    // The stream does not end or fail while the pipe stands; if it ever does, stop.
                    Some(Err(_)) | None => return "signal",
                }
            },
            #[cfg(unix)]
            StopSignals::Tokio { interrupt, terminate } => {
                let interrupt = async {
                    interrupt.recv().await;
                    "SIGINT"
                };
                let terminate = async {
                    terminate.recv().await;
                    "SIGTERM"
                };
                // `recv` gives `None` only once the runtime shuts down: stop then too.
                futures_lite::future::or(terminate, interrupt).await
            }
        }
    }
}
