//! What `queued_messages` and `buffered_amount` report while messages move from the queue into
//! the connection: counted once each until `poll_transmit` takes their bytes, including the
//! messages `close` encodes ahead of its close frame.

use std::time::Duration;

use resock_core::{CloseCode, Message};
use resock_tests::pair::Pair;

#[test]
fn messages_count_until_their_bytes_are_taken() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    assert_eq!((pair.session.queued_messages(), pair.session.buffered_amount()), (0, 0));
    for text in ["one", "two", "three"] {
        pair.session.send(Message::text(text)).unwrap();
    }
    assert_eq!(pair.session.queued_messages(), 3);
    assert_eq!(pair.session.buffered_amount(), 3 + 3 + 5, "payload bytes while queued");
    // `close` encodes the queue into the connection ahead of its close frame: still waiting
    // for the transport, so still counted, now as encoded frames (2-byte header, 4-byte mask).
    let now = pair.now();
    pair.session.close(now, CloseCode::NORMAL, "");
    assert_eq!(pair.session.queued_messages(), 3, "in flight, not yet taken");
    assert!(
        pair.session.buffered_amount() >= 3 * 6 + 11,
        "{}",
        pair.session.buffered_amount()
    );
    pair.run_for(Duration::from_secs(1));
    assert_eq!((pair.session.queued_messages(), pair.session.buffered_amount()), (0, 0));
    assert_eq!(pair.sent.len(), 3);
}

/// `report_sent(false)` spares the `Sent` outputs and nothing else: the messages are written
/// and counted, and once it is on again the next messages are reported.
#[test]
fn without_sent_reports_messages_are_still_written_and_counted() {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    assert!(pair.session.reports_sent(), "on by default");
    pair.session.report_sent(false);
    for text in ["one", "two"] {
        pair.session.send(Message::text(text)).unwrap();
    }
    pair.run_for(Duration::from_secs(1));
    assert!(pair.sent.is_empty(), "{:?}", pair.sent);
    assert_eq!(pair.server_texts(), ["one", "two"]);
    assert_eq!(pair.session.metrics().messages_out, 2);
    assert_eq!(pair.session.queued_messages(), 0);

    pair.session.report_sent(true);
    let id = pair.session.send(Message::text("three")).unwrap();
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.sent, [id]);
    assert_eq!(pair.session.metrics().messages_out, 3);
}
