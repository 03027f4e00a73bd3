//! `resock serve --json-events` tells each refused connection as a `refused` event (status,
//! reason, the client's address) and counts them in the shutdown summary, on every runtime:
//! a slowloris (408), a request that is not an opening request (400), an Origin not allowed
//! (403), the per-IP limit (429) and a full server (503).
#![cfg(unix)]

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::raw::{Raw, request};
use common::{Proc, events, json_lines, serve};

const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// The answer's status line to `head` (a request, complete or not) on a new socket, and the
/// socket's own address (the server's `peer`).
fn exchange(port: u16, head: &str) -> (String, SocketAddr, Raw) {
    let mut raw = Raw::connect(port);
    raw.tcp.write_all(head.as_bytes()).unwrap();
    let answer = raw.read_head(ANSWER_WITHIN).expect("an answer");
    let status = answer.lines().next().unwrap_or_default().to_owned();
    let addr = raw.tcp.local_addr().unwrap();
    (status, addr, raw)
}

fn with_origin(origin: &str) -> String {
    request("/app").replacen("\r\n\r\n", &format!("\r\nOrigin: {origin}\r\n\r\n"), 1)
}

fn sigterm(server: &mut Proc) {
    let pid = server.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(server.wait_exit().success(), "{}", server.stderr());
}

#[test]
fn every_refusal_is_an_event_and_the_summary_counts_them() {
    for runtime in ["smol", "async-std", "tokio"] {
        let flags = [
            "--json-events",
            "--runtime",
            runtime,
            "--handshake-timeout",
            "300",
            // The held connections never answer the shutdown's close frame.
            "--close-timeout",
            "200",
            "--max-connections-per-ip",
            "2",
            "--origin",
            "https://app.example",
        ];
        let (mut server, port) = serve(&flags);
        let (slow, slow_addr, _) = exchange(port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs");
        assert!(slow.starts_with("HTTP/1.1 408"), "{runtime}: {slow}");
        let (bad, bad_addr, _) = exchange(port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        assert!(bad.starts_with("HTTP/1.1 400"), "{runtime}: {bad}");
        let (evil, evil_addr, _) = exchange(port, &with_origin("https://evil.example"));
        assert!(evil.starts_with("HTTP/1.1 403"), "{runtime}: {evil}");
        // The refused sockets above may still be held for a moment: wait until both places
        // of this address are served.
        server.wait_stdout("the earlier refusals", |out| out.matches("\"refused\"").count() == 3);
        let (first, _, _held_first) = exchange(port, &with_origin("https://app.example"));
        let (second, _, _held_second) = exchange(port, &with_origin("https://app.example"));
        assert!(
            first.starts_with("HTTP/1.1 101") && second.starts_with("HTTP/1.1 101"),
            "{runtime}"
        );
        let (third, third_addr, _) = exchange(port, &with_origin("https://app.example"));
        assert!(third.starts_with("HTTP/1.1 429"), "{runtime}: {third}");

        let log = server.wait_stdout("four refusals", |out| out.matches("\"refused\"").count() == 4);
        let all = json_lines(&log);
        let refused = events(&all, "refused");
        // Refusals of different connections are reported by their own tasks, so their events
        // may come in any order (a 400 is reported when its connection ends, after the answer):
        // compared as sets, each event found by its reason.
        let mut seen: Vec<(String, u64, String)> = refused
            .iter()
            .map(|r| {
                let peer = r["peer"].as_str().unwrap().to_owned();
                (
                    peer,
                    r["status"].as_u64().unwrap(),
                    r["reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut expected = [
            (slow_addr, 408, "handshake-timeout"),
            (bad_addr, 400, "bad-request"),
            (evil_addr, 403, "rejected"),
            (third_addr, 429, "per-ip-limit"),
        ]
        .map(|(addr, status, reason)| (addr.to_string(), status, reason.to_owned()));
        seen.sort();
        expected.sort();
        assert_eq!(seen, expected, "{runtime}");
        let by_reason = |reason: &str| {
            *refused
                .iter()
                .find(|r| r["reason"] == reason)
                .unwrap_or_else(|| panic!("{runtime}: no {reason} event"))
        };
        assert!(
            by_reason("bad-request")["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty()),
            "{runtime}"
        );
        assert_eq!(by_reason("rejected")["origin"], "https://evil.example", "{runtime}");
        assert_eq!(by_reason("rejected")["path"], "/app", "{runtime}");

        sigterm(&mut server);
        let all = json_lines(&server.stdout());
        let summary = events(&all, "shutdown")[0];
        assert_eq!(summary["refused"], 4, "{runtime}: {summary}");
        let by_reason = &summary["refused_by_reason"];
        for reason in ["handshake-timeout", "bad-request", "rejected", "per-ip-limit"] {
            assert_eq!(by_reason[reason], 1, "{runtime}: {summary}");
        }
        assert!(
            server.stderr().contains("refused 4 connection(s)"),
            "{runtime}: {}",
            server.stderr()
        );
    }
}

#[test]
fn a_full_server_tells_each_503() {
    let (mut server, port) = serve(&[
        "--json-events",
        "--max-connections",
        "1",
        "--close-timeout",
        "200",
        "-q",
    ]);
    let (open, _, _held) = exchange(port, &request("/"));
    assert!(open.starts_with("HTTP/1.1 101"), "{open}");
    let mut refused_addrs = Vec::new();
    for _ in 0..2 {
        let (full, addr, _) = exchange(port, &request("/"));
        assert!(full.starts_with("HTTP/1.1 503"), "{full}");
        refused_addrs.push(addr.to_string());
    }
    let log = server.wait_stdout("two refusals", |out| out.matches("\"refused\"").count() == 2);
    let all = json_lines(&log);
    for (event, addr) in events(&all, "refused").iter().zip(&refused_addrs) {
        assert_eq!((&event["status"], &event["reason"]), (&503.into(), &"full".into()));
        assert_eq!(event["peer"].as_str(), Some(addr.as_str()));
        assert!(event["path"].is_null(), "{event}");
    }
    sigterm(&mut server);
    let all = json_lines(&server.stdout());
    let summary = events(&all, "shutdown")[0];
    assert_eq!(summary["refused"], 2, "{summary}");
    assert_eq!(summary["refused_by_reason"]["full"], 2, "{summary}");
}
