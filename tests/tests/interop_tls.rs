//! wss:// interop: Python `websockets` and Node `ws` serving TLS with a certificate for
//! `localhost`/127.0.0.1 from a CA generated for the test (rcgen); the client trusts only that
//! CA (`TlsOptions::no_default_roots().add_root_pem(..)`). A reduced matrix (handshake, echo,
//! ping, closes both ways, headers, a graceful restart, and a client trusting another CA being
//! refused) on every runtime. Tables go to `$CARGO_TARGET_TMPDIR/interop-matrix-<peer>-tls.md`.

use std::path::Path;

use resock_tests::interop::{ServerKind, TlsFiles, run_matrix_on_all_runtimes};
use resock_tests::peers::PeerKind;

fn tls_matrix(kind: PeerKind) {
    if !kind.require_or_skip() {
        return;
    }
    let tls = TlsFiles::generate();
    run_matrix_on_all_runtimes(
        ServerKind::Peer(kind),
        Some(&tls),
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &format!("{}-tls", kind.name()),
    );
}

#[test]
fn python_tls_matrix() {
    tls_matrix(PeerKind::Python);
}

#[test]
fn node_tls_matrix() {
    tls_matrix(PeerKind::Node);
}
