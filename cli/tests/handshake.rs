//! What the server sees of the client's handshake options.

mod common;

use common::{Proc, events, json_lines, serve};

#[test]
fn headers_and_subprotocols_reach_the_server() {
    for runtime in ["smol", "async-std", "tokio", "blocking"] {
        let (server, port) = serve(&["--json-events"]);
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
        // The serve command picks the first subprotocol offered, and the client reports it
        // with the compression both agreed.
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
        assert_eq!(connected["extensions"], "permessage-deflate");
        let headers = &connected["headers"];
        assert_eq!(headers["authorization"], "Bearer t0ken", "{runtime}");
        assert_eq!(headers["x-trace"], "abc", "{runtime}");
        assert_eq!(headers["sec-websocket-protocol"], "chat.v2, chat.v1", "{runtime}");
    }
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
        let log = server.wait_stdout("the connection", |out| out.contains("\"connected\""));
        assert_eq!(events(&json_lines(&log), "connected")[0]["extensions"], agreed);
    }
}
