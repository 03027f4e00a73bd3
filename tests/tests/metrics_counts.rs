//! `metrics().messages_in` counts every received data message, whichever way the session
//! decodes it: straight to the caller (nothing else pending), or through the connection's event
//! queue (a message decoded right after a ping or a pong in the same read).

use std::time::Duration;

use resock_core::session::TransportInput;
use resock_tests::pair::{Pair, texts};

/// An unmasked server frame.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode, payload.len() as u8];
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn messages_after_control_frames_in_one_read_are_counted() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    let before = pair.session.metrics().messages_in;
    let mut read = Vec::new();
    read.extend(frame(0x9, b"ping"));
    read.extend(frame(0x1, b"one"));
    read.extend(frame(0xA, b"unsolicited"));
    read.extend(frame(0x1, b"two"));
    read.extend(frame(0x1, b"three"));
    let id = pair.session.transport().expect("open transport");
    let now = pair.now();
    pair.session.handle_transport(now, id, TransportInput::Data(&read));
    pair.run_for(Duration::from_millis(10));
    assert_eq!(texts(&pair.received), ["one", "two", "three"]);
    assert_eq!(
        pair.session.metrics().messages_in - before,
        3,
        "{:?}",
        pair.session.metrics()
    );
}
