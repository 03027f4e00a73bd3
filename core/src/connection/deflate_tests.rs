//! permessage-deflate through two connections: negotiation in both roles, compressed
//! messages both ways in any chunking, and the failures RFC 7692 and the limits require.

#![allow(clippy::disallowed_methods)] // one real Instant to start from

use std::time::Instant;

use proptest::prelude::*;

use crate::close::CloseCode;
use crate::config::Config;
use crate::connection::{Connection, Event, Input};
use crate::error::{ConnectionError, ProtocolError};
use crate::extension::{DeflateConfig, DeflateParams};
use crate::frame::{FrameError, OpCode, encode_frame, write_compressed_header};
use crate::handshake::{ClientOptions, HandshakeError, accept_key};
use crate::message::Message;
use crate::url::WsUrl;

/// Moves every byte `from` has to write into `to`, `chunk` bytes per input.
fn pump(now: Instant, from: &mut Connection, to: &mut Connection, chunk: usize) {
    let mut bytes = Vec::new();
    while from.poll_transmit(&mut bytes).is_some() {}
    for part in bytes.chunks(chunk.max(1)) {
        to.handle_input(now, Input::Data(part));
    }
}

/// Every event queued on `conn`.
fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// A client and a server with these settings, handshake done; the agreed parameters as each saw them.
fn open_pair(
    client: Config,
    server: Config,
    now: Instant,
) -> (Connection, Connection, Option<DeflateParams>, Option<DeflateParams>) {
    let url: WsUrl = "ws://example.com/".parse().unwrap();
    let mut c = Connection::client(&url, &ClientOptions::default(), client, [1; 32], now).unwrap();
    let mut s = Connection::server(server, [2; 32], now);
    pump(now, &mut c, &mut s, usize::MAX);
    let Some(Event::Request(request)) = s.poll_event() else {
        panic!("no request")
    };
    s.accept(now, &request, None, &[]);
    let Some(Event::Opened(at_server)) = s.poll_event() else {
        panic!("server did not open")
    };
    pump(now, &mut s, &mut c, usize::MAX);
    let Some(Event::Opened(at_client)) = c.poll_event() else {
        panic!("client did not open")
    };
    (c, s, at_client.deflate, at_server.deflate)
}

fn mixed_messages(n: usize) -> Vec<Message> {
    (0..n)
        .map(|i| {
            let text =
                format!("{{\"seq\":{i},\"price\":\"{}.25\",\"side\":\"buy\"}}", 100 + i % 7).repeat(1 + (i * 37) % 90);
            if i % 3 == 0 {
                Message::Binary(text.into_bytes().into())
            } else {
                Message::Text(text.into())
            }
        })
        .collect()
}

fn exchange(c: &mut Connection, s: &mut Connection, messages: &[Message], chunk: usize, now: Instant) {
    for m in messages {
        c.send(m).unwrap();
        pump(now, c, s, chunk);
        assert_eq!(events(s), vec![Event::Message(m.clone())]);
        s.send(m).unwrap();
        pump(now, s, c, chunk);
        assert_eq!(events(c), vec![Event::Message(m.clone())]);
    }
}

#[test]
fn both_roles_agree_and_exchange_compressed_messages() {
    let now = Instant::now();
    let settings = [
        DeflateConfig::default(),
        DeflateConfig::new().no_context_takeover(),
        DeflateConfig::new()
            .server_max_window_bits(9)
            .client_max_window_bits(10),
        DeflateConfig::new()
            .server_max_window_bits(8)
            .client_max_window_bits(8)
            .threshold(0),
        DeflateConfig::new().level(0),
        DeflateConfig::new().level(9).threshold(usize::MAX),
    ];
    for deflate in settings {
        for chunk in [1, 7, usize::MAX] {
            let config = Config::default().deflate(Some(deflate.clone()));
            let (mut c, mut s, at_client, at_server) = open_pair(config.clone(), config, now);
            assert!(at_client.is_some());
            assert_eq!(at_client, at_server, "{deflate:?}");
            let messages = if chunk == 1 {
                mixed_messages(12)
            } else {
                mixed_messages(60)
            };
            exchange(&mut c, &mut s, &messages, chunk, now);
        }
    }
}

#[test]
fn large_messages_go_out_compressed_and_small_ones_plain() {
    let now = Instant::now();
    let (mut c, mut s, _, _) = open_pair(Config::default(), Config::default(), now);
    let big = "{\"type\":\"book\",\"bids\":[[\"1.0\",\"2\"]]}".repeat(100);
    s.send_text(&big).unwrap();
    s.send_text("small").unwrap();
    let mut wire = Vec::new();
    while s.poll_transmit(&mut wire).is_some() {}
    assert_eq!(wire[0], 0xC1, "RSV1 + FIN + text");
    assert!(
        wire.len() < big.len() / 5,
        "{} bytes on the wire for {}",
        wire.len(),
        big.len()
    );
    let small = &wire[wire.len() - 7..];
    assert_eq!(small, b"\x81\x05small");
    c.handle_input(now, Input::Data(&wire));
    assert_eq!(
        events(&mut c),
        vec![
            Event::Message(Message::Text(big.into())),
            Event::Message(Message::Text("small".into()))
        ]
    );
}

#[test]
fn without_deflate_on_either_side_nothing_is_agreed() {
    let now = Instant::now();
    let off = Config::default().deflate(None);
    for (client, server) in [
        (off.clone(), Config::default()),
        (Config::default(), off.clone()),
        (off.clone(), off),
    ] {
        let (mut c, mut s, at_client, at_server) = open_pair(client, server, now);
        assert_eq!((at_client, at_server), (None, None));
        exchange(&mut c, &mut s, &mixed_messages(5), usize::MAX, now);
    }
}

/// A client that offered deflate and got `extensions` back from the server.
fn client_answered(extensions: &str) -> Vec<Event> {
    let now = Instant::now();
    let url: WsUrl = "ws://example.com/".parse().unwrap();
    let mut c = Connection::client(&url, &ClientOptions::default(), Config::default(), [1; 32], now).unwrap();
    let mut request = Vec::new();
    while c.poll_transmit(&mut request).is_some() {}
    let request = String::from_utf8(request).unwrap();
    assert!(request.contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
    let key = request
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{extensions}\r\n",
        accept_key(key.trim())
    );
    c.handle_input(now, Input::Data(response.as_bytes()));
    events(&mut c)
}

#[test]
fn a_client_fails_a_bad_extension_answer() {
    for (answer, expected) in [
        (
            "Sec-WebSocket-Extensions: x-foo\r\n",
            HandshakeError::UnrequestedExtension("x-foo".into()),
        ),
        (
            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16\r\n",
            HandshakeError::InvalidExtension("server_max_window_bits=\"16\" is not a window size from 8 to 15".into()),
        ),
    ] {
        let events = client_answered(answer);
        let Some(Event::Closed(info)) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!(info.error, Some(ConnectionError::Handshake(expected)));
    }
    let events = client_answered("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=9\r\n");
    let Some(Event::Opened(accepted)) = events.first() else {
        panic!("{events:?}")
    };
    assert_eq!(accepted.extensions(), "permessage-deflate; client_max_window_bits=9");
}

/// The connection failure a client reports after `wire` arrives from the server.
fn client_failure(deflate: bool, max_message: usize, wire: &[u8], chunk: usize) -> (ConnectionError, Vec<Message>) {
    let now = Instant::now();
    let client = Config::default()
        .max_message_size(max_message)
        .deflate(deflate.then(DeflateConfig::default));
    let (mut c, _s, _, _) = open_pair(client, Config::default(), now);
    for part in wire.chunks(chunk) {
        c.handle_input(now, Input::Data(part));
    }
    let mut got = Vec::new();
    for e in events(&mut c) {
        match e {
            Event::Message(m) => got.push(m),
            Event::Closed(info) => return (info.error.expect("an error"), got),
            _ => {}
        }
    }
    panic!("the connection did not fail");
}

/// A server frame whose payload is raw DEFLATE of `data` (tail removed), with RSV1.
fn compressed_frame(data: &[u8], opcode: OpCode, fin: bool) -> Vec<u8> {
    let mut c = crate::extension::compress::Compressor::new(6, 15, false);
    let mut body = Vec::new();
    c.compress(data, &mut body);
    let mut frame = Vec::new();
    write_compressed_header(&mut frame, fin, opcode, body.len(), None);
    frame.extend_from_slice(&body);
    frame
}

fn protocol(e: ConnectionError) -> (ProtocolError, CloseCode) {
    match e {
        ConnectionError::Protocol(p) => {
            let code = p.close_code();
            (p, code)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bombs_bad_data_and_misplaced_rsv1_fail_with_the_right_code() {
    for chunk in [1, 5, usize::MAX] {
        // A 64 KiB limit and 16 MiB of zeros in a frame of a few KiB: 1009 at the limit.
        let bomb = compressed_frame(&vec![0u8; 16 << 20], OpCode::Binary, true);
        assert!(bomb.len() < 20_000);
        let (err, _) = client_failure(true, 64 << 10, &bomb, chunk.min(4096));
        let (err, code) = protocol(err);
        assert_eq!(code, CloseCode::MESSAGE_TOO_BIG);
        assert_eq!(
            err,
            ProtocolError::MessageTooLarge {
                size: (64 << 10) + 1,
                limit: 64 << 10
            }
        );
        // Invalid DEFLATE (BTYPE 11): 1007.
        let (err, _) = client_failure(true, 1 << 20, &[0xC2, 0x02, 0xff, 0xff], chunk);
        let (err, code) = protocol(err);
        assert!(matches!(err, ProtocolError::InvalidCompressedData(_)), "{err:?}");
        assert_eq!(code, CloseCode::INVALID_PAYLOAD);
        // Inflated text that is not UTF-8: 1007, after the messages before it.
        let mut wire = compressed_frame(b"fine", OpCode::Text, true);
        wire.extend(compressed_frame(&[b'a', 0xff, b'b'], OpCode::Text, true));
        let (err, got) = client_failure(true, 1 << 20, &wire, chunk);
        assert_eq!(protocol(err).0, ProtocolError::InvalidUtf8);
        assert_eq!(got, vec![Message::Text("fine".into())]);
        // RSV1 with nothing agreed, on a continuation, on a control frame: 1002.
        let (err, _) = client_failure(false, 1 << 20, &compressed_frame(b"x", OpCode::Text, true), chunk);
        assert_eq!(
            protocol(err),
            (FrameError::ReservedBits(4).into(), CloseCode::PROTOCOL_ERROR)
        );
        let mut wire = compressed_frame(b"abc", OpCode::Text, false);
        wire.extend(compressed_frame(b"def", OpCode::Continuation, true));
        let (err, _) = client_failure(true, 1 << 20, &wire, chunk);
        assert_eq!(
            protocol(err),
            (
                FrameError::MisplacedRsv1(OpCode::Continuation).into(),
                CloseCode::PROTOCOL_ERROR
            )
        );
        let (err, _) = client_failure(true, 1 << 20, &[0xC9, 0x00], chunk);
        assert_eq!(
            protocol(err),
            (
                FrameError::MisplacedRsv1(OpCode::Ping).into(),
                CloseCode::PROTOCOL_ERROR
            )
        );
    }
}

#[test]
fn fragmented_compressed_messages_with_control_frames_between() {
    let now = Instant::now();
    let text = "fragmented and compressed ".repeat(40);
    let mut comp = crate::extension::compress::Compressor::new(6, 15, false);
    let mut body = Vec::new();
    comp.compress(text.as_bytes(), &mut body);
    let (first, rest) = body.split_at(body.len() / 3);
    let (second, third) = rest.split_at(rest.len() / 2);
    let mut wire = Vec::new();
    write_compressed_header(&mut wire, false, OpCode::Text, first.len(), None);
    wire.extend_from_slice(first);
    encode_frame(&mut wire, true, OpCode::Ping, b"p", None);
    encode_frame(&mut wire, false, OpCode::Continuation, second, None);
    encode_frame(&mut wire, true, OpCode::Continuation, third, None);
    for chunk in [1, 3, usize::MAX] {
        let (mut c, _s, _, _) = open_pair(Config::default(), Config::default(), now);
        for part in wire.chunks(chunk) {
            c.handle_input(now, Input::Data(part));
        }
        assert_eq!(
            events(&mut c),
            vec![
                Event::Ping("p".into()),
                Event::Message(Message::Text(text.clone().into()))
            ]
        );
    }
}

/// The frames `wire` holds: (first header byte, payload length), for unmasked or masked frames
/// with payloads under 64 KiB.
fn frame_heads(wire: &[u8]) -> Vec<(u8, usize)> {
    let mut heads = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let (b0, b1) = (wire[at], wire[at + 1]);
        let (len, mut header) = match b1 & 0x7f {
            126 => (usize::from(u16::from_be_bytes([wire[at + 2], wire[at + 3]])), 4),
            127 => panic!("a frame over 64 KiB"),
            n => (usize::from(n), 2),
        };
        if b1 & 0x80 != 0 {
            header += 4;
        }
        heads.push((b0, len));
        at += header + len;
    }
    heads
}

/// A message sent with `send_fragment` goes out compressed when deflate was agreed: RSV1 on
/// its first frame only, each fragment flushed (empty ones included), the whole far smaller
/// than the text; it arrives intact, and the compression context goes on for the messages
/// after it, in both roles.
#[test]
fn fragments_go_out_compressed_with_rsv1_on_the_first_frame_only() {
    let now = Instant::now();
    let text: String = (0..2000)
        .map(|i| format!("{{\"seq\":{i},\"side\":\"buy\"}},"))
        .collect();
    let bytes = text.as_bytes();
    let third = bytes.len() / 3;
    let (mut c, mut s, _, _) = open_pair(Config::default(), Config::default(), now);
    for client_sends in [true, false] {
        let (from, to) = if client_sends {
            (&mut c, &mut s)
        } else {
            (&mut s, &mut c)
        };
        from.send_fragment(OpCode::Text, &bytes[..third], false).unwrap();
        from.send_fragment(OpCode::Continuation, &[], false).unwrap();
        from.send_fragment(OpCode::Continuation, &bytes[third..2 * third], false)
            .unwrap();
        from.send_fragment(OpCode::Continuation, &bytes[2 * third..], false)
            .unwrap();
        from.send_fragment(OpCode::Continuation, &[], true).unwrap();
        let mut wire = Vec::new();
        while from.poll_transmit(&mut wire).is_some() {}
        let heads: Vec<u8> = frame_heads(&wire).iter().map(|(b0, _)| *b0).collect();
        assert_eq!(
            heads,
            [0x41, 0x00, 0x00, 0x00, 0x80],
            "RSV1 + text, then continuations, FIN last"
        );
        assert!(
            wire.len() < text.len() / 4,
            "{} bytes on the wire for {}",
            wire.len(),
            text.len()
        );
        to.handle_input(now, Input::Data(&wire));
        assert_eq!(events(to), vec![Event::Message(Message::Text(text.clone().into()))]);
        // The context carries on: a whole message after it, and another fragmented one.
        from.send_text(&text).unwrap();
        from.send_fragment(OpCode::Binary, b"tail", true).unwrap();
        pump(now, from, to, 100);
        assert_eq!(
            events(to),
            vec![
                Event::Message(Message::Text(text.clone().into())),
                Event::Message(Message::Binary(b"tail".to_vec().into())),
            ]
        );
    }
}

/// Without permessage-deflate, fragments go out as they are.
#[test]
fn without_deflate_fragments_go_out_plain() {
    let now = Instant::now();
    let (mut c, mut s, _, _) = open_pair(Config::default().deflate(None), Config::default(), now);
    c.send_fragment(OpCode::Text, b"plain ", false).unwrap();
    c.send_fragment(OpCode::Continuation, b"text", true).unwrap();
    let mut wire = Vec::new();
    while c.poll_transmit(&mut wire).is_some() {}
    assert_eq!(frame_heads(&wire), [(0x01, 6), (0x80, 4)]);
    s.handle_input(now, Input::Data(&wire));
    assert_eq!(events(&mut s), vec![Event::Message(Message::text("plain text"))]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Every setting pair, messages cut into fragments anywhere (empty ones included), in any
    /// chunking: what one side sends with `send_fragment`, the other receives unchanged, and
    /// whole messages in between keep working on the same context.
    #[test]
    fn any_settings_fragmented_round_trip(
        c_nct: bool, s_nct: bool, c_bits in 8u8..=15, s_bits in 8u8..=15,
        level in 0u32..=9,
        chunk in prop_oneof![Just(1usize), 2usize..300, Just(usize::MAX)],
        messages in proptest::collection::vec(
            (0usize..5000, proptest::collection::vec(0usize..5000, 0..4), any::<bool>()),
            1..4,
        ),
    ) {
        let now = Instant::now();
        let client = DeflateConfig::new().client_no_context_takeover(c_nct).client_max_window_bits(c_bits).level(level);
        let server = DeflateConfig::new().server_no_context_takeover(s_nct).server_max_window_bits(s_bits).level(level);
        let (mut c, mut s, _, _) = open_pair(
            Config::default().deflate(Some(client)),
            Config::default().deflate(Some(server)),
            now,
        );
        for (i, (size, cuts, binary)) in messages.iter().enumerate() {
            let text: String = "abcab€".chars().cycle().skip(i).take(*size).collect();
            let bytes = text.as_bytes();
            // Cut points on char boundaries, in order (fragments may be empty).
            let mut points: Vec<usize> = cuts.iter().map(|&p| p.min(bytes.len())).filter(|&p| text.is_char_boundary(p)).collect();
            points.sort_unstable();
            let message = if *binary { Message::Binary(bytes.to_vec().into()) } else { Message::Text(text.clone().into()) };
            for client_sends in [true, false] {
                let (from, to) = if client_sends { (&mut c, &mut s) } else { (&mut s, &mut c) };
                let mut start = 0;
                let mut opcode = if *binary { OpCode::Binary } else { OpCode::Text };
                for &point in &points {
                    from.send_fragment(opcode, &bytes[start..point], false).unwrap();
                    start = point;
                    opcode = OpCode::Continuation;
                }
                from.send_fragment(opcode, &bytes[start..], true).unwrap();
                from.send(&message).unwrap();
                pump(now, from, to, chunk);
                prop_assert_eq!(events(to), vec![Event::Message(message.clone()), Event::Message(message.clone())]);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Every setting pair, every message size and chunking: what one side sends, the other
    /// receives unchanged, and the message limit holds on inflated sizes.
    #[test]
    fn any_settings_round_trip(
        c_nct: bool, s_nct: bool, c_bits in 8u8..=15, s_bits in 8u8..=15,
        level in 0u32..=9, threshold in prop_oneof![Just(0usize), 1usize..2000, Just(usize::MAX)],
        chunk in prop_oneof![Just(1usize), 2usize..300, Just(usize::MAX)],
        sizes in proptest::collection::vec(0usize..5000, 1..6),
    ) {
        let now = Instant::now();
        let client = DeflateConfig::new().client_no_context_takeover(c_nct).client_max_window_bits(c_bits).level(level).threshold(threshold);
        let server = DeflateConfig::new().server_no_context_takeover(s_nct).server_max_window_bits(s_bits).level(level).threshold(threshold);
        let (mut c, mut s, at_c, at_s) = open_pair(
            Config::default().deflate(Some(client)),
            Config::default().deflate(Some(server)),
            now,
        );
        prop_assert_eq!(at_c, at_s);
        let messages: Vec<Message> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Message::Text("abcab€".chars().cycle().skip(i).take(n).collect::<String>().into()))
            .collect();
        exchange(&mut c, &mut s, &messages, chunk, now);
    }
}

/// A compressed message whose frames arrive in pieces, each decoded before the next arrives:
/// the inflated bytes leave the receive buffer as they go, and the masking key's phase
/// follows them (server role, masked frames), in any piece size.
#[test]
fn compressed_frames_decoded_piece_by_piece() {
    let now = Instant::now();
    let text: String = (0..3000)
        .map(|i| format!("{{\"seq\":{i},\"px\":\"{}.{:02}\"}},", 100 + i * 7 % 13, i * 31 % 100))
        .collect();
    for fragment in [false, true] {
        for piece in [1, 7, 1000, 70_000] {
            let (mut c, mut s, _, _) = open_pair(Config::default(), Config::default(), now);
            if fragment {
                // Sent compressed in two fragments by the client, compressed whole by the server.
                c.send_fragment(OpCode::Text, &text.as_bytes()[..40_000], false)
                    .unwrap();
                c.send_fragment(OpCode::Continuation, &text.as_bytes()[40_000..], true)
                    .unwrap();
            } else {
                c.send_text(&text).unwrap();
            }
            s.send_text(&text).unwrap();
            for client_sends in [true, false] {
                let (from, to) = if client_sends {
                    (&mut c, &mut s)
                } else {
                    (&mut s, &mut c)
                };
                let mut wire = Vec::new();
                while from.poll_transmit(&mut wire).is_some() {}
                let mut got = Vec::new();
                for part in wire.chunks(piece) {
                    to.handle_input(now, Input::Data(part));
                    got.extend(events(to));
                }
                assert_eq!(
                    got,
                    vec![Event::Message(Message::Text(text.clone().into()))],
                    "piece {piece}"
                );
            }
        }
    }
}
