//! What the server sees of the client's handshake options.

mod common;

use common::{Proc, events, json_lines, serve};

#[test]
fn headers_and_subprotocols_reach_the_server() {
    for runtime in ["smol", "async-std", "tokio", "blocking"] {
        // The server speaks chat.v1 and chat.v2; it picks the first of the client's offers it
        // speaks.
        let (server, port) = serve(&["--json-events", "--subprotocol", "chat.v1", "--subprotocol", "chat.v2"]);
        let url = format!("ws://127.0.0.1:{port}/room?id=7");
        let mut client = Proc::start(&[
            &url,
            "--runtime",
            runtime,
            "-H",
            "Authorization: Bearer t0ken",
            "--header",
            "X-Trace:  abc ",
            "--subprotocol",
            "chat.v2",
            "--subprotocol",
            "chat.v1",
        ]);
        client.wait_stderr("the connection", |err| err.contains("connected"));
        client.close_stdin();
        assert!(client.wait_exit().success(), "{runtime}: {}", client.stderr());
        // The client reports the subprotocol with the compression both agreed.
        assert!(
            client
                .stderr()
                .contains("connected (subprotocol chat.v2, permessage-deflate)"),
            "{}",
            client.stderr()
        );

        let log = server.wait_stdout("the connection", |out| out.contains("\"connected\""));
        let all = json_lines(&log);
        let connected = events(&all, "connected")[0];
        assert_eq!(connected["path"], "/room?id=7");
        assert_eq!(connected["subprotocol"], "chat.v2");
        let headers = &connected["headers"];
        assert_eq!(headers["authorization"], "Bearer t0ken", "{runtime}");
        assert_eq!(headers["x-trace"], "abc", "{runtime}");
        assert_eq!(headers["sec-websocket-protocol"], "chat.v2, chat.v1", "{runtime}");
    }
}

/// Subprotocols come only from the server's `--subprotocol` list: none given, none chosen;
/// an offer outside the list is never chosen.
#[test]
fn the_server_chooses_only_subprotocols_it_was_given() {
    for (server_flags, agreed) in [
        (&["--json-events"][..], None),
        (&["--json-events", "--subprotocol", "other"][..], None),
        (&["--json-events", "--subprotocol", "chat.v1"][..], Some("chat.v1")),
    ] {
        let (server, port) = serve(server_flags);
        let url = format!("ws://127.0.0.1:{port}/");
        let mut client = Proc::start(&[&url, "--subprotocol", "chat.v2", "--subprotocol", "chat.v1"]);
        client.wait_stderr("the connection", |err| err.contains("connected"));
        client.close_stdin();
        assert!(client.wait_exit().success(), "{}", client.stderr());
        let log = server.wait_stdout("the connection", |out| out.contains("\"connected\""));
        let all = json_lines(&log);
        let connected = events(&all, "connected")[0];
        assert_eq!(connected["subprotocol"].as_str(), agreed, "{server_flags:?}");
    }
}

/// `--origin` lists the Origin values accepted; any other (or none) is answered 403 and
/// reported as a `refused` event.
#[test]
fn only_listed_origins_are_accepted() {
    use std::io::{Read, Write};
    let (server, port) = serve(&["--json-events", "--origin", "https://app.example"]);
    let answer = |origin: Option<&str>| {
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(common::LIMIT)).unwrap();
        let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
        let request = format!(
            "GET /app HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
        );
        tcp.write_all(request.as_bytes()).unwrap();
        let mut head = [0u8; 12];
        tcp.read_exact(&mut head).unwrap();
        String::from_utf8_lossy(&head).into_owned()
    };
    assert_eq!(answer(Some("https://app.example")), "HTTP/1.1 101");
    assert_eq!(answer(Some("https://evil.example")), "HTTP/1.1 403");
    assert_eq!(answer(None), "HTTP/1.1 403");
    // The connection's event and the refusals come from different tasks, in any order.
    let log = server.wait_stdout("two refusals and a connection", |out| {
        out.matches("\"refused\"").count() == 2 && out.contains("\"connected\"")
    });
    let all = json_lines(&log);
    let refused = events(&all, "refused");
    assert_eq!(refused[0]["status"], 403);
    assert_eq!(refused[0]["origin"], "https://evil.example");
    assert_eq!(refused[0]["path"], "/app");
    assert_eq!(refused[1]["origin"], serde_json::Value::Null);
    assert_eq!(events(&all, "connected").len(), 1);
}

#[test]
fn compression_is_offered_unless_turned_off_on_either_side() {
    for (client_flags, server_flags, agreed) in [
        (&[][..], &["--json-events"][..], "permessage-deflate"),
        (&["--no-compress"][..], &["--json-events"][..], ""),
        (&[][..], &["--json-events", "--no-compress"][..], ""),
    ] {
        let (server, port) = serve(server_flags);
        let url = format!("ws://127.0.0.1:{port}/");
        let mut args = vec![url.as_str(), "--json-events", "--runtime", "blocking"];
        args.extend_from_slice(client_flags);
        let mut client = Proc::start(&args);
        // 2 KiB of JSON-like text: compressed on the wire when agreed, echoed whole either way.
        let line = "{\"price\":\"101.25\",\"qty\":3}".repeat(80);
        client.write_stdin(format!("{line}\n").as_bytes());
        let out = client.wait_stdout("the echo", |out| out.contains("\"message\""));
        client.close_stdin();
        assert!(client.wait_exit().success(), "{}", client.stderr());
        let all = json_lines(&out);
        assert_eq!(
            events(&all, "open")[0]["extensions"],
            agreed,
            "{client_flags:?} {server_flags:?}"
        );
        assert_eq!(events(&all, "message")[0]["text"], line.as_str());
        // The server's `connected` event shows the same agreement (null when none).
        let log = server.wait_stdout("the connection", |out| out.contains("\"connected\""));
        let server_events = json_lines(&log);
        let seen = &events(&server_events, "connected")[0]["extensions"];
        match agreed {
            "" => assert!(seen.is_null(), "{client_flags:?} {server_flags:?}: {seen}"),
            agreed => assert_eq!(seen, agreed, "{client_flags:?} {server_flags:?}"),
        }
    }
}
