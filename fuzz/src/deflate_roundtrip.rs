//! `deflate_roundtrip`: whatever resock compresses (any level, window 9 to 15, with and without
//! context takeover, both roles), resock's inflater and a bare flate2 inflater with exactly the
//! agreed window restore byte for byte. Input layout: see [`deflate_roundtrip`].

use std::time::Instant;

use flate2::{Decompress, FlushDecompress};
use resock_core::{ClientOptions, Config, Connection, DeflateConfig, Event, Input, Message, WsUrl};

use crate::deflate::TAIL;

/// A frame's first byte and its unmasked payload.
type Frame = (u8, Vec<u8>);

/// One frame parsed from `wire`, and the rest.
fn next_frame(wire: &[u8]) -> Option<(Frame, &[u8])> {
    let (&b0, rest) = wire.split_first()?;
    let (&b1, mut rest) = rest.split_first()?;
    let len = match b1 & 0x7f {
        126 => {
            let (l, r) = rest.split_at(2);
            rest = r;
            usize::from(u16::from_be_bytes([l[0], l[1]]))
        }
        127 => {
            let (l, r) = rest.split_at(8);
            rest = r;
            u64::from_be_bytes(l.try_into().ok()?) as usize
        }
        n => usize::from(n),
    };
    let key = if b1 & 0x80 != 0 {
        let (k, r) = rest.split_at(4);
        rest = r;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    let (payload, rest) = rest.split_at(len);
    let mut payload = payload.to_vec();
    if let Some(key) = key {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    Some(((b0, payload), rest))
}

/// The messages in `wire`, inflated by a bare flate2 inflater with exactly `bits` of window,
/// reset after each message when `resets`.
fn flate2_messages(wire: &[u8], bits: u8, resets: bool) -> Vec<Vec<u8>> {
    let mut inflater = Decompress::new_with_window_bits(false, bits);
    let mut out = Vec::new();
    let mut rest = wire;
    while let Some(((b0, payload), tail)) = next_frame(rest) {
        rest = tail;
        assert_eq!(b0 & 0x80, 0x80, "resock fragmented a whole message");
        if b0 & 0x40 == 0 {
            out.push(payload);
            continue;
        }
        let mut input = payload;
        input.extend_from_slice(&TAIL);
        let mut plain = Vec::with_capacity(input.len() * 4 + 64);
        loop {
            let in_start = inflater.total_in();
            let status = inflater
                .decompress_vec(&input, &mut plain, FlushDecompress::Sync)
                .unwrap_or_else(|e| panic!("flate2 with a {bits}-bit window refused resock's data: {e}"));
            let used = (inflater.total_in() - in_start) as usize;
            input.drain(..used);
            if input.is_empty() && plain.len() < plain.capacity() {
                break;
            }
            assert!(
                status != flate2::Status::StreamEnd || input.is_empty(),
                "data after the final block"
            );
            plain.reserve(plain.capacity().max(64));
        }
        if resets {
            inflater.reset(false);
        }
        out.push(plain);
    }
    assert!(rest.is_empty(), "a partial frame on the wire");
    out
}

/// The `deflate_roundtrip` target body.
///
/// Input: a flags byte (bits 0-3 level % 10, bits 4-6 window 9 + n % 7, bit 7 no context
/// takeover), a threshold byte (0: compress everything, else that many bytes), then messages,
/// each a repeat byte, a length byte and that many bytes (repeated `rep % 32 + 1` times; text
/// when valid UTF-8).
pub fn deflate_roundtrip(data: &[u8]) {
    let [flags, threshold, rest @ ..] = data else {
        return;
    };
    let level = u32::from(flags & 0x0f) % 10;
    let bits = 9 + (flags >> 4 & 7) % 7;
    let no_takeover = flags & 0x80 != 0;
    let mut messages = Vec::new();
    let mut s = rest;
    while let [rep, len, tail @ ..] = s {
        let n = usize::from(*len).min(tail.len());
        let plain = tail[..n].repeat(usize::from(rep % 32) + 1);
        s = &tail[n..];
        messages.push(match String::from_utf8(plain) {
            Ok(text) => Message::text(text),
            Err(e) => Message::binary(e.into_bytes()),
        });
        if messages.len() >= 64 {
            break;
        }
    }
    let mut ours = DeflateConfig::new()
        .level(level)
        .threshold(usize::from(*threshold))
        .server_max_window_bits(bits)
        .client_max_window_bits(bits);
    if no_takeover {
        ours = ours.no_context_takeover();
    }
    let config = Config::default().deflate(Some(ours));
    let now = Instant::now();
    let url: WsUrl = "ws://example.com/chat".parse().expect("fixed URL");
    let mut client = Connection::client(&url, &ClientOptions::default(), config.clone(), [3; 32], now).expect("client");
    let mut server = Connection::server(config, [4; 32], now);
    let mut wire = Vec::new();
    while client.poll_transmit(&mut wire).is_some() {}
    server.handle_input(now, Input::Data(&wire));
    let Some(Event::Request(request)) = server.poll_event() else {
        panic!("the server refused the client's request")
    };
    server.accept(now, &request, None, &[]);
    let Some(Event::Opened(at_server)) = server.poll_event() else {
        panic!("the server did not open")
    };
    wire.clear();
    while server.poll_transmit(&mut wire).is_some() {}
    client.handle_input(now, Input::Data(&wire));
    let Some(Event::Opened(at_client)) = client.poll_event() else {
        panic!("the client did not open")
    };
    let agreed = at_client.deflate.expect("deflate agreed");
    assert_eq!(Some(agreed), at_server.deflate);
    assert_eq!(
        (agreed.server_max_window_bits, agreed.client_max_window_bits),
        (bits, bits)
    );
    // Each direction: resock sends, flate2 with the agreed window and resock both restore.
    for (from_server, bits, resets) in [
        (true, agreed.server_max_window_bits, agreed.server_no_context_takeover),
        (false, agreed.client_max_window_bits, agreed.client_no_context_takeover),
    ] {
        let (tx, rx) = if from_server {
            (&mut server, &mut client)
        } else {
            (&mut client, &mut server)
        };
        for m in &messages {
            tx.send(m).expect("send on an open connection");
        }
        wire.clear();
        while tx.poll_transmit(&mut wire).is_some() {}
        let bare = flate2_messages(&wire, bits, resets);
        assert_eq!(bare.len(), messages.len());
        for (m, b) in messages.iter().zip(&bare) {
            assert!(
                m.as_bytes() == &b[..],
                "flate2 restored {} bytes of {}",
                b.len(),
                m.len()
            );
        }
        rx.handle_input(now, Input::Data(&wire));
        for m in &messages {
            assert_eq!(rx.poll_event().as_ref(), Some(&Event::Message(m.clone())));
        }
        assert_eq!(rx.poll_event(), None);
    }
}
