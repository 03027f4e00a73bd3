//! tokio's two runtime flavours as test runtimes: each test makes its own runtime, clients start
//! with `start_tokio` and `build_tokio`, drivers are spawned on that runtime, and the tests'
//! own waits use tokio's timer, so nothing here runs on async-io.
//!
//! On the current-thread runtime, the drivers run only while the test thread is inside
//! [`Runtime::block_on`]: a test body must wait for the client inside `block_on`.

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::Duration;

use resock::{Client, ClientBuilder};

use super::runtime::{DriverFuture, DriverTask, Runtime};

thread_local! {
    /// The runtime of the test running on this thread, while [`Runtime::run_test`] runs.
    static RUNTIME: RefCell<Option<Rc<tokio::runtime::Runtime>>> = const { RefCell::new(None) };
}

/// The runtime of the test running on this thread.
fn runtime() -> Rc<tokio::runtime::Runtime> {
    RUNTIME
        .with(|slot| slot.borrow().clone())
        .expect("a tokio test body runs inside Runtime::run_test (on_async_runtimes! does this)")
}

/// Makes `runtime` the thread's runtime while `body` runs, then shuts it down (here, not in a
/// thread-local destructor, where tokio's own thread-locals may already be gone).
fn run_with(runtime: tokio::runtime::Runtime, body: impl FnOnce()) {
    /// Takes the runtime out on the way out, a panic included.
    struct Uninstall;

    impl Drop for Uninstall {
        fn drop(&mut self) {
            let runtime = RUNTIME.with(|slot| slot.borrow_mut().take());
            drop(runtime);
        }
    }

    RUNTIME.with(|slot| *slot.borrow_mut() = Some(Rc::new(runtime)));
    let _uninstall = Uninstall;
    body();
}

/// A tokio runtime flavour: how a test's runtime is built.
pub trait Flavour {
    /// A fresh runtime of this flavour.
    fn runtime() -> tokio::runtime::Runtime;
}

/// tokio as a test runtime, in flavour `F`.
pub struct Tokio<F>(PhantomData<F>);

/// tokio's current-thread runtime: the test body, the drivers and tokio's IO and timers all on
/// the test's thread.
pub type TokioCurrentThread = Tokio<CurrentThread>;

/// tokio's multi-thread runtime with two workers: the drivers run on the workers, the test body
/// on the test's thread.
pub type TokioMultiThread = Tokio<MultiThread>;

/// See [`TokioCurrentThread`].
pub struct CurrentThread;

impl Flavour for CurrentThread {
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
    }
}

/// See [`TokioMultiThread`].
pub struct MultiThread;

impl Flavour for MultiThread {
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a multi-thread runtime")
    }
}

impl<F: Flavour> Runtime for Tokio<F> {
    fn run_test(body: impl FnOnce()) {
        run_with(F::runtime(), body);
    }

    fn block_on<T>(future: impl Future<Output = T>) -> T {
        runtime().block_on(future)
    }

    fn start(builder: ClientBuilder) -> Client {
        let runtime = runtime();
        let _context = runtime.enter();
        builder.start_tokio().expect("a valid configuration")
    }

    fn build(builder: ClientBuilder) -> (Client, DriverFuture) {
        let (client, driver) = builder.build_tokio().expect("a valid configuration");
        (client, Box::pin(driver))
    }

    fn spawn(driver: DriverFuture) -> DriverTask {
        let task = runtime().spawn(driver);
        Box::pin(async move { task.await.expect("the driver task ends without a panic") })
    }

    fn detach(driver: DriverFuture) {
        drop(runtime().spawn(driver));
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(duration)
    }
}
