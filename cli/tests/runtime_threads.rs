//! Each async mode runs on its own runtime only: `--runtime tokio` (the client, the demo and
//! `serve`, its signals included) on tokio's worker, with no async-io reactor thread (which smol and async-std start, and which
//! a stray async-io socket or timer in the tokio mode would start too). Read from the thread
//! names in `/proc` while the command runs, so Linux only.
#![cfg(target_os = "linux")]

mod common;

use common::{Proc, serve};

/// The names of the process's threads, sorted.
fn thread_names(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the process is running")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect();
    names.sort();
    names
}

fn has_tokio_worker(names: &[String]) -> bool {
    // "tokio-rt-worker" (or "tokio-runtime-w", the kernel's 15 bytes of older tokio's name).
    names.iter().any(|n| n.starts_with("tokio-r"))
}

fn has_async_io(names: &[String]) -> bool {
    names.iter().any(|n| n == "async-io")
}

/// The thread names of `resock URL --runtime RUNTIME` once it has echoed a line.
fn client_threads(runtime: &str) -> Vec<String> {
    let (_server, port) = serve(&[]);
    let url = format!("ws://127.0.0.1:{port}/");
    let mut client = Proc::start(&[&url, "--runtime", runtime, "-q"]);
    client.write_stdin(b"ping\n");
    client.wait_stdout("the echo", |out| out == "ping\n");
    let names = thread_names(client.id());
    client.close_stdin();
    assert!(client.wait_exit().success(), "{runtime}: {}", client.stderr());
    names
}

#[test]
fn the_tokio_client_runs_on_a_tokio_worker_and_starts_no_async_io_thread() {
    let tokio = client_threads("tokio");
    assert!(has_tokio_worker(&tokio), "{tokio:?}");
    assert!(!has_async_io(&tokio), "{tokio:?}");
    // The check can see async-io's thread: smol's client has one.
    let smol = client_threads("smol");
    assert!(has_async_io(&smol), "{smol:?}");
    assert!(!has_tokio_worker(&smol), "{smol:?}");
}

/// The demo sleeps and polls on its runtime's timers all along: on tokio, tokio's.
#[test]
fn the_tokio_demo_sleeps_on_tokio_timers() {
    let mut demo = Proc::start(&["demo", "--runtime", "tokio"]);
    demo.wait_stdout("the outage", |out| out.contains("(offline: 2 waiting in the queue)"));
    let names = thread_names(demo.id());
    assert!(demo.wait_exit().success(), "{}", demo.stderr());
    assert!(has_tokio_worker(&names), "{names:?}");
    assert!(!has_async_io(&names), "{names:?}");
}

/// `serve --runtime tokio` serves and catches its stop signals on tokio alone: no async-io
/// thread while it serves a client, and SIGTERM still closes that client with 1001 and exits 0.
#[test]
fn the_tokio_server_catches_its_signals_without_an_async_io_thread() {
    let (mut server, port) = serve(&["--runtime", "tokio", "--json-events"]);
    let url = format!("ws://127.0.0.1:{port}/");
    let mut client = Proc::start(&[&url, "--no-reconnect"]);
    client.wait_stderr("the connection", |err| err.contains("connected"));
    server.wait_stdout("the connection", |out| out.contains("\"connected\""));
    let names = thread_names(server.id());
    assert!(has_tokio_worker(&names), "{names:?}");
    assert!(!has_async_io(&names), "{names:?}");
    let signal = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(signal.success());
    assert!(server.wait_exit().success(), "{}", server.stderr());
    assert!(
        server.stdout().contains("\"signal\":\"SIGTERM\""),
        "{}",
        server.stdout()
    );
    client.wait_exit();
    assert!(client.stderr().contains("1001"), "{}", client.stderr());
    // The check can see async-io's thread: smol's server has one.
    let (smol, _) = serve(&["--runtime", "smol"]);
    let names = thread_names(smol.id());
    assert!(has_async_io(&names), "{names:?}");
}
