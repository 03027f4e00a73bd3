//! The receive buffer stays bounded whatever the driver does between `handle_input` calls.

#![allow(clippy::disallowed_methods)] // one real Instant to start from

use std::time::Instant;

use crate::config::Config;
use crate::connection::{Connection, Event, Input};
use crate::frame::MAX_HEADER_LEN;
use crate::handshake::{ClientOptions, accept_key};
use crate::url::WsUrl;

/// An open client connection with `config`.
fn open_client(config: Config, now: Instant) -> Connection {
    let url: WsUrl = "ws://example.com/".parse().unwrap();
    let mut conn = Connection::client(&url, &ClientOptions::default(), config, [5; 32], now).unwrap();
    let mut request = Vec::new();
    while conn.poll_transmit(&mut request).is_some() {}
    let request = String::from_utf8(request).unwrap();
    let key = request
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap()
        .trim();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    );
    conn.handle_input(now, Input::Data(response.as_bytes()));
    assert!(matches!(conn.poll_event(), Some(Event::Opened(_))));
    conn
}

/// An unmasked binary frame of `len` bytes, as a server sends it.
fn binary_frame(len: usize) -> Vec<u8> {
    let mut frame = vec![0x82];
    match len {
        0..=125 => frame.push(len as u8),
        126..=0xFFFF => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend(std::iter::repeat_n(0xAB, len));
    frame
}

#[test]
fn a_driver_that_never_drains_cannot_grow_the_receive_buffer() {
    let now = Instant::now();
    let max_frame = 1000;
    let mut conn = open_client(Config::default().max_frame_size(max_frame).max_message_size(1000), now);
    let read = binary_frame(300).repeat(7); // one read of 7 frames (2.1 KB)
    for _ in 0..1000 {
        conn.handle_input(now, Input::Data(&read));
        assert!(
            conn.receiver.buffered() <= max_frame + MAX_HEADER_LEN + read.len(),
            "{} bytes buffered",
            conn.receiver.buffered()
        );
    }
    // Nothing was lost: every frame is a message, in order.
    let mut messages = 0;
    while let Some(event) = conn.poll_event() {
        assert!(matches!(event, Event::Message(m) if m.len() == 300));
        messages += 1;
    }
    assert_eq!(messages, 7000);
}

#[test]
fn a_partial_frame_at_the_limit_is_kept_whole() {
    let now = Instant::now();
    let mut conn = open_client(Config::default().max_frame_size(4096).max_message_size(4096), now);
    let frame = binary_frame(4096);
    // Fed in 100-byte reads without draining: the frame completes and decodes.
    for chunk in frame.chunks(100) {
        conn.handle_input(now, Input::Data(chunk));
    }
    assert!(matches!(conn.poll_event(), Some(Event::Message(m)) if m.len() == 4096));
}

#[test]
fn frames_larger_than_a_read_decode_whole_when_the_buffer_is_compacted_early() {
    use super::receive::{Received, Receiver};
    use crate::frame::{OpCode, Role, encode_frame};
    use crate::message::Message;
    // Frames of ~300 KB in 64 KiB reads, each message dropped before the next read: the
    // partial next frame is moved to the front of the allocation (masked ones half unmasked).
    for (role, mask) in [(Role::Client, None), (Role::Server, Some([1, 2, 3, 4]))] {
        let mut receiver = Receiver::new(role, &Config::default());
        let payloads: Vec<Vec<u8>> = (0..12u8)
            .map(|i| (0..300_000 + usize::from(i) * 1000).map(|j| (j as u8) ^ i).collect())
            .collect();
        let mut wire = Vec::new();
        for payload in &payloads {
            encode_frame(&mut wire, true, OpCode::Binary, payload, mask);
        }
        let mut next = 0;
        for chunk in wire.chunks(65_536) {
            receiver.buffer(chunk);
            while let Some(received) = receiver.poll().unwrap() {
                let Received::Message(Message::Binary(payload)) = received else {
                    panic!("not a binary message")
                };
                assert!(payload == payloads[next], "message {next} differs");
                next += 1;
            }
        }
        assert_eq!(next, payloads.len());
    }
}
