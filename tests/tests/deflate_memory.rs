//! Heap held per connection by permessage-deflate between messages, measured with a counting
//! allocator: the compressor made by the first compressed send and the inflater made by the
//! first compressed receive, at several window sizes. With context takeover they stay (the
//! history is the point); with `no_context_takeover` they are freed after every message, and
//! nothing is held before the first compressed message (idle connections pay nothing).

#![allow(clippy::disallowed_methods)] // one real Instant to start from

use std::time::Instant;

use resock_core::{ClientOptions, Config, Connection, DeflateConfig, Event, Input, WsUrl};
use resock_tests::alloc::{self, Counting};

#[global_allocator]
static ALLOC: Counting = Counting;

fn pump(now: Instant, from: &mut Connection, to: &mut Connection) {
    let mut bytes = Vec::new();
    while from.poll_transmit(&mut bytes).is_some() {}
    to.handle_input(now, Input::Data(&bytes));
}

/// (client compressor bytes, server inflater bytes) for one setting.
fn held(deflate: DeflateConfig) -> (i64, i64) {
    let now = Instant::now();
    let config = Config::default().deflate(Some(deflate));
    let url: WsUrl = "ws://example.com/".parse().unwrap();
    let mut c = Connection::client(&url, &ClientOptions::default(), config.clone(), [1; 32], now).unwrap();
    let mut s = Connection::server(config, [2; 32], now);
    pump(now, &mut c, &mut s);
    let Some(Event::Request(request)) = s.poll_event() else {
        panic!()
    };
    s.accept(now, &request, None, &[]);
    while s.poll_event().is_some() {}
    pump(now, &mut s, &mut c);
    while c.poll_event().is_some() {}
    let message = "{\"type\":\"ticker\",\"price\":\"101.25\",\"size\":\"3\"}".repeat(100);
    let before = alloc::thread_live_bytes();
    c.send_text(&message).unwrap();
    let mut wire = Vec::new();
    while c.poll_transmit(&mut wire).is_some() {}
    let compressor = alloc::thread_live_bytes() - before - wire.capacity() as i64;
    let before = alloc::thread_live_bytes();
    s.handle_input(now, Input::Data(&wire));
    let received = s.poll_event();
    assert!(matches!(received, Some(Event::Message(_))));
    drop(received);
    let inflater = alloc::thread_live_bytes() - before;
    (compressor, inflater)
}

#[test]
fn compression_state_is_bounded_and_documented() {
    let mut rows = Vec::new();
    for bits in [9u8, 12, 15] {
        for no_takeover in [false, true] {
            let mut d = DeflateConfig::new().client_max_window_bits(bits);
            if no_takeover {
                d = d.no_context_takeover();
            }
            let (compressor, inflater) = held(d);
            rows.push(format!(
                "client window {bits} bits, context takeover {}: compressor {} KiB, inflater {} KiB",
                if no_takeover { "off" } else { "on" },
                compressor / 1024,
                inflater / 1024
            ));
            if no_takeover {
                // Both ends reset per message: nothing is kept between messages.
                assert!(compressor < 1024, "{bits}: compressor {compressor}");
                assert!(inflater < 1024, "{bits}: inflater {inflater}");
                continue;
            }
            // zlib's deflate state: the window twice, its hash chains, and a hash table and
            // pending buffer that flate2 sizes for memLevel 8 whatever the window.
            let window = 1i64 << bits;
            assert!(compressor <= 4 * window + 300 * 1024, "{bits}: compressor {compressor}");
            assert!(compressor >= 2 * window, "{bits}: compressor {compressor}");
            // The inflater always has a 32 KiB window (it accepts any peer window).
            assert!(
                (32 * 1024..=64 * 1024).contains(&inflater),
                "{bits}: inflater {inflater}"
            );
        }
    }
    println!("{}", rows.join("\n"));
}
