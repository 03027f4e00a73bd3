//! `--max-redirects`: the CLI follows a redirect to `resock serve` on another port (another
//! origin: the `Authorization` given with `-H` stays behind), says so on stderr, and fails with
//! the chain on a loop or with 0.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::{Proc, events, json_lines, serve};

/// A loopback HTTP server answering every request with `302 Location: <location>` (`{self}`
/// in it is this server's own `ws://` address), stopped and joined on drop.
struct Redirector {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Redirector {
    fn start(location: &str) -> Redirector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let location = location.replace("{self}", &format!("ws://127.0.0.1:{port}"));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let answer = format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Redirector {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Redirector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_redirect_to_another_origin_is_followed_without_the_credentials() {
    for runtime in ["smol", "async-std", "tokio", "blocking"] {
        let (server, port) = serve(&["--json-events"]);
        let redirector = Redirector::start(&format!("ws://127.0.0.1:{port}/room?id=7"));
        let url = format!("ws://127.0.0.1:{}/old", redirector.port);
        let mut client = Proc::start(&[
            &url,
            "--runtime",
            runtime,
            "-H",
            "Authorization: Bearer t0ken",
            "-H",
            "X-Trace: abc",
        ]);
        client.wait_stderr("the connection", |err| err.contains("connected"));
        client.close_stdin();
        assert!(client.wait_exit().success(), "{runtime}: {}", client.stderr());
        let err = client.stderr();
        assert!(
            err.contains(&format!("redirected (302) to ws://127.0.0.1:{port}/room?…")),
            "{runtime}: {err}"
        );
        let log = server.wait_stdout("the connection", |out| out.contains("\"connected\""));
        let all = json_lines(&log);
        let connected = events(&all, "connected")[0];
        assert_eq!(connected["path"], "/room?id=7");
        let headers = &connected["headers"];
        assert!(headers.get("authorization").is_none(), "{runtime}: {headers}");
        assert_eq!(headers["x-trace"], "abc", "{runtime}");
    }
}

#[test]
fn a_loop_fails_with_the_chain_and_zero_turns_following_off() {
    let redirector = Redirector::start("{self}/again");
    let base = format!("ws://127.0.0.1:{}", redirector.port);
    let url = format!("{base}/start");
    let mut client = Proc::start(&[&url, "--max-redirects", "2", "--json-events"]);
    assert_eq!(client.wait_exit().code(), Some(1));
    let err = client.stderr();
    let reason = format!(
        "resock: error: connection failed: stopped after 2 redirects (max_redirects is 2): {base}/start -> \
         {base}/again -> {base}/again -> {base}/again (not followed)\n"
    );
    assert!(err.ends_with(&reason), "{err}");
    let all = json_lines(&client.stdout());
    let hops: Vec<_> = events(&all, "redirected").iter().map(|e| e["url"].clone()).collect();
    assert_eq!(hops, [format!("{base}/again"), format!("{base}/again")]);

    let mut client = Proc::start(&[&url, "--max-redirects", "0"]);
    assert_eq!(client.wait_exit().code(), Some(1));
    let err = client.stderr();
    assert!(err.contains("HTTP 302"), "{err}");
    assert!(!err.contains("redirected"), "{err}");
}
