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
