//! A message larger than the client's own limit is the client's business, not a protocol
//! violation by the server: the client fails the connection with 1009 and a reason naming its
//! limit, reports both numbers, and stops for good (a reconnect would fetch the same message
//! again) unless the `classify` hook says otherwise.

use std::time::Duration;

use resock_core::session::{Decision, Error, ReconnectPolicy, SessionEvent};
use resock_core::{ClosedReason, DisconnectReason, Message, SessionConfig, SessionState};
use resock_tests::pair::Pair;

fn limited(limit: usize) -> SessionConfig {
    let mut config = Pair::config();
    config.connection.max_message_size = limit;
    config.connection.max_frame_size = limit;
    config
}

fn over_limit(config: SessionConfig, size: usize) -> Pair {
    let mut rig = Pair::new(config);
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let now = rig.now();
    rig.server.broadcast(&Message::binary(vec![7u8; size]), now);
    rig.run_for(Duration::from_secs(120));
    rig
}

#[test]
fn a_message_over_max_message_size_fails_with_1009_and_stops_for_good() {
    let rig = over_limit(limited(1000), 1001);
    let expected = DisconnectReason::MessageTooLarge {
        size: 1001,
        limit: 1000,
        setting: "max_message_size",
    };
    assert_eq!(rig.disconnects().len(), 1, "{:?}", rig.disconnects());
    assert_eq!(rig.disconnects()[0].1, expected);
    assert_eq!(rig.disconnects()[0].2, None);
    assert_eq!(rig.connects.len(), 1, "one attempt only");
    assert_eq!(
        *rig.session.state(),
        SessionState::Closed(ClosedReason::Fatal(expected.clone()))
    );
    assert_eq!(
        expected.to_string(),
        "the server sent a message of at least 1001 bytes, over this client's max_message_size of 1000 bytes"
    );
    assert!(rig.events.iter().any(|(_, e)| matches!(
        e,
        SessionEvent::Error(Error::MessageTooLarge {
            size: 1001,
            limit: 1000,
            ..
        })
    )));
    // The close frame carries 1009 and a reason that names the limit, whole.
    let closes = rig.close_frames();
    assert_eq!(closes[0].2.close_code(), Some(1009));
    let reason = closes[0].2.close_reason().unwrap().to_owned();
    assert!(reason.contains("1000"), "{reason}");
    assert!(reason.len() <= 123);
}

#[test]
fn a_fragmented_message_crossing_the_limit_is_reported_the_same_way() {
    let mut config = limited(1000);
    config.connection.max_frame_size = 600;
    let mut rig = Pair::new(config);
    assert!(rig.run_until_open(Duration::from_secs(1)));
    let now = rig.now();
    // Two fragments of 500 and 600 bytes: each frame fits, the message does not.
    rig.server.send_fragments(&[&[1u8; 500][..], &[2u8; 600][..]], now);
    rig.run_for(Duration::from_secs(120));
    assert!(
        matches!(
            rig.disconnects()[0].1,
            DisconnectReason::MessageTooLarge {
                limit: 1000,
                setting: "max_message_size",
                ..
            }
        ),
        "{:?}",
        rig.disconnects()
    );
    assert_eq!(rig.connects.len(), 1);
}

#[test]
fn a_frame_over_a_separate_frame_limit_names_that_limit() {
    let mut config = limited(10_000);
    config.connection.max_frame_size = 500;
    // The frame limit counts wire bytes: with compression the 501 equal bytes would be a
    // frame of a few bytes.
    config.connection.deflate = None;
    let rig = over_limit(config, 501);
    assert_eq!(
        rig.disconnects()[0].1,
        DisconnectReason::MessageTooLarge {
            size: 501,
            limit: 500,
            setting: "max_frame_size"
        }
    );
}

#[test]
fn the_classify_hook_can_retry_anyway() {
    let mut config = limited(1000);
    config.reconnect = ReconnectPolicy::default().classify(|reason, default| match reason {
        DisconnectReason::MessageTooLarge { .. } => Decision::Retry,
        _ => default,
    });
    let rig = over_limit(config, 5000);
    assert!(rig.disconnects()[0].2.is_some(), "retry scheduled");
    assert!(rig.connects.len() >= 2);
}
