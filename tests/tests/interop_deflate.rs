//! permessage-deflate (RFC 7692) interop, issue 15 item 7 (`resock_tests::deflate_interop`):
//! 1000 messages of mixed sizes (0 B to 64 KiB, JSON-like text and random binary) echoed byte
//! for byte through Python `websockets` and Node `ws` with compression on, resock as client
//! and as server, with context takeover and with both `no_context_takeover` parameters; and
//! against tungstenite, which has no compression, the negotiation falls back in both roles.
//! Prints one line per case. The foreign peers are skipped when not set up
//! (`scripts/interop-setup.sh`), failed instead with `RESOCK_REQUIRE_PEERS=1`.

use resock_core::{DeflateConfig, DeflateParams};
use resock_tests::deflate_interop::{
    CASE_LIMIT, Driver, Report, resock_client, resock_server, tungstenite_client_fallback, tungstenite_server_fallback,
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

/// Messages resock sends in fragments (`send_fragment`) go out compressed when deflate is
/// agreed, and the peer's inflater reads them: each comes back from its echo byte for byte,
/// text and binary, 1 to 5 fragments (empty ones included), and the wire carries a fraction
/// of the payload.
fn fragmented_echo(kind: PeerKind) {
    use resock_core::frame::OpCode;
    use resock_core::{Config, Message};
    use resock_tests::peers::{Peer, PeerOptions};

    let peer = Peer::start(
        kind,
        PeerOptions {
            deflate: PeerDeflate::On,
            ..PeerOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("starting the {kind} server: {e}"));
    let deadline = std::time::Instant::now() + CASE_LIMIT;
    let config = Config::default().deflate(Some(DeflateConfig::default()));
    let (mut driver, accepted) = Driver::client(&peer.url("/extensions"), config, deadline);
    assert!(accepted.deflate.is_some(), "{kind}: deflate not agreed");
    driver.recv(); // the peer's `/extensions` line
    let (mut payload, wire_out) = (0usize, driver.wire_out);
    for i in 0..60usize {
        let text: String = (0..(i * 97) % 3000)
            .map(|j| format!("{{\"seq\":{j},\"px\":{}}},", 100 + (i + j) % 13))
            .collect();
        let bytes = text.as_bytes();
        let pieces = 1 + i % 5;
        let mut parts: Vec<&[u8]> = (0..pieces)
            .map(|p| &bytes[bytes.len() * p / pieces..bytes.len() * (p + 1) / pieces])
            .collect();
        if i % 7 == 3 {
            parts.insert(1, &[]); // an empty fragment in the middle
        }
        let (opcode, message) = if i % 2 == 0 {
            (OpCode::Text, Message::Text(text.clone().into()))
        } else {
            (OpCode::Binary, Message::Binary(bytes.to_vec().into()))
        };
        driver.send_fragments(opcode, &parts);
        assert_eq!(
            driver.recv(),
            message,
            "{kind}: message {i} in {} fragments",
            parts.len()
        );
        payload += bytes.len();
    }
    let sent = (driver.wire_out - wire_out) as usize;
    report_line(&format!(
        "deflate-interop {} fragmented: 60 messages, {payload} payload bytes, wire out {:.2} of it",
        kind.name(),
        sent as f64 / payload as f64
    ));
    assert!(sent < payload / 3, "{kind}: {sent} bytes on the wire for {payload}");
    let info = driver.close();
    assert!(info.clean && info.error.is_none(), "{kind}: {info:?}");
}

#[test]
fn fragmented_messages_go_compressed_to_python_and_node() {
    for kind in [PeerKind::Python, PeerKind::Node] {
        if kind.require_or_skip() {
            fragmented_echo(kind);
        }
    }
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
