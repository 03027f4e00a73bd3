//! `resock URL` against `resock serve`: lines out, echoes back, a clean close at the end of
//! stdin, on each runtime.

mod common;

use common::{Proc, events, json_lines, serve};

fn echo_round_trip(runtime: &str) {
    let (server, port) = serve(&["--json-events"]);
    let url = format!("ws://127.0.0.1:{port}/echo");
    let mut client = Proc::start(&[&url, "--runtime", runtime]);
    client.write_stdin("hello\nκόσμε\r\n".as_bytes());
    client.wait_stdout("both echoes", |out| out == "hello\nκόσμε\n");
    client.write_stdin(b"\nlast\n");
    client.wait_stdout("the empty line and the last one", |out| out.ends_with("\n\nlast\n"));
    client.close_stdin();
    let status = client.wait_exit();
    assert!(status.success(), "{status}: {}", client.stderr());
    let err = client.stderr();
    assert!(err.contains("connected"), "{err}");
    assert!(err.contains("closed with 1000 (normal closure)"), "{err}");
    // The server saw the close frame with 1000 (end of stdin closes cleanly).
    let log = server.wait_stdout("the disconnect", |out| out.contains("\"disconnected\""));
    let all = json_lines(&log);
    let gone = events(&all, "disconnected");
    assert_eq!(gone[0]["code"], 1000, "{log}");
    assert_eq!(gone[0]["error"], serde_json::Value::Null, "{log}");
    let texts: Vec<_> = events(&all, "message").iter().map(|m| m["text"].clone()).collect();
    assert_eq!(texts, ["hello", "κόσμε", "", "last"]);
}

#[test]
fn echo_on_smol() {
    echo_round_trip("smol");
}

#[test]
fn echo_on_async_std() {
    echo_round_trip("async-std");
}

#[test]
fn echo_on_tokio() {
    echo_round_trip("tokio");
}

#[test]
fn echo_on_blocking() {
    echo_round_trip("blocking");
}

#[test]
fn exit_after_n_messages_closes_cleanly_and_prints_exactly_n() {
    for runtime in ["smol", "tokio", "blocking"] {
        let (server, port) = serve(&["--json-events"]);
        let url = format!("ws://127.0.0.1:{port}");
        let mut client = Proc::start(&[&url, "--exit-after", "2", "-q", "--runtime", runtime]);
        client.write_stdin(b"one\ntwo\nthree\n");
        // stdin stays open: the message count alone ends the client.
        let status = client.wait_exit();
        assert!(status.success(), "{runtime}: {status}: {}", client.stderr());
        assert_eq!(client.stdout(), "one\ntwo\n", "{runtime}");
        assert_eq!(client.stderr(), "", "{runtime}: -q prints no status lines");
        let log = server.wait_stdout("the disconnect", |out| out.contains("\"disconnected\""));
        assert_eq!(events(&json_lines(&log), "disconnected")[0]["code"], 1000);
    }
}

#[test]
fn json_events_are_one_object_per_line() {
    let (_server, port) = serve(&[]);
    let url = format!("ws://127.0.0.1:{port}");
    let mut client = Proc::start(&[&url, "--json-events", "--ping-interval", "100"]);
    client.write_stdin(b"a \"quoted\" line\n");
    client.wait_stdout("a pong", |out| out.contains("\"event\":\"pong\""));
    client.close_stdin();
    assert!(client.wait_exit().success());
    let out = client.stdout();
    let all = json_lines(&out);
    assert_eq!(all[0]["event"], "state");
    assert_eq!(all[0]["state"], "connecting");
    assert_eq!(all[0]["attempt"], 1);
    assert_eq!(events(&all, "open").len(), 1);
    assert_eq!(events(&all, "message")[0]["text"], "a \"quoted\" line");
    assert!(events(&all, "pong")[0]["rtt_ms"].as_f64().unwrap() >= 0.0);
    let closed = events(&all, "closed");
    assert_eq!(closed[0]["code"], 1000);
    assert_eq!(closed[0]["by"], "client");
    let last = all.last().unwrap();
    assert_eq!(
        (last["state"].as_str(), last["ok"].as_bool()),
        (Some("closed"), Some(true))
    );
    // JSON mode keeps stderr free of status lines.
    assert_eq!(client.stderr(), "");
}

#[test]
fn binary_mode_sends_bytes_and_writes_them_raw() {
    let (_server, port) = serve(&[]);
    let url = format!("ws://127.0.0.1:{port}");
    let mut client = Proc::start(&[&url, "--binary", "-q"]);
    client.write_stdin(b"\xff\x00raw\nbytes\n");
    client.wait_stdout("both echoes", |out| out.ends_with("rawbytes"));
    client.close_stdin();
    assert!(client.wait_exit().success());
    assert_eq!(client.stdout_bytes(), b"\xff\x00rawbytes");

    // Without --binary, binary messages print as hex lines: a --binary client sends, a text
    // client in broadcast mode receives.
    let (_relay, port) = serve(&["--broadcast"]);
    let url = format!("ws://127.0.0.1:{port}");
    let mut reader = Proc::start(&[&url, "--exit-after", "1"]);
    reader.wait_stderr("the reader's connection", |err| err.contains("connected"));
    let mut writer = Proc::start(&[&url, "--binary", "-q"]);
    writer.write_stdin(b"\x01\xab\n");
    assert!(reader.wait_exit().success(), "{}", reader.stderr());
    assert_eq!(reader.stdout(), "01ab\n");
    writer.close_stdin();
    assert!(writer.wait_exit().success());
}

#[test]
fn text_mode_skips_lines_that_are_not_utf8() {
    let (_server, port) = serve(&[]);
    let url = format!("ws://127.0.0.1:{port}");
    let mut client = Proc::start(&[&url]);
    client.write_stdin(b"ok\n\xff\nafter\n");
    client.wait_stdout("the valid lines", |out| out == "ok\nafter\n");
    client.close_stdin();
    assert!(client.wait_exit().success());
    assert!(
        client.stderr().contains("line 2 is not valid UTF-8"),
        "{}",
        client.stderr()
    );
}

#[test]
fn a_closed_stdout_ends_the_client_with_a_clean_close() {
    let (server, port) = serve(&["--json-events"]);
    let url = format!("ws://127.0.0.1:{port}");
    let mut command = std::process::Command::new(common::BIN);
    command.args([url.as_str(), "-q"]);
    let mut client = Proc::spawn_with_closed_stdout(command);
    client.write_stdin(b"nobody reads this echo\n");
    // stdin stays open: only the failed write to stdout ends the client.
    assert!(client.wait_exit().success(), "{}", client.stderr());
    let log = server.wait_stdout("the disconnect", |out| out.contains("\"disconnected\""));
    assert_eq!(events(&json_lines(&log), "disconnected")[0]["code"], 1000);
}

/// A reader of stdout slower than the server loses nothing: while stdout is not read, the
/// client stops reading the socket instead of skipping messages.
#[test]
fn a_slow_stdout_loses_no_message() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    const LINES: usize = 3000;
    let (_server, port) = serve(&[]);
    let url = format!("ws://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_resock"))
        .args([url.as_str(), "--exit-after", &LINES.to_string(), "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A client that lost a message would never reach its count: kill it by PID after a bound.
    let pid = child.id();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(60));
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    });
    // All of stdin goes in before stdout is read at all: its pipe fills long before the end.
    let line = "x".repeat(100);
    let mut stdin = child.stdin.take().unwrap();
    let input: String = (0..LINES).map(|n| format!("{n} {line}\n")).collect();
    stdin.write_all(input.as_bytes()).unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let got: Vec<String> = out.lines().map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{status}: {err}");
    assert_eq!(got.len(), LINES, "{err}");
    for (n, text) in got.iter().enumerate() {
        assert!(text.starts_with(&format!("{n} ")), "line {n}: {text}");
    }
}
