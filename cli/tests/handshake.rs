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
        // The serve command picks the first subprotocol offered, and the client reports it.
        assert!(
            client.stderr().contains("connected (subprotocol chat.v2)"),
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
