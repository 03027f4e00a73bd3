//! `resock serve`: the listening line, broadcast to every client, and a restart on the port
//! the client keeps reconnecting to.

mod common;

use common::{Proc, events, json_lines, serve};

#[test]
fn serve_reports_the_real_port_on_stderr_and_in_json() {
    let (server, port) = serve(&["--json-events"]);
    assert_ne!(port, 0);
    let out = server.wait_stdout("the listening event", |out| out.contains('\n'));
    let all = json_lines(&out);
    assert_eq!(all[0]["event"], "listening");
    assert_eq!(all[0]["port"], port);
    assert_eq!(all[0]["mode"], "echo");
    assert!(
        server
            .stderr()
            .starts_with(&format!("listening on ws://127.0.0.1:{port}"))
    );
}

#[test]
fn broadcast_sends_each_message_to_every_client() {
    let (_server, port) = serve(&["--broadcast"]);
    let url = format!("ws://127.0.0.1:{port}/");
    let mut first = Proc::start(&[&url]);
    let mut second = Proc::start(&[&url, "--runtime", "blocking"]);
    first.wait_stderr("the first connection", |err| err.contains("connected"));
    second.wait_stderr("the second connection", |err| err.contains("connected"));
    first.write_stdin(b"from the first\n");
    second.wait_stdout("the first's message", |out| out == "from the first\n");
    second.write_stdin(b"from the second\n");
    let expected = "from the first\nfrom the second\n";
    first.wait_stdout("both messages", |out| out == expected);
    second.wait_stdout("both messages", |out| out == expected);
    first.close_stdin();
    second.close_stdin();
    assert!(first.wait_exit().success());
    assert!(second.wait_exit().success());
}

#[test]
fn the_client_reconnects_to_a_restarted_server_and_delivers_what_was_queued() {
    for runtime in ["smol", "tokio"] {
        reconnect_to_a_restarted_server(runtime);
    }
}

fn reconnect_to_a_restarted_server(runtime: &str) {
    let (server, port) = serve(&[]);
    let url = format!("ws://127.0.0.1:{port}/");
    let mut client = Proc::start(&[
        &url,
        "--json-events",
        "--backoff-initial",
        "100",
        "--backoff-max",
        "300",
        "--runtime",
        runtime,
    ]);
    client.write_stdin(b"before\n");
    client.wait_stdout("the first echo", |out| out.contains(r#""text":"before""#));

    // Killed (SIGKILL by PID): no close frame, the client sees the transport end.
    drop(server);
    client.wait_stdout("the reconnect wait", |out| out.contains(r#""event":"reconnect""#));
    client.write_stdin(b"during the outage\n");
    let server = Proc::start(&["serve", &format!("127.0.0.1:{port}")]);
    assert_eq!(server.wait_listening(), port);

    client.wait_stdout("the queued message's echo", |out| {
        out.contains(r#""text":"during the outage""#)
    });
    client.close_stdin();
    assert!(client.wait_exit().success(), "{runtime}: {}", client.stderr());
    let all = json_lines(&client.stdout());
    assert_eq!(events(&all, "open").len(), 2, "{runtime}");
    let delay = events(&all, "reconnect")[0]["delay_ms"].as_u64().unwrap();
    assert!(
        delay <= 100,
        "{runtime}: full jitter over the first 100 ms, got {delay}"
    );
    let texts: Vec<_> = events(&all, "message").iter().map(|m| m["text"].clone()).collect();
    assert_eq!(texts, ["before", "during the outage"], "{runtime}");
}

/// SIGINT stops the server like SIGTERM: each client is closed with 1001, the events say
/// why, a summary follows, and the exit status is 0.
#[test]
fn sigint_closes_every_client_with_1001_and_exits_0() {
    let (mut server, port) = serve(&["--json-events", "--runtime", "tokio"]);
    let url = format!("ws://127.0.0.1:{port}/");
    let mut client = Proc::start(&[&url, "--no-reconnect"]);
    client.wait_stderr("the connection", |err| err.contains("connected"));
    server.wait_stdout("the connection", |out| out.contains("\"connected\""));
    let signal = std::process::Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(signal.success());
    assert!(server.wait_exit().success(), "{}", server.stderr());
    let all = json_lines(&server.stdout());
    let gone = events(&all, "disconnected");
    assert_eq!(gone[0]["code"], 1001);
    assert_eq!(gone[0]["why"], "going-away");
    let summary = events(&all, "shutdown");
    assert_eq!(summary[0]["signal"], "SIGINT");
    assert_eq!(summary[0]["closed_going_away"], 1);
    assert!(
        server.stderr().contains("SIGINT: stopped listening"),
        "{}",
        server.stderr()
    );
    client.wait_exit();
    assert!(client.stderr().contains("1001"), "{}", client.stderr());
}

/// An idle client is closed with 1000 after `--idle-timeout`; the event says why.
#[test]
fn an_idle_client_is_closed_with_1000_and_the_event_says_why() {
    let (server, port) = serve(&["--json-events", "--idle-timeout", "200", "--runtime", "async-std"]);
    let url = format!("ws://127.0.0.1:{port}/");
    let mut client = Proc::start(&[&url, "--no-reconnect", "-q"]);
    assert!(client.wait_exit().success(), "{}", client.stderr());
    let log = server.wait_stdout("the disconnect", |out| out.contains("\"disconnected\""));
    let all = json_lines(&log);
    let gone = events(&all, "disconnected")[0];
    assert_eq!(gone["code"], 1000);
    assert_eq!(gone["why"], "idle-timeout");
    assert_eq!(gone["error"], serde_json::Value::Null);
}

#[test]
fn serve_refuses_the_blocking_runtime_and_settings_that_cannot_work() {
    for (flags, needle) in [
        (
            &["--runtime", "blocking"][..],
            "[possible values: smol, async-std, tokio]",
        ),
        (&["--pong-timeout", "0"][..], "--pong-timeout"),
        (&["--max-connections", "0"][..], "--max-connections"),
    ] {
        let mut args = vec!["serve", "127.0.0.1:0"];
        args.extend_from_slice(flags);
        let mut server = Proc::start(&args);
        assert_eq!(server.wait_exit().code(), Some(2), "{flags:?}");
        assert!(server.stderr().contains(needle), "{flags:?}: {}", server.stderr());
    }
}

/// A second signal while a client keeps the close handshake waiting ends the wait at once,
/// with status 1, on the async-io runtimes' signal pipe and on tokio's signal driver alike.
#[test]
fn a_second_signal_exits_without_waiting_for_the_close_timeout() {
    use common::raw::{Ending, Raw};
    use std::time::{Duration, Instant};
    for runtime in ["smol", "tokio"] {
        let (mut server, port) = serve(&["--close-timeout", "10000", "--runtime", runtime]);
        let mut silent = Raw::open(port);
        let kill = |signal: &str| {
            let status = std::process::Command::new("kill")
                .args([signal, &server.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        };
        kill("-TERM");
        // The close frame arrived: the server is waiting for the answer that never comes.
        assert_eq!(
            silent.wait_close(Duration::from_secs(5)),
            Ending::Close(1001),
            "{runtime}"
        );
        let again = Instant::now();
        kill("-INT");
        let status = server.wait_exit_within(Duration::from_secs(5));
        assert_eq!(status.code(), Some(1), "{runtime}: {}", server.stderr());
        assert!(again.elapsed() < Duration::from_secs(5), "{runtime}");
        assert!(
            server.stderr().contains("SIGINT again"),
            "{runtime}: {}",
            server.stderr()
        );
    }
}

/// `--json-events` with a stdout nobody reads: the connection is still served at full speed
/// (lines are skipped, never waited for), and the loss is reported once stdout is read.
#[test]
fn a_stopped_stdout_reader_costs_event_lines_never_a_connection() {
    use common::raw::{Raw, TEXT};
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    use std::time::Duration;
    const COUNT: usize = 8000;
    let child = Command::new(common::BIN)
        .args(["serve", "127.0.0.1:0", "--json-events", "-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = ChildGuard(child);
    let mut stderr = BufReader::new(server.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line.split("ws://").nth(1).unwrap().split_whitespace().next().unwrap();
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    // stdout is not read while the client runs: its pipe and the printer's queue fill up.
    let mut client = Raw::open(port);
    for n in 0..COUNT {
        let text = format!("message {n}");
        client.send(TEXT, text.as_bytes()).unwrap();
        let echo = client.read_frame(Duration::from_secs(5)).expect("every echo, at once");
        assert_eq!(echo.payload, text.as_bytes());
    }
    client.send_close(1000).unwrap();
    let ending = client.wait_close(Duration::from_secs(5));
    assert_eq!(ending, common::raw::Ending::Close(1000));
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // Read on a thread, so a server that does not exit fails the test instead of hanging it
    // (the guard then kills it, which ends the read).
    let mut stdout = server.0.stdout.take().unwrap();
    let (read, out) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = read.send(text);
    });
    let out = out
        .recv_timeout(common::LIMIT)
        .expect("the server exits (closing its stdout) after SIGTERM");
    assert!(server.exit_within(common::LIMIT).success());
    let all = json_lines(&out);
    let skipped: u64 = events(&all, "skipped")
        .iter()
        .map(|e| e["lines"].as_u64().unwrap())
        .sum();
    let printed = all.iter().filter(|e| e["event"] != "skipped").count() as u64;
    assert!(skipped > 0, "the queue cannot hold {COUNT} lines");
    // listening, connected, the messages, disconnected, shutdown: printed or counted.
    assert_eq!(
        printed + skipped,
        COUNT as u64 + 4,
        "{}",
        &out[out.len().saturating_sub(500)..]
    );
}

/// A stdout nobody ever reads does not hold the exit after SIGTERM: the last lines get a
/// bounded while, then the process exits 0 anyway.
#[test]
fn a_stopped_stdout_reader_does_not_hold_the_exit() {
    use common::raw::{Ending, Raw, TEXT};
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let child = Command::new(common::BIN)
        .args(["serve", "127.0.0.1:0", "--json-events", "-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = ChildGuard(child);
    let mut stderr = BufReader::new(server.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line.split("ws://").nth(1).unwrap().split_whitespace().next().unwrap();
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    // Enough events to fill the pipe and the printer's queue; stdout is never read.
    let mut client = Raw::open(port);
    for n in 0..6000 {
        client.send(TEXT, format!("message {n}").as_bytes()).unwrap();
        client.read_frame(Duration::from_secs(5)).expect("the echo");
    }
    client.send_close(1000).unwrap();
    assert_eq!(client.wait_close(Duration::from_secs(5)), Ending::Close(1000));
    let signalled = Instant::now();
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = signalled + Duration::from_secs(6);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit with its stdout stopped"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

/// A child process killed (by PID) and reaped when dropped.
struct ChildGuard(std::process::Child);

impl ChildGuard {
    /// The exit status; panics when the process has not exited within `limit`.
    fn exit_within(&mut self, limit: std::time::Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "no exit within {limit:?}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
