//! The async client natively on tokio: the same `Client` on the current-thread and the
//! multi-thread runtime, on tokio's own IO and timers (and tokio-rustls for wss://), with no
//! async-io reactor thread. The shared test bodies run on tokio too (`async_support`,
//! `support::runtimes`); this file checks what is tokio's alone.
#![cfg(feature = "tokio")]

mod support;

use std::time::Duration;

use resock::{ClientBuilder, CloseCode, ClosedReason, Message};
use support::ws_server::{Server, accept, echo};

/// Every wait here takes milliseconds on loopback.
const LIMIT: Duration = Duration::from_secs(20);

fn echo_server() -> Server {
    Server::local(|stream| {
        if let Some(mut ws) = accept(stream) {
            echo(&mut ws);
        }
    })
}

/// Echoes a text and a binary message through a client started with `start_tokio`, closes,
/// and checks the driver left no async-io reactor thread behind.
async fn echo_round_trip(url: String) {
    echo_round_trip_with(ClientBuilder::new(&url).unwrap()).await;
}

async fn echo_round_trip_with(builder: ClientBuilder) {
    let client = builder.start_tokio().unwrap();
    let run = async {
        client.connected().await.expect("opens");
        client.send_text("hello").await.unwrap();
        client.send_binary(vec![1u8, 2, 3]).await.unwrap();
        assert_eq!(client.recv().await.unwrap(), Message::text("hello"));
        assert_eq!(client.recv().await.unwrap(), Message::binary(vec![1u8, 2, 3]));
        assert_eq!(client.close(CloseCode::NORMAL, "bye").await, ClosedReason::User);
    };
    tokio::time::timeout(LIMIT, run).await.expect("within the limit");
}

/// Names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn assert_no_async_io_thread() {
    let names = thread_names();
    assert!(!names.is_empty(), "/proc/self/task lists this process's threads");
    assert!(
        !names.iter().any(|name| name.contains("async-io")),
        "tokio runs its own reactor only: {names:?}"
    );
}

#[test]
fn echo_on_the_current_thread_runtime() {
    let server = echo_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(echo_round_trip(server.url("/")));
    assert_no_async_io_thread();
}

#[test]
fn echo_on_the_multi_thread_runtime() {
    let server = echo_server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(echo_round_trip(server.url("/")));
    assert_no_async_io_thread();
}

#[test]
fn the_driver_of_build_tokio_ends_after_close() {
    let server = echo_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, driver) = ClientBuilder::new(&server.url("/")).unwrap().build_tokio().unwrap();
        let task = tokio::spawn(driver);
        let run = async {
            client.connected().await.expect("opens");
            client.close(CloseCode::NORMAL, "").await;
            task.await.expect("the driver task ends without a panic");
        };
        tokio::time::timeout(LIMIT, run).await.expect("within the limit");
    });
}

/// wss:// on tokio (tokio-rustls), trusting a test CA: the same echo, and still no async-io
/// thread.
#[cfg(feature = "rustls")]
#[test]
fn wss_echo_on_the_multi_thread_runtime() {
    use support::tls_server::{TestCa, spawn_tls};
    let ca = TestCa::new("resock tokio test CA");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (server, _hellos) = spawn_tls(listener, ca.leaf(&["localhost"]), |tls| {
        if let Some(mut ws) = accept(tls) {
            echo(&mut ws);
        }
    });
    let tls = resock::TlsOptions::no_default_roots()
        .add_root_pem(ca.pem().as_bytes())
        .unwrap();
    let builder = ClientBuilder::new(&format!("wss://localhost:{}/", server.addr().port()))
        .unwrap()
        .tls(tls);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(echo_round_trip_with(builder));
    assert_no_async_io_thread();
    server.stop();
}

/// The driver future of `build_tokio`, polled until it is stalled and then never again (a
/// driver task starved by the application): what `recv` gets afterwards it read itself.
struct Stallable {
    driver: resock::tokio::Driver,
    /// Held through every poll, so a stall never lands in the middle of one.
    stalled: std::sync::Arc<std::sync::Mutex<bool>>,
}

impl std::future::Future for Stallable {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let stalled = std::sync::Arc::clone(&self.stalled);
        let stalled = stalled.lock().unwrap();
        if *stalled {
            return std::task::Poll::Pending;
        }
        std::pin::Pin::new(&mut self.driver).poll(cx)
    }
}

/// On tokio a `recv` with an empty inbox reads the socket on its own task (no hand-over from
/// the driver task, which on the current-thread runtime costs a reactor poll per message), so
/// round trips go on with the driver task stalled after the connection opened.
fn recv_reads_on_its_own_task(runtime: tokio::runtime::Runtime) {
    let server = echo_server();
    runtime.block_on(async {
        let (client, driver) = ClientBuilder::new(&server.url("/")).unwrap().build_tokio().unwrap();
        let stalled = std::sync::Arc::new(std::sync::Mutex::new(false));
        tokio::spawn(Stallable {
            driver,
            stalled: std::sync::Arc::clone(&stalled),
        });
        let run = async {
            client.connected().await.expect("opens");
            *stalled.lock().unwrap() = true;
            for n in 0..20 {
                client.send_text(n.to_string()).await.unwrap();
                assert_eq!(client.recv().await.unwrap(), Message::text(n.to_string()));
            }
        };
        tokio::time::timeout(LIMIT, run)
            .await
            .expect("recv read the echoes itself while the driver task was stalled");
    });
    // Dropping the runtime drops the stalled task, which closes the socket; the server,
    // dropped next, then finds its connection over.
    drop(runtime);
}

#[test]
fn recv_reads_on_its_own_task_on_the_current_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    recv_reads_on_its_own_task(runtime);
}

#[test]
fn recv_reads_on_its_own_task_on_the_multi_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    recv_reads_on_its_own_task(runtime);
}

/// A sender that queues many messages without ever yielding (so the driver task cannot run)
/// still gets them onto the wire: once 8 KiB wait on the open connection, `send` writes them
/// itself. The server counts what it reads while the client's thread is blocked.
fn a_pipelining_sender_writes_before_it_yields(runtime: tokio::runtime::Runtime) {
    const MESSAGES: usize = 400;
    let (seen_tx, seen) = std::sync::mpsc::channel();
    let server = Server::local(move |stream| {
        let Some(mut ws) = accept(stream) else { return };
        let mut count = 0usize;
        while let Ok(message) = ws.read() {
            if message.is_binary() {
                count += 1;
                if seen_tx.send(count).is_err() {
                    return;
                }
            }
        }
    });
    runtime.block_on(async {
        let client = ClientBuilder::new(&server.url("/")).unwrap().start_tokio().unwrap();
        tokio::time::timeout(LIMIT, client.connected())
            .await
            .expect("within the limit")
            .expect("opens");
        for _ in 0..MESSAGES {
            // Each resolves at its first poll (the queue has room): the task never yields.
            client.send(Message::binary(vec![7u8; 100])).await.unwrap();
        }
        // Still without yielding: at most the last 8 KiB (81 frames of 106 bytes) may wait.
        let deadline = std::time::Instant::now() + LIMIT;
        let mut read = 0;
        wait_until_read(&seen, &mut read, MESSAGES - 81, deadline);
        // The rest leaves once the task waits.
        tokio::task::spawn_blocking(move || wait_until_read(&seen, &mut read, MESSAGES, deadline))
            .await
            .expect("the server read every message");
        assert_eq!(client.close(CloseCode::NORMAL, "").await, ClosedReason::User);
    });
}

/// Blocks until the server's count `read` has reached `count`, panicking at `deadline`.
fn wait_until_read(
    seen: &std::sync::mpsc::Receiver<usize>,
    read: &mut usize,
    count: usize,
    deadline: std::time::Instant,
) {
    while *read < count {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        *read = seen
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the server read {read} of {count} messages within the limit"));
    }
}

#[test]
fn a_pipelining_sender_writes_before_it_yields_on_the_current_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    a_pipelining_sender_writes_before_it_yields(runtime);
}

#[test]
fn a_pipelining_sender_writes_before_it_yields_on_the_multi_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    a_pipelining_sender_writes_before_it_yields(runtime);
}

/// Outside the driver's runtime (here a plain thread with no executor at all), `recv` leaves
/// the socket and the timers to the driver task: tokio's IO and timers belong to their runtime.
#[test]
fn recv_outside_the_runtime_waits_for_the_driver_task() {
    let server = echo_server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // A heartbeat: timers the loop arms again at every pong.
    let mut heartbeat = resock::HeartbeatConfig::default();
    heartbeat.interval = Some(Duration::from_millis(20));
    heartbeat.timeout = Duration::from_secs(5);
    let builder = ClientBuilder::new(&server.url("/")).unwrap().heartbeat(heartbeat);
    let client = {
        let _entered = runtime.enter();
        builder.start_tokio().unwrap()
    };
    let mut events = client.subscribe();
    let run = async {
        client.connected().await.expect("opens");
        let mut pongs = 0;
        for n in 0..20 {
            client.send_text(n.to_string()).await.unwrap();
            assert_eq!(client.recv().await.unwrap(), Message::text(n.to_string()));
        }
        while pongs < 3 {
            if let Some(Ok(resock::SessionEvent::Pong { .. })) = events.next().await {
                pongs += 1;
            }
        }
        client.send_text("last").await.unwrap();
        assert_eq!(client.recv().await.unwrap(), Message::text("last"));
        client.close(CloseCode::NORMAL, "").await
    };
    assert_eq!(block_on_within_limit(run), ClosedReason::User);
}

/// A runtime built without IO and timers (no `enable_all`) cannot run the driver: tokio panics
/// in the driver task, and the handle ends with an error that says how to build the runtime,
/// instead of waiting forever.
#[test]
fn a_runtime_without_io_or_timers_ends_the_client_with_a_sentence() {
    for runtime in [
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap(),
        tokio::runtime::Builder::new_current_thread().build().unwrap(),
    ] {
        let client = {
            let _entered = runtime.enter();
            ClientBuilder::new("ws://127.0.0.1:9/").unwrap().start_tokio().unwrap()
        };
        let opened = runtime.block_on(client.connected());
        let Err(ClosedReason::Fatal(resock::DisconnectReason::Transport(error))) = opened else {
            panic!("{opened:?}");
        };
        assert!(error.message.contains("enable_all"), "{error}");
        let refused = runtime.block_on(client.send_text("after"));
        assert!(matches!(refused, Err(resock::SendError::Closed(_))), "{refused:?}");
    }
}

/// Runs `future` on this thread with no runtime (parking between polls), at most [`LIMIT`].
fn block_on_within_limit<T>(future: impl std::future::Future<Output = T>) -> T {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(!left.is_zero(), "not within the limit");
        std::thread::park_timeout(left);
    }
}

/// The handle's futures can be spawned on a multi-thread runtime.
#[test]
fn the_futures_of_the_handle_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let (client, driver) = ClientBuilder::new("ws://127.0.0.1:9/").unwrap().build_tokio().unwrap();
    assert_send(&driver);
    assert_send(&client.recv());
    assert_send(&client.connected());
    assert_send(&client.send_text("x"));
    assert_send(&client.close(CloseCode::NORMAL, ""));
}
