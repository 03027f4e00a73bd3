//! The runtimes a test body runs on, behind one small interface that never names a runtime's
//! own driver type: start a client, build one and spawn its driver later (as a boxed future),
//! block on a test body, and wait with the runtime's own timer.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_lite::future;
use resock::{Client, ClientBuilder, Subscription};

use super::LIMIT;

/// A client's driver future, built and not yet spawned (whichever runtime built it).
pub type DriverFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A spawned driver: resolves when its task ends (and panics if the task panicked).
pub type DriverTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs a test body and starts clients on one runtime.
pub trait Runtime {
    /// Runs a whole test with this runtime available: every other method is called inside
    /// `body`. The default just calls it; tokio makes a runtime for the test here.
    fn run_test(body: impl FnOnce()) {
        body();
    }

    /// Runs `future` to its end on the test's thread.
    fn block_on<T>(future: impl Future<Output = T>) -> T;

    /// Starts a client with the runtime's own `start_*` method.
    fn start(builder: ClientBuilder) -> Client;

    /// Builds a client and its driver with the runtime's own `build_*` method, spawning nothing.
    fn build(builder: ClientBuilder) -> (Client, DriverFuture);

    /// Spawns a driver; the returned future resolves when its task ends.
    fn spawn(driver: DriverFuture) -> DriverTask;

    /// Spawns a driver that runs on its own.
    fn detach(driver: DriverFuture);

    /// Resolves after `duration`, on the runtime's own timer.
    fn sleep(duration: Duration) -> impl Future<Output = ()>;

    /// Starts a client whose driver task can be awaited.
    fn start_joinable(builder: ClientBuilder) -> (Client, DriverTask) {
        let (client, driver) = Self::build(builder);
        (client, Self::spawn(driver))
    }

    /// A client with `N` subscriptions made before its driver runs, so they see every event.
    fn start_subscribed<const N: usize>(builder: ClientBuilder) -> (Client, [Subscription; N]) {
        let (client, driver) = Self::build(builder);
        let subscriptions = std::array::from_fn(|_| client.subscribe());
        Self::detach(driver);
        (client, subscriptions)
    }

    /// `future`, or a panic naming `what` after `limit` (on the runtime's own timer).
    fn within_for<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> impl Future<Output = T> {
        async move {
            let timeout = async {
                Self::sleep(limit).await;
                None
            };
            future::or(async { Some(future.await) }, timeout)
                .await
                .unwrap_or_else(|| panic!("timed out after {limit:?}: {what}"))
        }
    }

    /// `future`, or a panic naming `what` after [`LIMIT`].
    fn within<T>(what: &str, future: impl Future<Output = T>) -> impl Future<Output = T> {
        Self::within_for(LIMIT, what, future)
    }
}

/// smol: `start_smol`, `build_async` spawned on smol's global executor.
#[cfg(feature = "smol")]
pub struct Smol;

#[cfg(feature = "smol")]
impl Runtime for Smol {
    fn block_on<T>(future: impl Future<Output = T>) -> T {
        smol::block_on(future)
    }

    fn start(builder: ClientBuilder) -> Client {
        builder.start_smol().expect("a valid configuration")
    }

    fn build(builder: ClientBuilder) -> (Client, DriverFuture) {
        let (client, driver) = builder.build_async().expect("a valid configuration");
        (client, Box::pin(driver))
    }

    fn spawn(driver: DriverFuture) -> DriverTask {
        Box::pin(smol::spawn(driver))
    }

    fn detach(driver: DriverFuture) {
        smol::spawn(driver).detach();
    }

    async fn sleep(duration: Duration) {
        smol::Timer::after(duration).await;
    }
}

/// async-std: `start_async_std`, `build_async` spawned with `async_std::task::spawn`.
#[cfg(feature = "async-std")]
pub struct AsyncStd;

#[cfg(feature = "async-std")]
impl Runtime for AsyncStd {
    fn block_on<T>(future: impl Future<Output = T>) -> T {
        async_std::task::block_on(future)
    }

    fn start(builder: ClientBuilder) -> Client {
        builder.start_async_std().expect("a valid configuration")
    }

    fn build(builder: ClientBuilder) -> (Client, DriverFuture) {
        let (client, driver) = builder.build_async().expect("a valid configuration");
        (client, Box::pin(driver))
    }

    fn spawn(driver: DriverFuture) -> DriverTask {
        Box::pin(async_std::task::spawn(driver))
    }

    fn detach(driver: DriverFuture) {
        drop(async_std::task::spawn(driver));
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> {
        async_std::task::sleep(duration)
    }
}

/// Makes a module per test function named, with a `#[test]` per async runtime of this build.
macro_rules! on_async_runtimes {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[allow(unused_imports)]
                use $crate::async_support::Runtime as _;

                #[cfg(feature = "smol")]
                #[test]
                fn smol() {
                    $crate::async_support::Smol::run_test(super::$test::<$crate::async_support::Smol>);
                }

                #[cfg(feature = "async-std")]
                #[test]
                fn async_std() {
                    $crate::async_support::AsyncStd::run_test(super::$test::<$crate::async_support::AsyncStd>);
                }

                #[cfg(feature = "tokio")]
                #[test]
                fn tokio_current_thread() {
                    $crate::async_support::TokioCurrentThread::run_test(
                        super::$test::<$crate::async_support::TokioCurrentThread>,
                    );
                }

                #[cfg(feature = "tokio")]
                #[test]
                fn tokio_multi_thread() {
                    $crate::async_support::TokioMultiThread::run_test(
                        super::$test::<$crate::async_support::TokioMultiThread>,
                    );
                }
            }
        )*
    };
}
