//! The demo (`resock` with no arguments) runs offline, quickly, and tells its story.

mod common;

use std::time::{Duration, Instant};

use common::Proc;

fn check_demo(args: &[&str], no_color: bool, runtime: &str) {
    let started = Instant::now();
    let mut demo = Proc::start_with(args, |command| {
        if no_color {
            command.env("NO_COLOR", "1");
        } else {
            command.env_remove("NO_COLOR");
        }
    });
    let status = demo.wait_exit_within(Duration::from_secs(15));
    let (out, err) = (demo.stdout(), demo.stderr());
    assert!(status.success(), "demo failed: {status}\n{out}\n{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let client_on = format!("client on {runtime}");
    for needle in [
        client_on.as_str(),
        "listening on ws://127.0.0.1:",
        "welcome: you are connection #1",
        "reconnecting in 250 ms (attempt 1)",
        "connection refused",
        "welcome: you are connection #2",
        "(offline: 2 waiting in the queue)",
        "chat \"queued, not lost\" from you (echo)",
        "heartbeat RTT",
        "summary",
        "reconnects  1 after",
        "RTT         latest",
        "received    7 messages (5 echoes, 2 welcomes)",
    ] {
        assert!(out.contains(needle), "the demo output lacks {needle:?}:\n{out}");
    }
    // Piped output is never coloured.
    assert!(
        !out.contains('\x1b') && !err.contains('\x1b'),
        "escapes in:\n{out}{err}"
    );
}

#[test]
fn the_demo_runs_offline_and_tells_the_reconnect_story() {
    check_demo(&[], false, "smol");
}

#[test]
fn the_demo_subcommand_runs_on_async_std_without_colour() {
    check_demo(&["demo", "--runtime", "async-std"], true, "async-std");
}

#[test]
fn the_demo_runs_on_tokio_as_a_subcommand_and_without_a_url() {
    check_demo(&["demo", "--runtime", "tokio"], true, "tokio");
    check_demo(&["--runtime", "tokio"], false, "tokio");
}
