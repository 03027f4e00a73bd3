//! How the client fails: the exit status and the reason on stderr.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use common::{Proc, closed_port, events, json_lines, serve};

#[test]
fn no_reconnect_against_a_closed_port_exits_1_with_the_reason() {
    for runtime in ["smol", "async-std", "tokio", "blocking"] {
        let port = closed_port();
        let url = format!("ws://127.0.0.1:{port}/");
        let mut client = Proc::start(&[&url, "--no-reconnect", "--runtime", runtime]);
        let status = client.wait_exit();
        assert_eq!(status.code(), Some(1), "{runtime}");
        let err = client.stderr();
        // One sentence, the same on every runtime.
        let reason = format!("resock: error: connection failed: connecting to 127.0.0.1:{port}: connection refused\n");
        assert!(err.ends_with(&reason), "{runtime}: {err}");
        assert_eq!(client.stdout(), "");
    }
}

#[test]
fn max_attempts_gives_up_after_that_many_attempts() {
    let url = format!("ws://127.0.0.1:{}/", closed_port());
    let mut client = Proc::start(&[&url, "--max-attempts", "2", "--backoff-initial", "20", "--json-events"]);
    let status = client.wait_exit();
    assert_eq!(status.code(), Some(1));
    let all = json_lines(&client.stdout());
    let attempts: Vec<_> = events(&all, "state")
        .into_iter()
        .filter(|e| e["state"] == "connecting")
        .map(|e| e["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2]);
    assert_eq!(events(&all, "reconnect").len(), 1);
    let last = all.last().unwrap();
    assert_eq!(last["ok"], false);
    assert!(
        last["reason"].as_str().unwrap().starts_with("gave up reconnecting"),
        "{last}"
    );
    // The error goes to stderr even in JSON mode.
    assert!(
        client.stderr().contains("resock: error: gave up reconnecting"),
        "{}",
        client.stderr()
    );
}

#[test]
fn the_end_of_stdin_waits_for_a_connection_and_fails_if_none_comes() {
    let url = format!("ws://127.0.0.1:{}/", closed_port());
    let mut client = Proc::start(&[&url, "--max-attempts", "2", "--backoff-initial", "20", "-q"]);
    client.close_stdin();
    assert_eq!(client.wait_exit().code(), Some(1));
    // Quiet: no status lines, only the error.
    let err = client.stderr();
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["--bogus"], "unexpected argument"),
        (&["ftp://example.com/"], "bad URL"),
        (&["-H", "no colon", "ws://h/"], "Name: value"),
        (&["--runtime", "tokyo", "ws://h/"], "tokio"),
        (&["--max-attempts", "0", "ws://h/"], "max-attempts"),
        (&["--ping-interval", "soon", "ws://h/"], "ping-interval"),
        (&["--cacert", "/nonexistent/ca.pem", "wss://h/"], "--cacert"),
        (&["serve", "not-an-address"], "ADDR"),
        (&["demo", "--runtime", "blocking"], "smol, async-std or tokio"),
    ];
    for (args, needle) in cases {
        let mut client = Proc::start(args);
        let status = client.wait_exit();
        assert_eq!(status.code(), Some(2), "{args:?}: {}", client.stderr());
        assert!(client.stderr().contains(needle), "{args:?}: {}", client.stderr());
    }
}

#[test]
fn help_and_version_exit_0() {
    let mut help = Proc::start(&["--help"]);
    assert!(help.wait_exit().success());
    for option in [
        "--json-events",
        "--no-reconnect",
        "--max-attempts",
        "--backoff-initial",
        "--backoff-max",
        "--ping-interval",
        "--pong-timeout",
        "--open-timeout",
        "--close-timeout",
        "--max-message",
        "--queue-capacity",
        "--header",
        "--subprotocol",
        "--cacert",
        "--runtime",
        "--exit-after",
        "--quiet",
        "--binary",
    ] {
        assert!(help.stdout().contains(option), "--help lacks {option}");
    }
    let mut version = Proc::start(&["--version"]);
    assert!(version.wait_exit().success());
    assert!(version.stdout().starts_with("resock "));
}

#[test]
fn the_open_timeout_bounds_a_silent_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and reads, never answers the handshake; ends with the listener's last client.
    let silent = thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut sink = Vec::new();
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = stream.read_to_end(&mut sink);
        }
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let mut client = Proc::start(&[&url, "--no-reconnect", "--open-timeout", "300"]);
    assert_eq!(client.wait_exit().code(), Some(1));
    assert!(client.stderr().contains("timed out"), "{}", client.stderr());
    drop(client);
    silent.join().unwrap();
}

#[test]
fn max_message_refuses_a_bigger_message() {
    let (_server, port) = serve(&[]);
    let url = format!("ws://127.0.0.1:{port}/");
    let mut client = Proc::start(&[&url, "--no-reconnect", "--max-message", "1000"]);
    client.write_stdin(format!("{}\n", "x".repeat(2000)).as_bytes());
    assert_eq!(client.wait_exit().code(), Some(1));
    assert_eq!(client.stdout(), "");
    assert!(client.stderr().contains("resock: error:"), "{}", client.stderr());
}

#[test]
fn a_rejection_is_reported_with_its_status_and_not_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Answers one opening request with 401, then ends.
    let server = thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = stream.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let mut client = Proc::start(&[&url]);
    assert_eq!(client.wait_exit().code(), Some(1));
    let err = client.stderr();
    let reason =
        "resock: error: connection failed: the server rejected the WebSocket upgrade with HTTP 401 Unauthorized\n";
    assert!(err.ends_with(reason), "{err}");
    drop(client);
    server.join().unwrap();
}
