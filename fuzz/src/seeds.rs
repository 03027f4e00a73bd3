//! The committed seed corpus, generated here so that every seed has a name that says what it is
//! and a reason to exist. `cargo run --example make_seeds` writes them to `corpus/<target>/`;
//! `tests/replay_corpus.rs` checks that the files match this list and replays every corpus file
//! (seeds and regressions) on stable.
//!
//! Sources: RFC 6455 §5.7 examples and §4.1/§4.2.2 handshakes, and the bad inputs of
//! `RFC6455-CHECKLIST.md` (rows H1-H6, F1-F21, and the CVE table).

use crate::handshake::client_accept;
use crate::session::{Bytes, FailKind, PeerAction, Setup, Step, Timers, parse};
use crate::stream::CLIENT_REQUEST;

/// One seed file.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The target directory.
    pub target: &'static str,
    /// The file name.
    pub name: String,
    /// The contents.
    pub bytes: Vec<u8>,
}

// ----- frames -----

/// An unmasked frame (server to client).
pub fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![b0];
    push_len(&mut out, 0, payload.len());
    out.extend_from_slice(payload);
    out
}

/// A masked frame (client to server).
pub fn masked(b0: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![b0];
    push_len(&mut out, 0x80, payload.len());
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn push_len(out: &mut Vec<u8>, mask_bit: u8, len: usize) {
    match len {
        0..=125 => out.push(mask_bit | len as u8),
        126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

fn close_frame(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason);
    frame(0x88, &body)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Server-to-client streams after the handshake: valid ones, RFC examples, and the checklist's
/// bad inputs. Shared by `message_stream` (client role) and `differential`.
pub fn server_streams() -> Vec<(&'static str, Vec<u8>)> {
    let hello = frame(0x81, b"Hello");
    vec![
        // RFC 6455 §5.7
        ("rfc_5_7_hello_unmasked", hello.clone()),
        (
            "rfc_5_7_fragmented_hello",
            cat(&[&frame(0x01, b"Hel"), &frame(0x80, b"lo")]),
        ),
        ("rfc_5_7_ping_hello", frame(0x89, b"Hello")),
        ("rfc_5_7_binary_256_len16", frame(0x82, &[0xB5; 256])),
        ("empty_text_and_binary", cat(&[&frame(0x81, b""), &frame(0x82, b"")])),
        ("utf8_multibyte", frame(0x81, "κόσμε 🌍 日本".as_bytes())),
        // F11: control frames between fragments must be accepted.
        (
            "ping_pong_between_fragments",
            cat(&[
                &frame(0x01, b"frag"),
                &frame(0x89, b"p"),
                &frame(0x8A, b""),
                &frame(0x80, b"ment"),
            ]),
        ),
        // 6.2.3: a code point split across fragments is valid.
        (
            "utf8_split_across_fragments",
            cat(&[&frame(0x01, &[0xF0, 0x9F]), &frame(0x80, &[0x8C, 0x8D])]),
        ),
        ("close_normal_with_reason", close_frame(1000, b"bye")),
        ("close_empty", frame(0x88, b"")),
        (
            "message_then_close_then_junk",
            cat(&[&hello, &close_frame(1001, b""), &frame(0x81, b"after")]),
        ),
        ("unsolicited_pong_f18", frame(0x8A, b"unasked")),
        (
            "ping_flood_f19",
            std::iter::repeat_n(frame(0x89, b"ping!"), 40).flatten().collect(),
        ),
        ("ping_125", frame(0x89, &[b'p'; 125])),
        // Checklist §3b bad inputs.
        ("bad_rsv1_f3", frame(0xC1, b"Hello")),
        ("bad_rsv_all", frame(0xF1, b"Hello")),
        ("bad_opcode_3_f4", frame(0x83, b"")),
        ("bad_opcode_b_f4", frame(0x8B, b"")),
        (
            "bad_masked_from_server_f1",
            masked(0x81, b"Hello", [0x37, 0xFA, 0x21, 0x3D]),
        ),
        ("bad_fragmented_ping_f6", frame(0x09, b"x")),
        ("bad_ping_126_f5", frame(0x89, &[0; 126])),
        ("bad_non_minimal_16", vec![0x82, 0x7E, 0x00, 0x05, 1, 2, 3, 4, 5]),
        (
            "bad_non_minimal_64",
            cat(&[&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 3], b"abc"]),
        ),
        ("bad_length_high_bit", vec![0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1]),
        (
            "bad_huge_length_cve_2022_35922",
            vec![0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        ),
        ("bad_length_4gib_header_only", vec![0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0]),
        ("bad_frame_16mib_header_only", vec![0x82, 0x7F, 0, 0, 0, 0, 1, 0, 0, 0]),
        ("bad_continuation_without_start_f9", frame(0x80, b"x")),
        (
            "bad_text_inside_fragmented_f10",
            cat(&[&frame(0x01, b"a"), &frame(0x81, b"b")]),
        ),
        (
            "bad_utf8_f12",
            frame(
                0x81,
                &[
                    0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80,
                ],
            ),
        ),
        ("bad_utf8_truncated_at_fin_f13", frame(0x81, &[b'a', 0xE2, 0x82])),
        (
            "bad_utf8_fail_fast_6_4",
            cat(&[&frame(0x01, &[0xCE, 0xBA, 0xF4, 0x90]), &frame(0x80, b"rest")]),
        ),
        ("bad_utf8_cut_frame", vec![0x81, 0x10, b'o', b'k', 0xFF]),
        ("bad_close_one_byte_f14", frame(0x88, &[0x03])),
        ("bad_close_code_999_f15", close_frame(999, b"")),
        ("bad_close_code_1005_f15", close_frame(1005, b"")),
        ("bad_close_code_2999_f15", close_frame(2999, b"")),
        ("bad_close_reason_utf8_f16", close_frame(1000, &[0xFF, 0xFE])),
        ("bad_close_code_and_reason", close_frame(1004, &[0xC0])),
        ("eof_mid_frame_f20", vec![0x81, 0x05, b'H', b'e']),
        ("tiny_fragments_f21", {
            let mut s = frame(0x01, b"");
            for i in 0..200u8 {
                s.extend(frame(0x00, &[b'a' + i % 26][..usize::from(i % 2)]));
            }
            s.extend(frame(0x80, b"."));
            s
        }),
        (
            "message_too_big_fragmented",
            cat(&[
                &frame(0x02, &[1; 120]),
                &frame(0x00, &[2; 120]),
                &frame(0x80, &[3; 120]),
            ]),
        ),
        ("rsv_and_too_big_check_order", vec![0xC2, 0x7E, 0x10, 0x00]),
    ]
}

fn named(name: &str) -> Vec<u8> {
    server_streams()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("known stream")
        .1
}

/// Client-to-server streams (masked) for the server role.
fn client_streams() -> Vec<(&'static str, Vec<u8>)> {
    let key = [0x37, 0xFA, 0x21, 0x3D];
    vec![
        ("rfc_5_7_hello_masked", masked(0x81, b"Hello", key)),
        ("rfc_5_7_pong_masked", masked(0x8A, b"Hello", key)),
        (
            "fragmented_masked",
            cat(&[&masked(0x01, b"Hel", key), &masked(0x80, b"lo", [1, 2, 3, 4])]),
        ),
        ("close_masked", masked(0x88, &[0x03, 0xE8, b'o', b'k'], key)),
        ("bad_unmasked_from_client_f2", frame(0x81, b"Hello")),
        ("bad_utf8_masked", masked(0x81, &[0xFF], key)),
        (
            "ping_masked_then_data",
            cat(&[&masked(0x89, b"hb", key), &masked(0x82, &[0; 300], key)]),
        ),
    ]
}

// ----- handshakes -----

fn response(status_line: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{status_line}\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn handshake_responses() -> Vec<(&'static str, u8, Vec<u8>)> {
    let accept = format!("Sec-WebSocket-Accept: {}", client_accept());
    let accept = accept.as_str();
    let ok = |extra: &[&str]| {
        let mut h = vec!["Upgrade: websocket", "Connection: Upgrade", accept];
        h.extend_from_slice(extra);
        response("HTTP/1.1 101 Switching Protocols", &h, b"")
    };
    let many: Vec<String> = (0..20).map(|i| format!("X-Junk-{i}: {i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    vec![
        ("valid_101", 0, ok(&[])),
        (
            "valid_101_with_frame_after",
            0,
            cat(&[&ok(&[]), &frame(0x81, b"Hello")]),
        ),
        ("valid_101_subprotocol_chat", 1, ok(&["Sec-WebSocket-Protocol: chat"])),
        ("valid_101_keep_alive_upgrade_h3", 0, {
            response(
                "HTTP/1.1 101 Switching Protocols",
                &["upgrade: WebSocket", "connection: keep-alive, Upgrade", accept],
                b"",
            )
        }),
        (
            "valid_101_bare_lf",
            0,
            format!("HTTP/1.1 101 OK\nUpgrade: websocket\nConnection: Upgrade\n{accept}\n\n").into_bytes(),
        ),
        (
            "rejected_404_body_h1",
            0,
            response("HTTP/1.1 404 Not Found", &["Content-Length: 9"], b"not here!"),
        ),
        (
            "rejected_503_retry_after_seconds",
            0,
            response(
                "HTTP/1.1 503 Service Unavailable",
                &["Retry-After: 120", "Content-Length: 0"],
                b"",
            ),
        ),
        (
            "rejected_503_retry_after_date",
            0,
            response(
                "HTTP/1.1 503 Service Unavailable",
                &[
                    "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT",
                    "Date: Sun, 06 Nov 1994 08:48:37 GMT",
                    "Content-Length: 0",
                ],
                b"",
            ),
        ),
        (
            "rejected_301_location",
            0,
            response(
                "HTTP/1.1 301 Moved Permanently",
                &["Location: wss://example.com/", "Content-Length: 0"],
                b"",
            ),
        ),
        (
            "rejected_429_chunked_body",
            0,
            response(
                "HTTP/1.1 429 Too Many Requests",
                &["Transfer-Encoding: chunked"],
                b"5\r\nslow!\r\n0\r\n\r\n",
            ),
        ),
        ("rejected_204", 0, response("HTTP/1.1 204 No Content", &[], b"")),
        (
            "rejected_no_length_small_limits",
            3,
            response("HTTP/1.1 500 Oops", &[], b"a body longer than sixteen bytes"),
        ),
        (
            "bad_missing_upgrade_h2",
            0,
            response(
                "HTTP/1.1 101 Switching Protocols",
                &["Connection: Upgrade", accept],
                b"",
            ),
        ),
        (
            "bad_upgrade_not_websocket_h2",
            0,
            response(
                "HTTP/1.1 101 Switching Protocols",
                &["Upgrade: h2c", "Connection: Upgrade", accept],
                b"",
            ),
        ),
        (
            "bad_missing_connection_h3",
            0,
            response("HTTP/1.1 101 Switching Protocols", &["Upgrade: websocket", accept], b""),
        ),
        (
            "bad_missing_accept_h4",
            0,
            response(
                "HTTP/1.1 101 Switching Protocols",
                &["Upgrade: websocket", "Connection: Upgrade"],
                b"",
            ),
        ),
        (
            "bad_wrong_accept_h4",
            0,
            ok(&[]).iter().map(|&b| if b == b'=' { b'A' } else { b }).collect(),
        ),
        ("bad_duplicate_accept_h4", 0, ok(&[accept])),
        (
            "bad_unrequested_extension_h5",
            0,
            ok(&["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"]),
        ),
        (
            "bad_unrequested_subprotocol_h6",
            0,
            ok(&["Sec-WebSocket-Protocol: chat"]),
        ),
        (
            "bad_multiple_subprotocols_h6",
            1,
            ok(&["Sec-WebSocket-Protocol: chat, superchat"]),
        ),
        ("bad_subprotocol_required", 2, ok(&[])),
        (
            "bad_http_1_0",
            0,
            response(
                "HTTP/1.0 101 Switching Protocols",
                &["Upgrade: websocket", "Connection: Upgrade", accept],
                b"",
            ),
        ),
        (
            "bad_garbage",
            0,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(),
        ),
        ("bad_too_many_headers_cve_2024_37890", 3, ok(&many)),
        (
            "bad_head_too_large_small_limits",
            3,
            format!("HTTP/1.1 101 OK\r\nX-Long: {}\r\n\r\n", "a".repeat(600)).into_bytes(),
        ),
        (
            "bad_eof_mid_head",
            0,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs".to_vec(),
        ),
    ]
}

fn handshake_requests() -> Vec<(&'static str, u8, Vec<u8>)> {
    let req = |line: &str, headers: &[&str]| response(line, headers, b"");
    let base = [
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ];
    let with = |extra: &[&str]| {
        let mut h = base.to_vec();
        h.extend_from_slice(extra);
        req("GET /chat HTTP/1.1", &h)
    };
    let without = |skip: &str| {
        let h: Vec<&str> = base.iter().copied().filter(|h| !h.starts_with(skip)).collect();
        req("GET /chat HTTP/1.1", &h)
    };
    let many: Vec<String> = (0..20).map(|i| format!("X-Junk-{i}: {i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    vec![
        ("rfc_4_1_request", 0, CLIENT_REQUEST.to_vec()),
        (
            "rfc_1_3_request_origin_protocols",
            0,
            with(&["Origin: http://example.com", "Sec-WebSocket-Protocol: chat, superchat"]),
        ),
        (
            "request_with_frame_after",
            0,
            cat(&[CLIENT_REQUEST, &masked(0x81, b"Hello", [1, 2, 3, 4])]),
        ),
        (
            "request_absolute_target",
            0,
            req("GET ws://server.example.com/chat?x=1 HTTP/1.1", &base),
        ),
        (
            "request_bare_lf",
            0,
            String::from_utf8(CLIENT_REQUEST.to_vec())
                .expect("ASCII")
                .replace("\r\n", "\n")
                .into_bytes(),
        ),
        ("bad_method_post", 0, req("POST /chat HTTP/1.1", &base)),
        ("bad_http_1_0", 0, req("GET /chat HTTP/1.0", &base)),
        ("bad_missing_version", 0, without("Sec-WebSocket-Version")),
        ("bad_version_8", 0, with(&["Sec-WebSocket-Version: 8"])),
        ("bad_missing_key", 0, without("Sec-WebSocket-Key")),
        (
            "bad_key_short",
            0,
            req(
                "GET / HTTP/1.1",
                &[
                    "Host: h",
                    "Upgrade: websocket",
                    "Connection: Upgrade",
                    "Sec-WebSocket-Key: c2hvcnQ=",
                    "Sec-WebSocket-Version: 13",
                ],
            ),
        ),
        ("bad_missing_host", 0, without("Host")),
        ("bad_missing_upgrade", 0, without("Upgrade")),
        ("bad_body_content_length", 0, with(&["Content-Length: 4"])),
        (
            "bad_duplicate_subprotocol",
            0,
            with(&["Sec-WebSocket-Protocol: chat, chat"]),
        ),
        (
            "bad_subprotocol_spaces_cve_2021_32640",
            0,
            with(&[&format!("Sec-WebSocket-Protocol: b{}x", " ".repeat(3000))]),
        ),
        ("bad_too_many_headers_small_limits", 1, with(&many)),
        (
            "bad_head_too_large_small_limits",
            1,
            with(&[&format!("X-Long: {}", "a".repeat(600))]),
        ),
    ]
}

// ----- JSON -----

fn json_payloads() -> Vec<(&'static str, u8, i64, &'static [u8])> {
    vec![
        (
            "envelope_chat",
            0,
            1_795_669_351,
            br#"{"type":"chat","data":{"text":"hi","room":7},"timestamp":"2026-11-26T05:02:31.123Z"}"#,
        ),
        ("envelope_number", 16, 0, br#"{"type":"n","data":5}"#),
        ("envelope_no_data", 16, -1, br#"{"type":"ping"}"#),
        (
            "envelope_unknown_type_fallback",
            16,
            253_402_300_799,
            br#"{"type":"presence","data":[1,2.5,-3e-7,true,null]}"#,
        ),
        (
            "envelope_bad_data_for_type",
            0,
            -62_167_219_200,
            br#"{"type":"chat","data":{"txt":"hi"}}"#,
        ),
        ("envelope_type_not_string", 0, i64::MAX, br#"{"type":5,"data":1}"#),
        ("envelope_missing_type", 0, i64::MIN, br#"{"data":1}"#),
        (
            "envelope_timestamp_number",
            0,
            86_399,
            br#"{"type":"a","timestamp":1700000000}"#,
        ),
        ("not_object_array", 0, 0, b"[1,2,3]"),
        ("not_json", 0, 0, b"{\"type\":"),
        ("deep_nesting", 0, 0, &[b'['; 300]),
        ("big_numbers", 0, 0, br#"{"type":"n","data":1e400}"#),
        ("float_round_trip", 0, 0, br#"{"type":"f","data":0.30000000000000004}"#),
        ("unicode_escapes", 0, 0, br#"{"type":"\ud83d\ude00","data":"\u0000"}"#),
        ("lone_surrogate", 0, 0, br#"{"type":"\ud800"}"#),
        ("duplicate_keys", 0, 0, br#"{"type":"a","type":"b"}"#),
        ("custom_fields_short", 1, 0, br#"{"t":"chat","d":{"text":"x"}}"#),
        (
            "custom_fields_renamed",
            2,
            0,
            br#"{"kind":"k","payload":{},"ts":"now"}"#,
        ),
        ("duplicate_field_names_profile", 3, 0, br#"{"x":"chat"}"#),
        ("binary_accepted", 4 | 8, 0, br#"{"type":"b"}"#),
        ("binary_refused", 8, 0, br#"{"type":"b"}"#),
        ("binary_invalid_utf8", 4, 0, b"{\"type\":\"\xff\"}"),
    ]
}

// ----- session scripts -----

/// The byte encoding `arbitrary` decodes into these values (checked by a round trip).
fn tag(index: u32, count: u64) -> [u8; 4] {
    let v = (u64::from(index) << 32).div_ceil(count);
    u32::try_from(v).expect("tag fits").to_le_bytes()
}

fn enc_bytes(out: &mut Vec<u8>, b: &Bytes) {
    out.push(u8::try_from(b.0.len()).expect("at most 255 bytes"));
    out.extend_from_slice(&b.0);
}

fn enc_step(out: &mut Vec<u8>, step: &Step) {
    const N: u64 = 13;
    match step {
        Step::Advance { ms, wake } => {
            out.extend(tag(0, N));
            out.extend(ms.to_le_bytes());
            out.push(u8::from(*wake));
        }
        Step::Timeout => out.extend(tag(1, N)),
        Step::Connect => out.extend(tag(2, N)),
        Step::Connected => out.extend(tag(3, N)),
        Step::ToServer { max } => {
            out.extend(tag(4, N));
            out.extend(max.to_le_bytes());
        }
        Step::ToClient { max } => {
            out.extend(tag(5, N));
            out.extend(max.to_le_bytes());
        }
        Step::Raw(b) => {
            out.extend(tag(6, N));
            enc_bytes(out, b);
        }
        Step::Stale(b) => {
            out.extend(tag(7, N));
            enc_bytes(out, b);
        }
        Step::Eof => out.extend(tag(8, N)),
        Step::Failed(kind) => {
            out.extend(tag(9, N));
            out.extend(tag(*kind as u32, 6));
        }
        Step::Send { len, text } => {
            out.extend(tag(10, N));
            out.extend(len.to_le_bytes());
            out.push(u8::from(*text));
        }
        Step::Close { code, reason } => {
            out.extend(tag(11, N));
            out.extend(code.to_le_bytes());
            out.push(*reason);
        }
        Step::Peer(action) => {
            out.extend(tag(12, N));
            match action {
                PeerAction::Text(b) => {
                    out.extend(tag(0, 6));
                    enc_bytes(out, b);
                }
                PeerAction::Binary { len } => {
                    out.extend(tag(1, 6));
                    out.extend(len.to_le_bytes());
                }
                PeerAction::Ping(b) => {
                    out.extend(tag(2, 6));
                    enc_bytes(out, b);
                }
                PeerAction::Close { code } => {
                    out.extend(tag(3, 6));
                    out.extend(code.to_le_bytes());
                }
                PeerAction::RejectNext { status } => {
                    out.extend(tag(4, 6));
                    out.extend(status.to_le_bytes());
                }
                PeerAction::Hangup => out.extend(tag(5, 6)),
            }
        }
    }
}

/// Encodes a script so that [`parse`] gives it back.
pub fn encode_script(setup: &Setup, steps: &[Step]) -> Vec<u8> {
    let mut out = vec![
        u8::from(setup.drop_oldest),
        u8::from(setup.heartbeat),
        u8::from(setup.reconnect),
        setup.max_attempts,
        u8::from(setup.jitter),
        setup.timers.open_timeout,
        setup.timers.close_timeout,
        setup.timers.interval,
        setup.timers.timeout,
        setup.timers.initial_delay,
        setup.timers.max_delay,
        setup.timers.healthy_after,
        setup.timers.max_elapsed,
        setup.timers.queue_messages,
    ];
    for step in steps {
        enc_step(&mut out, step);
    }
    let (s, back) = parse(&out);
    assert_eq!(
        (&s, back.as_slice()),
        (setup, steps),
        "seed encoding does not round-trip"
    );
    out
}

fn scripts() -> Vec<(&'static str, Setup, Vec<Step>)> {
    use Step::*;
    let open = [Connect, Connected, ToServer { max: 0 }, ToClient { max: 0 }];
    let exchange = [ToServer { max: 0 }, ToClient { max: 0 }];
    let with = |parts: &[&[Step]]| parts.concat();
    let reconnect = Setup {
        reconnect: true,
        jitter: true,
        ..Setup::default()
    };
    let heartbeat = Setup {
        heartbeat: true,
        reconnect: true,
        ..Setup::default()
    };
    let drop_oldest = Setup {
        drop_oldest: true,
        reconnect: true,
        max_attempts: 3,
        ..Setup::default()
    };
    let sends = |n: u16| {
        (0..n)
            .map(|i| Send {
                len: 100 + i * 300,
                text: i % 2 == 0,
            })
            .collect::<Vec<_>>()
    };
    let text = |s: &str| Peer(PeerAction::Text(Bytes(s.as_bytes().to_vec())));
    let raw = |b: Vec<u8>| Raw(Bytes(b));
    let retry_after_date = response(
        "HTTP/1.1 503 Service Unavailable",
        &[
            "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT",
            "Date: Sun, 06 Nov 1994 08:48:37 GMT",
            "Content-Length: 0",
        ],
        b"",
    );
    vec![
        (
            "open_send_echo_close",
            reconnect,
            with(&[
                &open,
                &sends(3),
                &exchange,
                &exchange,
                &[Close { code: 1000, reason: 3 }],
                &exchange,
                &[Advance { ms: 600, wake: true }],
            ]),
        ),
        (
            "queue_while_disconnected_then_open",
            reconnect,
            with(&[&sends(10), &open, &exchange]),
        ),
        (
            "drop_oldest_overflow",
            drop_oldest,
            with(&[&sends(12), &[Send { len: 5000, text: false }], &open, &exchange]),
        ),
        (
            "server_messages_and_pings",
            reconnect,
            with(&[
                &open,
                &[
                    text("hello"),
                    Peer(PeerAction::Ping(Bytes(b"p".to_vec()))),
                    Peer(PeerAction::Binary { len: 300 }),
                ],
                &exchange,
                &exchange,
            ]),
        ),
        (
            "server_closes_1013",
            reconnect,
            with(&[
                &open,
                &[Peer(PeerAction::Close { code: 1013 })],
                &exchange,
                &exchange,
                &[Timeout, Timeout],
            ]),
        ),
        (
            "server_closes_1002_fatal",
            reconnect,
            with(&[
                &open,
                &[Peer(PeerAction::Close { code: 1002 })],
                &exchange,
                &exchange,
                &[Timeout],
            ]),
        ),
        (
            "heartbeat_pong_timeout_then_reconnect",
            heartbeat,
            with(&[
                &open,
                &[
                    Advance { ms: 600, wake: true },
                    Advance { ms: 400, wake: true },
                    Timeout,
                ],
                &open[1..],
                &exchange,
            ]),
        ),
        (
            "heartbeat_answered",
            heartbeat,
            with(&[
                &open,
                &[Advance { ms: 600, wake: true }],
                &exchange,
                &[Advance { ms: 600, wake: true }],
                &exchange,
            ]),
        ),
        (
            "clock_jump_while_open",
            heartbeat,
            with(&[
                &open,
                &[Advance { ms: 65_000, wake: true }, Advance { ms: 65_000, wake: true }],
                &exchange,
            ]),
        ),
        (
            "open_timeout_then_retry",
            reconnect,
            with(&[&[Connect, Advance { ms: 1500, wake: true }, Timeout], &open[1..]]),
        ),
        (
            "rejected_503_then_retry",
            reconnect,
            with(&[
                &[Peer(PeerAction::RejectNext { status: 503 })],
                &open,
                &[Timeout],
                &open[1..],
                &exchange,
            ]),
        ),
        (
            "rejected_503_retry_after_date",
            reconnect,
            with(&[&[Connect, Connected, raw(retry_after_date)], &[Timeout]]),
        ),
        (
            "rejected_401_fatal",
            reconnect,
            with(&[&[Peer(PeerAction::RejectNext { status: 401 })], &open]),
        ),
        (
            "eof_while_open_requeues",
            reconnect,
            with(&[&open, &sends(2), &[Eof, Timeout], &open[1..], &exchange]),
        ),
        (
            "transport_failures",
            reconnect,
            with(&[&[
                Connect,
                Failed(FailKind::Refused),
                Timeout,
                Failed(FailKind::Dns),
                Timeout,
                Connected,
                Failed(FailKind::TlsCertificate),
            ]]),
        ),
        (
            "protocol_violation_from_server",
            reconnect,
            with(&[&open, &sends(1), &[raw(vec![0xC1, 0x00])], &exchange, &[Timeout]]),
        ),
        (
            "garbage_handshake",
            reconnect,
            with(&[&[Connect, Connected, raw(b"HTTP/1.1 200 OK\r\n\r\n".to_vec()), Timeout]]),
        ),
        (
            "stale_transport_inputs",
            reconnect,
            with(&[
                &open,
                &[
                    Eof,
                    Stale(Bytes(vec![0x81, 0x01, b'x'])),
                    Timeout,
                    Stale(Bytes(Vec::new())),
                ],
            ]),
        ),
        (
            "close_while_connecting",
            reconnect,
            with(&[&[
                Connect,
                Send { len: 10, text: true },
                Close {
                    code: 4000,
                    reason: 200,
                },
                Send { len: 1, text: false },
                Connect,
            ]]),
        ),
        (
            "close_then_server_hangup",
            reconnect,
            with(&[
                &open,
                &sends(2),
                &[
                    Close { code: 1001, reason: 0 },
                    ToServer { max: 0 },
                    Peer(PeerAction::Hangup),
                ],
            ]),
        ),
        (
            "partial_delivery",
            reconnect,
            with(&[
                &[
                    Connect,
                    Connected,
                    ToServer { max: 7 },
                    ToServer { max: 0 },
                    ToClient { max: 20 },
                    ToClient { max: 3 },
                    ToClient { max: 0 },
                ],
                &sends(2),
                &[ToServer { max: 5 }],
                &exchange,
            ]),
        ),
        (
            "no_reconnect_close_timeout",
            Setup::default(),
            with(&[
                &open,
                &[Close { code: 1000, reason: 1 }, Advance { ms: 700, wake: true }],
            ]),
        ),
        (
            // Ping every 7 ms, pong due 300 ms after the oldest unanswered ping; the peer
            // answers one ping, then nothing reaches it: detected, then a 1 ms backoff.
            "heartbeat_timeout_above_interval",
            Setup {
                heartbeat: true,
                reconnect: true,
                timers: Timers {
                    interval: 2,
                    timeout: 3,
                    initial_delay: 1,
                    max_delay: 1,
                    ..Timers::default()
                },
                ..Setup::default()
            },
            with(&[
                &open,
                &[Advance { ms: 7, wake: true }],
                &exchange,
                &[
                    Advance { ms: 400, wake: true },
                    Advance { ms: 301, wake: true },
                    Timeout,
                ],
                &open[1..],
            ]),
        ),
        (
            // Every timer "never": no deadline ever fires, nothing overflows.
            "every_timer_never",
            Setup {
                heartbeat: true,
                reconnect: true,
                jitter: true,
                timers: Timers {
                    open_timeout: 7,
                    close_timeout: 7,
                    interval: 7,
                    timeout: 7,
                    initial_delay: 7,
                    max_delay: 7,
                    healthy_after: 7,
                    max_elapsed: 7,
                    queue_messages: 1,
                },
                ..Setup::default()
            },
            with(&[
                &open,
                &sends(2),
                &exchange,
                &[
                    Timeout,
                    Eof,
                    Timeout,
                    Timeout,
                    Connect,
                    Advance { ms: 65535, wake: true },
                ],
            ]),
        ),
        (
            // Every timer 1 ms: retries, pings and timeouts all due at once, never in a loop.
            "every_timer_one_ms",
            Setup {
                heartbeat: true,
                reconnect: true,
                timers: Timers {
                    open_timeout: 1,
                    close_timeout: 1,
                    interval: 1,
                    timeout: 1,
                    initial_delay: 1,
                    max_delay: 1,
                    healthy_after: 1,
                    max_elapsed: 4,
                    queue_messages: 3,
                },
                ..Setup::default()
            },
            with(&[
                &open,
                &sends(3),
                &[Timeout, Timeout, Advance { ms: 3, wake: true }, Timeout],
                &open[1..],
                &exchange,
                &[Timeout, Timeout, Timeout, Timeout],
            ]),
        ),
    ]
}

/// Proxy answers: (name, selector, bytes).
fn proxy_answers() -> Vec<(&'static str, u8, Vec<u8>)> {
    vec![
        ("http_200", 0, b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec()),
        (
            "http_407_with_credentials",
            1,
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n".to_vec(),
        ),
        (
            "http_503_body",
            4,
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy".to_vec(),
        ),
        (
            "http_200_garbage",
            0,
            b"HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01garbage".to_vec(),
        ),
        ("http_bad_status_line", 4, b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()),
        ("http_eof_mid_head", 4, b"HTTP/1.1 200 OK\r\nX: y".to_vec()),
        ("socks_no_auth_v4", 2, vec![5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90]),
        (
            "socks_auth_name",
            3,
            [&[5u8, 2, 1, 0, 5, 0, 0, 3, 4][..], b"host", &[0, 80]].concat(),
        ),
        ("socks_auth_refused", 7, vec![5, 2, 1, 1]),
        (
            "socks_host_unreachable_v6",
            10,
            vec![5, 0, 5, 4, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        ("socks_bad_version", 6, vec![4, 0]),
        ("socks_no_method", 6, vec![5, 0xff]),
    ]
}

/// Every seed, by target.
pub fn all() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: String, bytes: Vec<u8>| seeds.push(Seed { target, name, bytes });

    // url_join: "base\nreference", or a reference alone against the default base.
    let locations = [
        ("absolute_wss", "wss://b.test/p?q"),
        ("absolute_https_port", "https://b.test:444/p"),
        ("scheme_relative_ipv6", "//[::1]:9/p"),
        ("path_absolute_query", "/abs?y=2"),
        ("relative", "rel?z"),
        ("dot_segments", "../../../../top"),
        ("query_only", "?only=query"),
        ("fragment_only", "#frag"),
        ("spaces", "  /x y  "),
        ("colon_in_path", "a/b:c"),
        ("userinfo", "http://u:p@b.test/"),
        ("unsupported_scheme", "ftp://b.test/"),
        ("port_zero", "http://b.test:0/"),
    ];
    for (name, location) in locations {
        add("url_join", name.to_owned(), location.as_bytes().to_vec());
    }
    add("url_join", "base_with_dots".into(), b"ws://a/.\n?".to_vec());
    add(
        "url_join",
        "base_ipv6_no_path".into(),
        b"ws://[::1]:80\n./a/../b".to_vec(),
    );

    // proxy_handshake: selector bits 0-1 proxy (http, http+auth, socks5h, socks5h+auth),
    // bit 2 EOF after, bit 3 IPv6 target; seed = chunking.
    for (name, sel, answer) in proxy_answers() {
        for (suffix, seed) in [("", 0u8), ("_bytewise", 1)] {
            add(
                "proxy_handshake",
                format!("{name}{suffix}"),
                cat(&[&[sel, seed], &answer]),
            );
        }
    }

    // frame_decode: selector 3 is the default limit; a few with the smaller ones.
    for (name, stream) in server_streams().into_iter().chain(client_streams()) {
        add("frame_decode", name.to_owned(), cat(&[&[3], &stream]));
    }
    add(
        "frame_decode",
        "limit_125_ping_126".into(),
        cat(&[&[0], &frame(0x89, &[0; 126])]),
    );
    add(
        "frame_decode",
        "limit_65535_len_65536".into(),
        vec![2, 0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0],
    );
    add("frame_decode", "empty".into(), vec![3]);

    // message_stream: flags bit 0 = server role, bit 1 = EOF after, bits 2-3 = limits,
    // bit 4 = close timeout, bit 5 = we close first, bit 6 = we send first; seed = chunking.
    for (name, stream) in server_streams() {
        add(
            "message_stream",
            format!("client_{name}"),
            cat(&[&[0b0000_1110, 0], &stream]),
        );
        add(
            "message_stream",
            format!("client_{name}_bytewise"),
            cat(&[&[0b0000_0000, 1], &stream]),
        );
    }
    for (name, stream) in client_streams() {
        add(
            "message_stream",
            format!("server_{name}"),
            cat(&[&[0b0000_0011, 3], &stream]),
        );
    }
    let hello = frame(0x81, b"Hello");
    add(
        "message_stream",
        "client_tiny_limits_fragments".into(),
        cat(&[&[0b0000_0100, 2], &named("tiny_fragments_f21")]),
    );
    add(
        "message_stream",
        "client_we_close_first_then_data".into(),
        cat(&[&[0b0011_0000, 5], &hello, &close_frame(1000, b"")]),
    );
    add(
        "message_stream",
        "client_we_close_no_reply_timeout".into(),
        cat(&[&[0b0011_0000, 0], &hello]),
    );
    add(
        "message_stream",
        "server_we_send_and_close".into(),
        cat(&[&[0b0111_0001, 4], &masked(0x88, &[0x03, 0xE8], [9, 9, 9, 9])]),
    );

    // differential: selector = limits profile.
    for (name, stream) in server_streams() {
        add("differential", name.to_owned(), cat(&[&[2], &stream]));
    }
    add(
        "differential",
        "limits_125_message_too_big".into(),
        cat(&[&[0], &named("message_too_big_fragmented")]),
    );
    add(
        "differential",
        "limits_1000_frame_too_big".into(),
        cat(&[&[1], &frame(0x82, &[7; 1001])]),
    );

    // handshakes: selector, chunk seed, bytes; each whole and bytewise.
    for (name, sel, bytes) in handshake_responses() {
        add("handshake_response", name.to_owned(), cat(&[&[sel, 0], &bytes]));
        add(
            "handshake_response",
            format!("{name}_bytewise"),
            cat(&[&[sel, 1], &bytes]),
        );
    }
    for (name, sel, bytes) in handshake_requests() {
        add("handshake_request", name.to_owned(), cat(&[&[sel, 0], &bytes]));
        add(
            "handshake_request",
            format!("{name}_chunked"),
            cat(&[&[sel, 7], &bytes]),
        );
    }

    // json_envelope: selector, 12 time bytes, payload.
    for (name, sel, secs, payload) in json_payloads() {
        let mut bytes = vec![sel];
        bytes.extend(secs.to_le_bytes());
        bytes.extend(123_456_789u32.to_le_bytes());
        bytes.extend_from_slice(payload);
        add("json_envelope", name.to_owned(), bytes);
    }

    for (name, setup, steps) in scripts() {
        add("session_script", name.to_owned(), encode_script(&setup, &steps));
    }

    // deflate_stream and deflate_roundtrip: see `crate::deflate_seeds`.
    for (target, name, bytes) in crate::deflate_seeds::seeds() {
        add(target, name, bytes);
    }
    seeds
}
