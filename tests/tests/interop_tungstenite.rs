//! The interop matrix against tungstenite (an in-process server with the paths of
//! `interop/README.md`, `resock_tests::interop::TungServer`): every case on every runtime
//! (blocking, smol, async-std, tokio multi-thread and current-thread). Prints one line per case
//! and the result table, which is also written to
//! `$CARGO_TARGET_TMPDIR/interop-matrix-tungstenite.md`.

use std::path::Path;

use resock_tests::interop::{ServerKind, run_matrix_on_all_runtimes};

#[test]
fn tungstenite_matrix() {
    run_matrix_on_all_runtimes(
        ServerKind::Tungstenite,
        None,
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        "tungstenite",
    );
}
