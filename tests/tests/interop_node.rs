//! The interop matrix against Node `ws` (`interop/`, `resock_tests::peers`): every case on
//! every runtime (blocking, smol, async-std, tokio multi-thread and current-thread). Prints one
//! line per case and the result table, which is also written to
//! `$CARGO_TARGET_TMPDIR/interop-matrix-node.md`. Skipped when the peer is not set up
//! (`scripts/interop-setup.sh`), failed instead with `RESOCK_REQUIRE_PEERS=1`.

use std::path::Path;

use resock_tests::interop::{ServerKind, run_matrix_on_all_runtimes};
use resock_tests::peers::PeerKind;

#[test]
fn node_matrix() {
    if !PeerKind::Node.require_or_skip() {
        return;
    }
    run_matrix_on_all_runtimes(
        ServerKind::Peer(PeerKind::Node),
        None,
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        "node",
    );
}
