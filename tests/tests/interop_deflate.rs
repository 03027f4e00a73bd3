//! permessage-deflate (RFC 7692) interop, issue 15 item 7 (`resock_tests::deflate_interop`):
//! 1000 messages of mixed sizes (0 B to 64 KiB, JSON-like text and random binary) echoed byte
//! for byte through Python `websockets` and Node `ws` with compression on, resock as client
//! and as server, with context takeover and with both `no_context_takeover` parameters; and
//! against tungstenite, which has no compression, the negotiation falls back in both roles.
//! Prints one line per case. The foreign peers are skipped when not set up
//! (`scripts/interop-setup.sh`), failed instead with `RESOCK_REQUIRE_PEERS=1`.

use resock_core::{DeflateConfig, DeflateParams};
use resock_tests::deflate_interop::{
    Report, resock_client, resock_server, tungstenite_client_fallback, tungstenite_server_fallback,
};
use resock_tests::interop::report_line;
use resock_tests::peers::{PeerDeflate, PeerKind};

const MESSAGES: usize = 1000;

/// Checks that compression was agreed as `no_takeover` says on both sides and that both
/// directions travelled compressed, then prints the case's line.
fn check(name: &str, report: &Report, no_takeover: bool) {
    report_line(&format!("deflate-interop {name}: {report}"));
    let agreed = report
        .agreed
        .unwrap_or_else(|| panic!("{name}: nothing agreed; {report}"));
    assert!(
        report.peer_saw.starts_with("permessage-deflate"),
        "{name}: the peer saw no deflate: {report}"
    );
    assert_eq!(
        (agreed.server_no_context_takeover, agreed.client_no_context_takeover),
        (no_takeover, no_takeover),
        "{name}: {report}"
    );
    for param in ["server_no_context_takeover", "client_no_context_takeover"] {
        assert_eq!(
            report.peer_saw.contains(param),
            no_takeover,
            "{name}: {param}: {report}"
        );
    }
    assert_eq!(report.messages, MESSAGES);
    // Compressed both ways: well below the payload, though a third of it is random binary.
    assert!(
        report.wire_out * 10 < report.payload * 8,
        "{name}: sent uncompressed? {report}"
    );
    assert!(
        report.wire_in * 10 < report.payload * 8,
        "{name}: received uncompressed? {report}"
    );
}

fn matrix(kind: PeerKind) {
    let both_off = || Some(DeflateConfig::new().no_context_takeover());
    let name = kind.name();
    // resock as client: its default offer, then asking for no context takeover itself, then
    // the peer's server demanding it.
    let r = resock_client(kind, PeerDeflate::On, Some(DeflateConfig::default()), MESSAGES);
    check(&format!("{name} client takeover"), &r, false);
    let r = resock_client(kind, PeerDeflate::On, both_off(), MESSAGES);
    check(&format!("{name} client no-takeover(resock asks)"), &r, true);
    let r = resock_client(
        kind,
        PeerDeflate::NoContextTakeover,
        Some(DeflateConfig::default()),
        MESSAGES,
    );
    check(&format!("{name} client no-takeover(peer demands)"), &r, true);
    // resock as server: the peer's default offer, the peer asking for no context takeover,
    // and resock's server demanding it.
    let r = resock_server(kind, PeerDeflate::On, Some(DeflateConfig::default()), MESSAGES);
    check(&format!("{name} server takeover"), &r, false);
    let r = resock_server(
        kind,
        PeerDeflate::NoContextTakeover,
        Some(DeflateConfig::default()),
        MESSAGES,
    );
    check(&format!("{name} server no-takeover(peer asks)"), &r, true);
    let r = resock_server(kind, PeerDeflate::On, both_off(), MESSAGES);
    check(&format!("{name} server no-takeover(resock demands)"), &r, true);
}

#[test]
fn python_websockets_deflate() {
    if PeerKind::Python.require_or_skip() {
        matrix(PeerKind::Python);
    }
}

#[test]
fn node_ws_deflate() {
    if PeerKind::Node.require_or_skip() {
        matrix(PeerKind::Node);
    }
}

/// Python `websockets` agrees on 12-bit windows by default: resock compresses within the
/// window it was given (the echo would fail otherwise) and says so on `Opened`.
#[test]
fn python_default_windows_are_twelve_bits() {
    if !PeerKind::Python.require_or_skip() {
        return;
    }
    let r = resock_client(PeerKind::Python, PeerDeflate::On, Some(DeflateConfig::default()), 50);
    let agreed = r.agreed.expect("agreed");
    assert_eq!(
        (agreed.server_max_window_bits, agreed.client_max_window_bits),
        (12, 12),
        "{r}"
    );
}

/// tungstenite has no compression: the offer (client) and the acceptance (server) fall back
/// to plain messages, nothing is agreed on either side, and nothing is compressed.
#[test]
fn tungstenite_falls_back_in_both_roles() {
    for (name, report) in [
        (
            "tungstenite server, resock client",
            tungstenite_server_fallback(MESSAGES),
        ),
        (
            "tungstenite client, resock server",
            tungstenite_client_fallback(MESSAGES),
        ),
    ] {
        report_line(&format!("deflate-interop {name}: {report}"));
        assert_eq!(report.agreed, None::<DeflateParams>, "{name}");
        assert_eq!(report.peer_saw, "", "{name}");
        assert!(
            report.wire_out > report.payload && report.wire_in > report.payload,
            "{name}: {report}"
        );
    }
}
