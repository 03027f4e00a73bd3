//! The async runtimes the client, the server and the demo run on (`--runtime smol`, `async-std` or
//! `tokio`): where the driver task is spawned, how the main thread waits, and whose timers the
//! report loop sleeps on. Each mode uses only its own runtime: tokio's needs no async-io thread.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use resock::{Client, ClientBuilder, Server, ServerBuilder, ServerError, Subscription};

use crate::args::Runtime;

/// An async runtime, ready to run a client.
pub enum Executor {
    /// smol's global executor; the main thread waits in `smol::block_on`.
    Smol,
    /// async-std's global executor; the main thread waits in its `block_on`.
    AsyncStd,
    /// A tokio multi-thread runtime with one worker, where the driver runs (natively on
    /// tokio's IO and timers); the main thread waits in its `block_on`. A worker of its own
    /// keeps the connection served while the main thread is busy (the demo stops its server
    /// from there, and the client must answer that server's close meanwhile).
    Tokio(tokio::runtime::Runtime),
}

impl Executor {
    /// The executor of an async `runtime`. Fails for `blocking` (which has none) and when
    /// tokio cannot start its runtime (no thread or no event queue for it).
    pub fn new(runtime: Runtime) -> Result<Executor, String> {
        match runtime {
            Runtime::Smol => Ok(Executor::Smol),
            Runtime::AsyncStd => Ok(Executor::AsyncStd),
            Runtime::Tokio => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map(Executor::Tokio)
                .map_err(|e| format!("cannot start the tokio runtime: {e}")),
            Runtime::Blocking => Err("--runtime blocking has no async runtime".to_owned()),
        }
    }

    /// `smol`, `async-std` or `tokio`.
    pub fn name(&self) -> &'static str {
        match self {
            Executor::Smol => "smol",
            Executor::AsyncStd => "async-std",
            Executor::Tokio(_) => "tokio",
        }
    }

    /// Builds the client from `builder`, subscribes to its events and spawns its driver, in
    /// that order, so the subscription sees the first attempt. The settings must be valid.
    pub fn start(&self, builder: ClientBuilder) -> (Client, Subscription) {
        match self {
            Executor::Smol | Executor::AsyncStd => {
                let (client, driver) = builder.build_async().expect("settings validated");
                let events = client.subscribe();
                match self {
                    Executor::AsyncStd => drop(async_std::task::spawn(driver)),
                    _ => smol::spawn(driver).detach(),
                }
                (client, events)
            }
            Executor::Tokio(runtime) => {
                let (client, driver) = builder.build_tokio().expect("settings validated");
                let events = client.subscribe();
                drop(runtime.spawn(driver));
                (client, events)
            }
        }
    }

    /// Binds `builder`'s server on `addr`, its tasks on this runtime. Tokio's must be called
    /// from a future run by [`block_on`](Self::block_on) (it binds in that runtime's context).
    pub fn bind(&self, builder: ServerBuilder, addr: SocketAddr) -> Result<Server, ServerError> {
        match self {
            Executor::Smol => builder.bind_smol(addr),
            Executor::AsyncStd => builder.bind_async_std(addr),
            Executor::Tokio(runtime) => {
                let _entered = runtime.enter();
                builder.bind_tokio(addr)
            }
        }
    }

    /// A cloneable handle that starts tasks on this runtime.
    pub fn spawner(&self) -> Spawner {
        match self {
            Executor::Smol => Spawner::Smol,
            Executor::AsyncStd => Spawner::AsyncStd,
            Executor::Tokio(runtime) => Spawner::Tokio(runtime.handle().clone()),
        }
    }

    /// Runs `future` to its end on the calling thread.
    pub fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        match self {
            Executor::Smol => smol::block_on(future),
            Executor::AsyncStd => async_std::task::block_on(future),
            Executor::Tokio(runtime) => runtime.block_on(future),
        }
    }

    /// Waits `duration` on this runtime's timers; only from a future run by
    /// [`block_on`](Self::block_on) or spawned here (tokio's timers need its context).
    pub async fn sleep(&self, duration: Duration) {
        match self {
            Executor::Tokio(_) => tokio::time::sleep(duration).await,
            Executor::Smol | Executor::AsyncStd => {
                async_io::Timer::after(duration).await;
            }
        }
    }
}

/// Starts detached tasks on one runtime (from [`Executor::spawner`]).
#[derive(Clone)]
pub enum Spawner {
    Smol,
    AsyncStd,
    Tokio(tokio::runtime::Handle),
}

impl Spawner {
    /// Starts `task`; it runs to its end or until the runtime goes away.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        match self {
            Spawner::Smol => smol::spawn(task).detach(),
            Spawner::AsyncStd => drop(async_std::task::spawn(task)),
            Spawner::Tokio(handle) => drop(handle.spawn(task)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokio_sleeps_on_its_own_timers_and_blocking_has_no_executor() {
        let tokio = Executor::new(Runtime::Tokio).unwrap();
        assert_eq!(tokio.name(), "tokio");
        let start = std::time::Instant::now();
        tokio.block_on(tokio.sleep(Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(Executor::new(Runtime::Blocking).is_err());
        assert_eq!(Executor::new(Runtime::AsyncStd).unwrap().name(), "async-std");
    }
}
