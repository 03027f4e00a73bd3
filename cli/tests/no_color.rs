//! Colour only on a terminal and never with NO_COLOR: piped output carries no escapes.

mod common;

use common::{Proc, closed_port, serve};

#[test]
fn piped_client_output_has_no_escapes_with_or_without_no_color() {
    let (_server, port) = serve(&[]);
    for no_color in [false, true] {
        let url = format!("ws://127.0.0.1:{port}/");
        let mut client = Proc::start_with(&[&url], |command| {
            if no_color {
                command.env("NO_COLOR", "1");
            } else {
                command.env_remove("NO_COLOR");
            }
        });
        client.write_stdin(b"plain\n");
        client.wait_stdout("the echo", |out| out == "plain\n");
        client.close_stdin();
        assert!(client.wait_exit().success());
        let err = client.stderr();
        assert!(err.contains("connected") && !err.contains('\x1b'), "{err:?}");
        assert!(!client.stdout().contains('\x1b'));
    }
    let url = format!("ws://127.0.0.1:{}/", closed_port());
    let mut failing = Proc::start(&[&url, "--no-reconnect"]);
    assert_eq!(failing.wait_exit().code(), Some(1));
    let err = failing.stderr();
    assert!(err.contains("resock: error:") && !err.contains('\x1b'), "{err:?}");
}
