//! A server waiting for the application's `accept` buffers early frames, but only about one
//! frame's worth: a client flooding data before the answer is refused with 413, not buffered
//! without bound.

mod common;

use common::*;
use resock_core::{Config, Connection, ConnectionError, Event, Input, ProtocolError};

#[test]
fn early_frames_wait_for_accept_within_a_bound() {
    let config = Config::default().max_frame_size(1024);
    let mut server = Connection::server(config.clone(), [1; 32], t0());
    let mut input = opening_request();
    input.extend(masked_frame(FIN | TEXT, b"early", KEY));
    server.handle_input(t0(), Input::Data(&input));
    let Some(Event::Request(request)) = server.poll_event() else {
        panic!("no request")
    };
    server.accept(t0(), &request, None, &[]);
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    assert!(matches!(events[1], Event::Message(ref m) if m.as_text() == Some("early")));

    let mut server = Connection::server(config, [1; 32], t0());
    server.handle_input(t0(), Input::Data(&opening_request()));
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    let flood = masked_frame(FIN | TEXT, &[b'x'; 100], KEY);
    for _ in 0..100 {
        server.handle_input(t0(), Input::Data(&flood));
    }
    let mut out = Vec::new();
    while server.poll_transmit(&mut out).is_some() {}
    assert!(
        out.starts_with(b"HTTP/1.1 413"),
        "{:?}",
        String::from_utf8_lossy(&out[..20.min(out.len())])
    );
    let Some(Event::Closed(info)) = server.poll_event() else {
        panic!("not closed")
    };
    assert!(matches!(
        info.error,
        Some(ConnectionError::Protocol(ProtocolError::MessageTooLarge {
            limit: 1024,
            ..
        }))
    ));
    assert!(server.is_finished());
}

#[test]
fn the_bound_is_exactly_one_frame_limit_plus_a_header() {
    // 1024 + 14 bytes wait for accept; one more is refused.
    let limit = 1024;
    let early = |extra: usize| {
        let mut server = Connection::server(Config::default().max_frame_size(limit), [1; 32], t0());
        server.handle_input(t0(), Input::Data(&opening_request()));
        assert!(matches!(server.poll_event(), Some(Event::Request(_))));
        server.handle_input(t0(), Input::Data(&vec![0u8; 1000]));
        server.handle_input(t0(), Input::Data(&vec![0u8; limit + 14 - 1000 + extra]));
        server.is_finished()
    };
    assert!(!early(0), "exactly a frame limit plus a header waits");
    assert!(early(1), "one byte more is refused");
}
