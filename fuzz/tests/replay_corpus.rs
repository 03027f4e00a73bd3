//! Replays every file of `corpus/<target>/` (the generated seeds and the regressions that
//! fuzzing found) through the same function the libFuzzer target calls, on stable.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target)
}

fn replay(target: &str) {
    let run = resock_fuzz::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, f)| *f)
        .expect("known target");
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("corpus/{target}: {e}"))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus/{target} is empty");
    let mut failures = Vec::new();
    for file in &files {
        let data = std::fs::read(file).expect("read corpus file");
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(&data))) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(format!("{}: {why}", file.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    println!("corpus/{target}: {} files replayed", files.len());
}

#[test]
fn frame_decode() {
    replay("frame_decode");
}

#[test]
fn handshake_response() {
    replay("handshake_response");
}

#[test]
fn handshake_request() {
    replay("handshake_request");
}

#[test]
fn message_stream() {
    replay("message_stream");
}

#[test]
fn json_envelope() {
    replay("json_envelope");
}

#[test]
fn session_script() {
    replay("session_script");
}

#[test]
fn differential() {
    replay("differential");
}

#[test]
fn deflate_stream() {
    replay("deflate_stream");
}

#[test]
fn deflate_roundtrip() {
    replay("deflate_roundtrip");
}

/// The committed seeds are exactly what `seeds::all()` generates (run the `make_seeds` example
/// after changing it); every target has a corpus.
#[test]
fn seeds_are_committed() {
    let mut stale = Vec::new();
    for seed in resock_fuzz::seeds::all() {
        let path = corpus_dir(seed.target).join(&seed.name);
        if std::fs::read(&path).ok().as_deref() != Some(&seed.bytes[..]) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "seed files missing or stale (run `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`):\n{}",
        stale.join("\n")
    );
    for (target, _) in resock_fuzz::TARGETS {
        assert!(corpus_dir(target).is_dir(), "no corpus for {target}");
    }
}

/// The session seeds reach the states they are named after (so the fuzzer starts deep).
#[test]
fn session_seeds_reach_deep_states() {
    let report = |name: &str| {
        let bytes = std::fs::read(corpus_dir("session_script").join(name)).expect("seed file");
        resock_fuzz::session::run_script(&bytes)
    };
    let r = report("open_send_echo_close");
    assert_eq!((r.opened, r.sent, r.received), (1, 3, 3), "{r:?}");
    let r = report("drop_oldest_overflow");
    assert!(r.handed_back >= 4 && r.sent >= 1, "{r:?}");
    let r = report("heartbeat_pong_timeout_then_reconnect");
    assert_eq!((r.opened, r.retries), (2, 1), "{r:?}");
    let r = report("heartbeat_answered");
    assert!(r.pongs >= 1, "{r:?}");
    let r = report("eof_while_open_requeues");
    assert_eq!((r.opened, r.sent), (2, 2), "{r:?}");
    let r = report("transport_failures");
    assert!(r.final_state.contains("TlsCertificate"), "{r:?}");
    let r = report("rejected_401_fatal");
    assert!(r.final_state.contains("401"), "{r:?}");
    // Drawn settings: a pong timeout above the interval still detects the silent peer.
    let r = report("heartbeat_timeout_above_interval");
    assert_eq!((r.opened, r.pongs, r.retries), (2, 1, 1), "{r:?}");
    // The EOF schedules a retry at a random instant up to "never"; jumping there is safe.
    let r = report("every_timer_never");
    assert_eq!((r.opened, r.retries, r.pongs), (1, 1, 0), "{r:?}");
    let r = report("every_timer_one_ms");
    assert!(r.opened >= 1 && r.retries >= 1, "{r:?}");
}

/// The deflate seeds reach the outcomes they are named after (so the fuzzer starts there).
#[test]
fn deflate_seeds_reach_their_outcomes() {
    let explain = |name: &str| {
        let bytes = std::fs::read(corpus_dir("deflate_stream").join(name)).expect("seed file");
        resock_fuzz::deflate::explain(&bytes)
    };
    for name in [
        "json_one_frame",
        "json_bytewise",
        "empty_compressed_message",
        "bomb_64k_limits_large",
        "bomb_1m_limits_large",
    ] {
        let r = explain(name);
        assert!(r.starts_with("1 expected then Open; 1 delivered"), "{name}: {r}");
    }
    for name in [
        "json_twice_context_takeover",
        "json_twice_no_context_takeover",
        "final_block_then_more",
    ] {
        let r = explain(name);
        assert!(r.starts_with("2 expected then Open; 2 delivered"), "{name}: {r}");
    }
    // A kept sync-flush tail: the message arrives, what would follow it is unpredictable.
    let r = explain("sync_flush_tail_kept");
    assert!(
        r.starts_with("1 expected then Unknown; 1 delivered; ") && r.ends_with("end None"),
        "{r}"
    );
    let r = explain("uncompressed_between_compressed");
    assert!(r.starts_with("3 expected then Open; 3 delivered"), "{r}");
    // A bomb over the limit stops at the limit plus one byte.
    let r = explain("bomb_16m_limits_large");
    assert!(r.contains("Fail; 0 delivered") && r.contains("size: 4194305"), "{r}");
    let r = explain("bomb_1m_limits_small");
    assert!(r.contains("Fail; 0 delivered") && r.contains("MessageTooLarge"), "{r}");
    for name in [
        "invalid_utf8_inflated",
        "rsv1_on_continuation",
        "rsv1_on_ping",
        "rsv2_on_compressed",
        "too_many_fragments",
    ] {
        let r = explain(name);
        assert!(r.contains("then Fail") && r.contains("Protocol"), "{name}: {r}");
    }
    let r = explain("message_too_big_after_a_good_one");
    assert!(
        r.starts_with("1 expected then Fail; 1 delivered") && r.contains("MessageTooLarge"),
        "{r}"
    );
    for name in ["truncated_compressed", "corrupted_byte", "garbage_after_data"] {
        let r = explain(name);
        assert!(r.contains("then Unknown"), "{name}: {r}");
    }
}

/// Crashes found by fuzzing in code this crate may not fix (listed in `README.md`) wait in
/// `regressions/<target>/`, outside the corpus libFuzzer loads. Each must still crash; once it
/// no longer does, this test fails so that the file moves to `corpus/<target>/` as a regression.
#[test]
fn open_findings_still_crash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let Ok(dirs) = std::fs::read_dir(&root) else { return };
    let mut fixed = Vec::new();
    for dir in dirs {
        let dir = dir.expect("dir entry").path();
        let target = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("target dir name")
            .to_owned();
        let run = resock_fuzz::TARGETS
            .iter()
            .find(|(name, _)| *name == target)
            .map(|(_, f)| *f)
            .unwrap_or_else(|| panic!("regressions/{target}: no such target"));
        for file in std::fs::read_dir(&dir).expect("read regressions dir") {
            let file = file.expect("dir entry").path();
            let data = std::fs::read(&file).expect("read regression");
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_ok() {
                fixed.push(format!("{} (move it to corpus/{target}/)", file.display()));
            } else {
                println!("still open: {}", file.display());
            }
        }
    }
    assert!(fixed.is_empty(), "open findings no longer crash:\n{}", fixed.join("\n"));
}

#[test]
fn proxy_handshake() {
    replay("proxy_handshake");
}
