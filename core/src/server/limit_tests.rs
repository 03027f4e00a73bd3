//! The server's limits: the outbound queue at exactly its limits and one past, prepared
//! messages (one encoding, compressed per connection), inbound bytes held, the memory close.

#![allow(clippy::disallowed_methods)] // one real Instant to start from

use std::time::Instant;

use crate::close::CloseCode;
use crate::connection::{Connection, Event, Input};
use crate::frame::OpCode;
use crate::message::Message;

use super::tests::{events, open_pair, quiet, transmit};
use super::*;

fn closed(events: &[ServerEvent]) -> Option<&ServerClose> {
    events.iter().find_map(|e| match e {
        ServerEvent::Closed(c) => Some(c),
        _ => None,
    })
}

fn client_events(client: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

/// The queue is full at one past `max_queued_messages`: the connection closes 1008 with the
/// queued messages discarded, and a message already handed to the driver still arrives first.
#[test]
fn slow_consumer_at_exactly_the_message_limit_plus_one() {
    let now = Instant::now();
    let config = quiet().max_queued_messages(3);
    let (mut client, mut server) = open_pair(&config, now);
    server.send(now, &Message::text("taken")).unwrap();
    let taken = transmit(&mut server);
    for i in 0..3 {
        server.send(now, &Message::text(format!("q{i}"))).unwrap();
    }
    assert_eq!(server.queued(), (3, 6));
    let refused = server.send(now, &Message::text("q3"));
    assert_eq!(
        refused,
        Err(ServerSendError::SlowConsumer {
            queued_messages: 3,
            queued_bytes: 6
        })
    );
    assert_eq!(server.queued(), (0, 0));
    assert!(!server.is_open());
    assert_eq!(server.send(now, &Message::text("x")), Err(ServerSendError::NotOpen));
    client.handle_input(now, Input::Data(&taken));
    client.handle_input(now, Input::Data(&transmit(&mut server)));
    let got = client_events(&mut client);
    assert_eq!(got[0], Event::Message(Message::text("taken")));
    assert!(
        matches!(&got[1], Event::CloseReceived { code, reason } if *code == CloseCode::POLICY_VIOLATION && reason == "slow consumer"),
        "{got:?}"
    );
    assert_eq!(got.len(), 2, "the queued messages were discarded: {got:?}");
    let mut reply = Vec::new();
    while client.poll_transmit(&mut reply).is_some() {}
    server.handle_input(now, Input::Data(&reply));
    let evs = events(&mut server);
    assert_eq!(
        closed(&evs).map(|c| (&c.why, c.code)),
        Some((
            &ServerCloseReason::SlowConsumer {
                queued_messages: 3,
                queued_bytes: 6
            },
            CloseCode::POLICY_VIOLATION
        ))
    );
}

#[test]
fn slow_consumer_at_exactly_the_byte_limit_plus_one() {
    let now = Instant::now();
    let config = quiet().max_queued_bytes(10);
    let (_client, mut server) = open_pair(&config, now);
    server.send(now, &Message::binary(vec![0; 4])).unwrap();
    server.send(now, &Message::binary(vec![0; 6])).unwrap();
    assert_eq!(server.queued(), (2, 10), "exactly at the limit fits");
    assert_eq!(
        server.send(now, &Message::binary(vec![0; 1])),
        Err(ServerSendError::SlowConsumer {
            queued_messages: 2,
            queued_bytes: 10
        })
    );
    assert!(!server.is_open());
}

#[test]
fn a_message_larger_than_the_whole_queue_is_refused_without_closing() {
    let now = Instant::now();
    let config = quiet().max_queued_bytes(10);
    let (_client, mut server) = open_pair(&config, now);
    assert_eq!(
        server.send(now, &Message::binary(vec![0; 11])),
        Err(ServerSendError::MessageTooLarge { size: 11, limit: 10 })
    );
    assert!(server.is_open());
    assert_eq!(server.queued(), (0, 0));
}

#[test]
fn prepared_bytes_are_the_frame_connection_send_writes() {
    let now = Instant::now();
    for message in [
        Message::text(""),
        Message::text("hello"),
        Message::binary(vec![9u8; 125]),
        Message::binary(vec![9u8; 126]),
        Message::binary(vec![3u8; 70_000]),
    ] {
        let prepared = PreparedMessage::new(&message);
        assert_eq!(prepared.len(), message.len());
        let (_client, mut server) = open_pair(&quiet(), now);
        server.send_prepared(now, &prepared).unwrap();
        let out = transmit(&mut server);
        assert_eq!(&out[..], &prepared.frame()[..]);
        // And what a plain server Connection writes for the same message.
        let mut plain = Connection::server(quiet().connection, [5; 32], now);
        plain.handle_input(now, Input::Data(super::tests::REQUEST));
        let Some(Event::Request(request)) = plain.poll_event() else {
            panic!("no request")
        };
        plain.accept(now, &request, None, &[]);
        let mut head = Vec::new();
        while plain.poll_transmit(&mut head).is_some() {}
        plain.send(&message).unwrap();
        let mut frame = Vec::new();
        while plain.poll_transmit(&mut frame).is_some() {}
        assert_eq!(frame, out);
    }
}

#[cfg(feature = "deflate")]
#[test]
fn a_deflate_connection_compresses_prepared_messages() {
    let now = Instant::now();
    let config = ServerConfig::default().idle_timeout(None).ping_interval(None);
    let (mut client, mut server) = open_pair(&config, now);
    let message = Message::text("compress me ".repeat(200));
    let prepared = PreparedMessage::new(&message);
    server.send_prepared(now, &prepared).unwrap();
    let out = transmit(&mut server);
    assert!(out.len() < prepared.frame().len() / 4, "{} bytes", out.len());
    assert_eq!(out[0] & 0x40, 0x40, "RSV1: compressed");
    assert_eq!(out[0] & 0x0F, OpCode::Text as u8);
    client.handle_input(now, Input::Data(&out));
    assert_eq!(client_events(&mut client), vec![Event::Message(message)]);
}

#[test]
fn inbound_buffered_grows_with_a_partial_message_and_shrinks_when_it_is_delivered() {
    let now = Instant::now();
    let (mut client, mut server) = open_pair(&quiet(), now);
    assert_eq!(server.inbound_buffered(), 0);
    client.send_fragment(OpCode::Binary, &[1u8; 1000], false).unwrap();
    let mut first = Vec::new();
    while client.poll_transmit(&mut first).is_some() {}
    server.handle_input(now, Input::Data(&first[..500]));
    assert_eq!(server.inbound_buffered(), 500, "undecoded bytes");
    server.handle_input(now, Input::Data(&first[500..]));
    assert_eq!(events(&mut server), vec![]);
    let held = server.inbound_buffered();
    assert!(held >= 1000, "the first fragment is held: {held}");
    client.send_fragment(OpCode::Continuation, &[2u8; 1000], true).unwrap();
    let mut last = Vec::new();
    while client.poll_transmit(&mut last).is_some() {}
    server.handle_input(now, Input::Data(&last));
    assert!(server.inbound_buffered() >= 2000);
    assert_eq!(events(&mut server).len(), 1);
    assert_eq!(server.inbound_buffered(), 0);
}

#[test]
fn close_for_memory_sends_1009_and_ends_at_once_freeing_the_buffers() {
    let now = Instant::now();
    let (mut client, mut server) = open_pair(&quiet(), now);
    client.send_fragment(OpCode::Binary, &[1u8; 5000], false).unwrap();
    let mut bytes = Vec::new();
    while client.poll_transmit(&mut bytes).is_some() {}
    server.handle_input(now, Input::Data(&bytes));
    assert_eq!(events(&mut server), vec![]);
    assert!(server.inbound_buffered() >= 5000);
    server.send(now, &Message::text("dropped")).unwrap();
    server.close_for_memory(now);
    assert!(server.is_finished());
    assert_eq!(server.inbound_buffered(), 0);
    assert_eq!(server.queued(), (0, 0));
    let evs = events(&mut server);
    assert_eq!(
        closed(&evs).map(|c| (&c.why, c.code)),
        Some((&ServerCloseReason::MemoryBudget, CloseCode::MESSAGE_TOO_BIG))
    );
    client.handle_input(now, Input::Data(&transmit(&mut server)));
    let got = client_events(&mut client);
    assert!(
        matches!(&got[0], Event::CloseReceived { code, reason } if *code == CloseCode::MESSAGE_TOO_BIG && reason == "inbound memory budget exceeded"),
        "{got:?}"
    );
}

#[test]
fn a_protocol_error_ends_with_its_code() {
    let now = Instant::now();
    let (_client, mut server) = open_pair(&quiet(), now);
    // An unmasked frame from a client is a protocol error (1002).
    server.handle_input(now, Input::Data(&[0x81, 0x01, b'x']));
    let evs = events(&mut server);
    let close = closed(&evs).unwrap();
    assert_eq!(close.code, CloseCode::PROTOCOL_ERROR);
    assert!(matches!(close.why, ServerCloseReason::Error(_)));
}

#[test]
fn every_reason_reads_as_one_lower_case_sentence() {
    let reasons = [
        ServerCloseReason::Peer,
        ServerCloseReason::Local,
        ServerCloseReason::HandshakeTimeout,
        ServerCloseReason::DecisionTimeout,
        ServerCloseReason::Rejected { status: 403 },
        ServerCloseReason::IdleTimeout,
        ServerCloseReason::PongTimeout,
        ServerCloseReason::SlowConsumer {
            queued_messages: 1,
            queued_bytes: 2,
        },
        ServerCloseReason::MemoryBudget,
        ServerCloseReason::GoingAway,
        ServerCloseReason::Error(crate::ConnectionError::ResetWithoutClose),
    ];
    for reason in reasons {
        let text = reason.to_string();
        assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
        assert!(!text.ends_with('.'), "{text}");
    }
}

#[test]
fn the_types_cross_threads() {
    fn send<T: Send + 'static>() {}
    fn shared<T: Send + Sync + 'static>() {}
    send::<ServerConnection>();
    shared::<PreparedMessage>();
    shared::<ServerEvent>();
    shared::<ServerConfig>();
}

#[test]
fn a_prepared_message_keeps_one_buffer_for_frame_and_message() {
    for message in [Message::text("héllo"), Message::binary(vec![4u8; 300])] {
        let prepared = PreparedMessage::new(&message);
        assert_eq!(prepared.message(), &message);
        let frame = prepared.frame();
        let payload = prepared.message().as_bytes();
        let frame_range = frame.as_ptr() as usize..frame.as_ptr() as usize + frame.len();
        assert!(
            frame_range.contains(&(payload.as_ptr() as usize)),
            "the payload lies inside the frame"
        );
        assert_eq!(&frame[frame.len() - payload.len()..], payload);
    }
}

/// A compressed message in progress holds its inflated bytes; they count, and are let go
/// when the message is delivered.
#[cfg(feature = "deflate")]
#[test]
fn inbound_buffered_counts_inflated_bytes() {
    use crate::extension::compress::Compressor;
    use crate::frame::{apply_mask, encode_frame, write_compressed_header};

    let now = Instant::now();
    let config = ServerConfig::default().idle_timeout(None).ping_interval(None);
    let (_client, mut server) = open_pair(&config, now);
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut body = Vec::new();
    Compressor::new(6, 15, false).compress(&payload, &mut body);
    let (first, rest) = body.split_at(body.len() / 2);
    let key = [9, 8, 7, 6];
    let mut frame = Vec::new();
    write_compressed_header(&mut frame, false, OpCode::Binary, first.len(), Some(key));
    let start = frame.len();
    frame.extend_from_slice(first);
    apply_mask(&mut frame[start..], key);
    server.handle_input(now, Input::Data(&frame));
    assert_eq!(events(&mut server), vec![]);
    let held = server.inbound_buffered();
    assert!(held > first.len() * 4, "inflated bytes are counted: {held}");
    let mut last = Vec::new();
    encode_frame(&mut last, true, OpCode::Continuation, rest, Some(key));
    server.handle_input(now, Input::Data(&last));
    assert_eq!(
        events(&mut server),
        vec![ServerEvent::Message(Message::binary(payload))]
    );
    assert_eq!(server.inbound_buffered(), 0);
}

#[cfg(feature = "deflate")]
#[test]
fn a_deflate_connection_drains_its_queue_compressed_before_the_close_frame() {
    let now = Instant::now();
    let config = ServerConfig::default().idle_timeout(None).ping_interval(None);
    let (mut client, mut server) = open_pair(&config, now);
    let one = Message::text("first ".repeat(100));
    let two = Message::binary(vec![5u8; 4000]);
    server.send(now, &one).unwrap();
    server.send(now, &two).unwrap();
    server.going_away(now);
    let out = transmit(&mut server);
    assert!(out.len() < 1000, "compressed: {} bytes", out.len());
    client.handle_input(now, Input::Data(&out));
    let got = client_events(&mut client);
    assert_eq!(got[0], Event::Message(one));
    assert_eq!(got[1], Event::Message(two));
    assert!(matches!(&got[2], Event::CloseReceived { code, .. } if *code == CloseCode::GOING_AWAY));
}
