//! A close frame from the server decides why the connection ended, even when the transport
//! fails right after it (a TCP reset, a TLS EOF without `close_notify`) before the session had a
//! chance to decode it. The close code then drives the retry decision: 1008 is fatal, 1012 is
//! retried, and without a close frame a failure stays a retryable transport error.

use std::time::Duration;

use resock_core::session::{SessionEvent, TransportInput};
use resock_core::{ClosedReason, DisconnectReason, SessionState, TransportError, TransportErrorKind};
use resock_tests::pair::Pair;

/// An unmasked server close frame with `code` and `reason`.
fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut frame = vec![0x88, (2 + reason.len()) as u8];
    frame.extend_from_slice(&code.to_be_bytes());
    frame.extend_from_slice(reason.as_bytes());
    frame
}

/// Opens a pair, then feeds `bytes` and a transport failure in one instant, with no poll in
/// between (the read that returned the close frame is followed by a reset).
fn close_then_failure(bytes: &[u8]) -> Pair {
    let mut pair = Pair::new(Pair::config());
    assert!(pair.run_until_open(Duration::from_secs(1)));
    let id = pair.session.transport().expect("open transport");
    let reset = TransportError::new(TransportErrorKind::Refused, "connection reset by peer");
    let now = pair.now();
    pair.session.handle_transport(now, id, TransportInput::Data(bytes));
    pair.session.handle_transport(now, id, TransportInput::Failed(&reset));
    pair.run_for(Duration::from_secs(120));
    pair
}

#[test]
fn close_1008_then_reset_is_fatal_server_closed() {
    let pair = close_then_failure(&close_frame(1008, "policy"));
    let expected = DisconnectReason::ServerClosed {
        code: resock_core::CloseCode(1008),
        reason: "policy".into(),
    };
    assert_eq!(pair.disconnects().len(), 1, "{:?}", pair.disconnects());
    assert_eq!(pair.disconnects()[0].1, expected);
    assert_eq!(pair.disconnects()[0].2, None, "no retry is scheduled");
    assert_eq!(pair.connects.len(), 1, "no second attempt");
    assert_eq!(
        *pair.session.state(),
        SessionState::Closed(ClosedReason::Fatal(expected))
    );
    assert!(
        !pair.events.iter().any(|(_, e)| matches!(e, SessionEvent::Error(_))),
        "a close frame is not reported as a transport error"
    );
}

#[test]
fn close_1012_then_reset_is_retried_as_server_closed() {
    let pair = close_then_failure(&close_frame(1012, "restart"));
    let first = &pair.disconnects()[0];
    assert_eq!(
        first.1,
        DisconnectReason::ServerClosed {
            code: resock_core::CloseCode(1012),
            reason: "restart".into()
        }
    );
    assert!(first.2.is_some(), "1012 is retried");
    assert!(pair.connects.len() >= 2);
}

#[test]
fn a_reset_without_a_close_frame_stays_a_transport_error() {
    let pair = close_then_failure(b"");
    let first = &pair.disconnects()[0];
    assert!(matches!(first.1, DisconnectReason::Transport(_)), "{:?}", first.1);
    assert!(first.2.is_some(), "retried");
}

#[test]
fn a_close_frame_split_before_the_reset_is_not_a_close() {
    // Half a close frame is no close frame: the reset decides.
    let frame = close_frame(1008, "policy");
    let pair = close_then_failure(&frame[..3]);
    assert!(matches!(pair.disconnects()[0].1, DisconnectReason::Transport(_)));
}
