//! Instruction counts per message, for `valgrind --tool=callgrind` (repeatable on a noisy
//! machine): `scripts/callgrind.sh` runs this binary under callgrind, collecting only inside
//! the `decode_*` functions below (resock, tungstenite, fastwebsockets, tokio-websockets, and
//! resock's session to show the session layer's cost), and divides by the message count.
//!
//! Without valgrind it just runs every decoder once over 10 000 text frames of 128 B.
//! Other cases for profiling: `instructions <text|textmb|binary> <size> <count> [passes]`.

mod support;

use std::hint::black_box;

use support::Kind;

/// Messages decoded per library by default.
const MESSAGES: usize = 10_000;
/// Payload size of each text message by default.
const SIZE: usize = 128;

#[inline(never)]
fn decode_resock(conn: &mut resock_core::Connection, wire: &[u8]) -> usize {
    support::resock_decode(conn, wire)
}

#[inline(never)]
fn decode_tungstenite(ws: &mut support::TungClient, count: usize) -> usize {
    support::tung_decode(ws, count)
}

#[inline(never)]
fn decode_fastwebsockets(ws: &mut support::peer_fastwebsockets::FastClient<'_>, count: usize) -> usize {
    support::peer_fastwebsockets::decode(ws, count)
}

#[inline(never)]
fn decode_tokio_websockets(ws: &mut support::peer_tokio_websockets::TokioClient<'_>, count: usize) -> usize {
    support::peer_tokio_websockets::decode(ws, count)
}

#[inline(never)]
fn decode_session(
    session: &mut resock_core::session::Session,
    id: resock_core::session::TransportId,
    wire: &[u8],
    out: &mut Vec<u8>,
) -> usize {
    support::session_decode(session, id, wire, out)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let kind = match args.first().map(String::as_str) {
        None | Some("text") => Kind::Text,
        Some("textmb") => Kind::TextMb,
        Some("binary") => Kind::Binary,
        Some(other) => panic!("unknown kind {other}"),
    };
    let size = args.get(1).map_or(SIZE, |s| s.parse().expect("size"));
    let count = args.get(2).map_or(MESSAGES, |s| s.parse().expect("count"));
    let payload = support::payload(kind, size);
    let wire = support::server_frames(kind, &payload, count);
    // Passes over the same bytes, as `compare` makes (its 1 MiB case decodes 4 messages a pass).
    let passes: usize = args.get(3).map_or(1, |s| s.parse().expect("passes"));
    let mut conn = support::open_client(support::config());
    let mut ws = support::tung_client(wire.clone());
    let traffic = support::mem_io::Traffic::default();
    let mut fast = support::peer_fastwebsockets::client(&wire, &traffic);
    let mut tokio = support::peer_tokio_websockets::client(&wire, &traffic);
    let (mut session, id) = support::open_session();
    let mut out = Vec::new();
    for _ in 0..passes {
        assert_eq!(black_box(decode_resock(&mut conn, &wire)), count);
        assert_eq!(black_box(decode_tungstenite(&mut ws, count)), count * size);
        assert_eq!(black_box(decode_fastwebsockets(&mut fast, count)), count * size);
        assert_eq!(black_box(decode_tokio_websockets(&mut tokio, count)), count * size);
        assert_eq!(black_box(decode_session(&mut session, id, &wire, &mut out)), count);
    }
    println!(
        "decoded {passes} x {count} {} messages of {size} B with each library",
        kind.name()
    );
}
