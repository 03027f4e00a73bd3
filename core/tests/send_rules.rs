//! What the sending API lets an application put on the wire (RFC 6455 §5.4, §5.5, §5.6,
//! §8.1): nothing before the handshake or after a close, control frames capped at 125 bytes,
//! control frames allowed between fragments, and no stream the peer would
//! have to fail: interleaved messages, orphan continuations or invalid UTF-8 text.

mod common;

use common::*;
use resock_core::{Config, Event, Message, OpCode, Role, SendError};

#[test]
fn nothing_is_sent_before_the_handshake() {
    let mut peer = Peer::client_connecting(Config::default());
    let _ = peer.transmit();
    assert_eq!(peer.conn.send_text("early"), Err(SendError::NotOpen));
    assert_eq!(peer.conn.send_binary(b"early"), Err(SendError::NotOpen));
    assert_eq!(peer.conn.ping(b""), Err(SendError::NotOpen));
    assert_eq!(
        peer.conn.send_fragment(OpCode::Text, b"early", false),
        Err(SendError::NotOpen)
    );
    assert_eq!(peer.transmit(), Vec::<u8>::new());
}

#[test]
fn control_opcodes_cannot_carry_fragments() {
    let mut peer = Peer::server(Config::default());
    for opcode in [OpCode::Ping, OpCode::Pong, OpCode::Close] {
        assert_eq!(peer.conn.send_fragment(opcode, b"x", true), Err(SendError::NotData));
    }
    assert_eq!(peer.transmit(), Vec::<u8>::new());
}

#[test]
fn ping_payload_is_capped_at_125_bytes() {
    let mut peer = Peer::client(Config::default());
    peer.conn.ping(&[7; 300]).unwrap();
    let sent = peer.sent_frames();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].opcode, sent[0].payload.len()), (PING, 125));
}

#[test]
fn control_frames_between_our_fragments_reach_the_peer_intact() {
    let mut client = Peer::client(Config::default());
    client.conn.send_fragment(OpCode::Text, "κό".as_bytes(), false).unwrap();
    client.conn.ping(b"mid").unwrap();
    client
        .conn
        .send_fragment(OpCode::Continuation, &"σμε".as_bytes()[..3], false)
        .unwrap();
    client
        .conn
        .send_fragment(OpCode::Continuation, &"σμε".as_bytes()[3..], true)
        .unwrap();
    let wire = client.transmit();
    let mut server = Peer::server(Config::default());
    server.feed(&wire);
    assert_eq!(
        server.events(),
        [Event::Ping(b"mid"[..].into()), Event::Message(Message::text("κόσμε"))]
    );
}

#[test]
fn nothing_but_the_close_goes_out_after_close() {
    for role in [Role::Client, Role::Server] {
        let mut peer = Peer::open(role, Config::default());
        peer.conn.send_fragment(OpCode::Binary, b"part", false).unwrap();
        let now = peer.now;
        peer.conn.close(now, resock_core::CloseCode::NORMAL, "").unwrap();
        assert_eq!(
            peer.conn.send_fragment(OpCode::Continuation, b"rest", true),
            Err(SendError::Closed)
        );
        assert_eq!(peer.conn.send_binary(b"x"), Err(SendError::Closed));
        let kinds: Vec<_> = peer.sent_frames().iter().map(|f| f.opcode).collect();
        assert_eq!(kinds, [BINARY, CLOSE]);
    }
}

/// Sends the frames `f` produces from a server and feeds them to a client; returns whether the
/// client failed the connection.
fn client_fails_on(f: impl FnOnce(&mut Peer) -> Vec<Result<(), SendError>>) -> (Vec<Result<(), SendError>>, bool) {
    let mut server = Peer::server(Config::default());
    let results = f(&mut server);
    let wire = server.transmit();
    let mut client = Peer::client(Config::default());
    client.feed(&wire);
    let failed = client.events().iter().any(|e| matches!(e, Event::Closed(_)));
    (results, failed)
}

#[test]
fn a_new_message_while_a_fragmented_one_is_open_is_refused() {
    let (results, failed) = client_fails_on(|server| {
        vec![
            server.conn.send_fragment(OpCode::Text, b"a", false),
            server.conn.send_text("b"),
            server.conn.send_binary(b"b"),
            server.conn.send(&Message::text("b")),
            server.conn.send_fragment(OpCode::Binary, b"b", true),
            server.conn.send_fragment(OpCode::Continuation, b"c", true),
        ]
    });
    assert_eq!(
        results,
        [
            Ok(()),
            Err(SendError::MessageInProgress),
            Err(SendError::MessageInProgress),
            Err(SendError::MessageInProgress),
            Err(SendError::MessageInProgress),
            Ok(())
        ]
    );
    assert!(!failed, "the peer saw a valid stream");
}

#[test]
fn a_continuation_without_a_message_is_refused() {
    let (results, failed) = client_fails_on(|server| {
        vec![
            server.conn.send_fragment(OpCode::Continuation, b"c", true),
            server.conn.send_fragment(OpCode::Continuation, b"c", false),
            server.conn.send_text("fine"),
        ]
    });
    assert_eq!(
        results,
        [
            Err(SendError::NoMessageInProgress),
            Err(SendError::NoMessageInProgress),
            Ok(())
        ]
    );
    assert!(!failed);
}

#[test]
fn invalid_utf8_in_text_fragments_is_refused() {
    let (results, failed) = client_fails_on(|server| {
        vec![
            server.conn.send_fragment(OpCode::Text, b"\xff", true),
            // A code point split across fragments is fine...
            server.conn.send_fragment(OpCode::Text, &"é".as_bytes()[..1], false),
            // ...but not one that ends the message half done, nor a bad continuation byte.
            server.conn.send_fragment(OpCode::Continuation, b"", true),
            server.conn.send_fragment(OpCode::Continuation, b"x", false),
            server
                .conn
                .send_fragment(OpCode::Continuation, &"é".as_bytes()[1..], true),
        ]
    });
    assert_eq!(
        results,
        [
            Err(SendError::InvalidUtf8),
            Ok(()),
            Err(SendError::InvalidUtf8),
            Err(SendError::InvalidUtf8),
            Ok(())
        ]
    );
    assert!(!failed);
}
