//! Heartbeat pings of the blocking client answered by a real server, and the RTT it measures.
#![cfg(feature = "blocking")]

mod support;

use std::time::Duration;

use resock::ClientBuilder;
use resock::CloseCode;
use resock::core::session::{HeartbeatConfig, SessionEvent};

use support::ws_server::{Server, accept, echo};
use support::{PATIENCE, expect_event, expect_open};

#[test]
fn pings_are_answered_and_the_rtt_is_measured() {
    let server = Server::local(|stream| {
        if let Some(mut ws) = accept(stream) {
            echo(&mut ws);
        }
    });
    let mut heartbeat = HeartbeatConfig::default();
    heartbeat.interval = Some(Duration::from_millis(30));
    heartbeat.timeout = PATIENCE;
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .heartbeat(heartbeat)
        .connect_blocking()
        .unwrap();
    expect_open(&mut client);
    assert!(client.rtt().is_none());
    for _ in 0..3 {
        let SessionEvent::Pong { rtt, smoothed } =
            expect_event(&mut client, "Pong", |e| matches!(e, SessionEvent::Pong { .. }))
        else {
            unreachable!()
        };
        assert!(rtt < PATIENCE && smoothed < PATIENCE, "{rtt:?} {smoothed:?}");
    }
    let measured = client.rtt().expect("an RTT after pongs");
    assert!(measured.latest < PATIENCE);
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}
