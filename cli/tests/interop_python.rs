//! `resock URL` against the Python `websockets` server of `interop/python/server.py`.
//!
//! Runs only when `.venv-interop/bin/python` exists at the workspace root
//! (`scripts/interop-setup.sh python` creates it); otherwise it prints a notice and passes,
//! unless `RESOCK_REQUIRE_PEERS=1` (which `scripts/test` sets after installing it): then it fails.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Proc;

/// The Python server, killed by PID when dropped, and its port.
fn python_server() -> Option<(Proc, u16)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv-interop/bin/python");
    if !python.exists() {
        assert!(
            std::env::var_os("RESOCK_REQUIRE_PEERS").is_none_or(|v| v != "1"),
            "RESOCK_REQUIRE_PEERS=1 but {} is missing (run scripts/interop-setup.sh)",
            python.display()
        );
        eprintln!(
            "skipped: {} not found (run scripts/interop-setup.sh python)",
            python.display()
        );
        return None;
    }
    let mut command = Command::new(python);
    command.arg(root.join("interop/python/server.py")).args(["--port", "0"]);
    let server = Proc::spawn(command);
    let out = server.wait_stdout("LISTENING <port>", |out| {
        out.contains("LISTENING ") && out.ends_with('\n')
    });
    let port = out
        .lines()
        .find_map(|l| l.strip_prefix("LISTENING "))
        .and_then(|p| p.trim().parse().ok())
        .expect("a port after LISTENING");
    Some((server, port))
}

#[test]
fn echo_headers_subprotocol_and_close_codes_against_python_websockets() {
    let Some((_server, port)) = python_server() else {
        return;
    };
    let base = format!("ws://127.0.0.1:{port}");

    for runtime in ["smol", "async-std", "tokio", "blocking"] {
        let mut client = Proc::start(&[&format!("{base}/echo"), "--runtime", runtime, "-q"]);
        client.write_stdin("hello\nκόσμε\n".as_bytes());
        client.wait_stdout("the echoes", |out| out == "hello\nκόσμε\n");
        client.close_stdin();
        assert!(client.wait_exit().success(), "{runtime}: {}", client.stderr());
    }

    // /headers sends the request headers as JSON first.
    let mut client = Proc::start(&[&format!("{base}/headers"), "-H", "X-Resock: cli", "--exit-after", "1"]);
    assert!(client.wait_exit().success(), "{}", client.stderr());
    let headers: serde_json::Value = serde_json::from_str(client.stdout().trim_end()).unwrap();
    assert_eq!(headers["x-resock"], "cli");

    // /subprotocol sends the negotiated one: the first the server supports.
    let url = format!("{base}/subprotocol");
    let args = [
        url.as_str(),
        "--subprotocol",
        "x.v9",
        "--subprotocol",
        "chat.v1",
        "--exit-after",
        "1",
    ];
    let mut client = Proc::start(&args);
    assert!(client.wait_exit().success(), "{}", client.stderr());
    assert_eq!(client.stdout(), "chat.v1\n");
    assert!(client.stderr().contains("connected (subprotocol chat.v1)"));

    // A normal close by the server ends a --no-reconnect client with 0; 1011 with 1.
    for (code, status) in [(1000, 0), (1011, 1)] {
        let url = format!("{base}/close/{code}");
        let mut client = Proc::start(&[&url, "--no-reconnect"]);
        client.write_stdin(b"bye?\n");
        assert_eq!(client.wait_exit().code(), Some(status), "{code}: {}", client.stderr());
        assert!(
            client.stderr().contains(&format!("closed by the server with {code}")),
            "{}",
            client.stderr()
        );
    }
}
