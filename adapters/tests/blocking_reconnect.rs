//! The blocking client reconnects after the server drops the connection, and a numbered stream
//! arrives exactly once and in order, including messages sent during the outage.
#![cfg(feature = "blocking")]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use resock::core::session::{DisconnectReason, ReconnectPolicy, SessionEvent, SessionState};
use resock::{ClientBuilder, CloseCode, Message};
use tungstenite::Message as WsMessage;

use support::ws_server::{Server, accept, echo};
use support::{expect_event, expect_open};

/// Reads text messages into `log` until one equals `last`.
fn read_until<S: std::io::Read + std::io::Write>(
    ws: &mut tungstenite::WebSocket<S>,
    log: &Mutex<Vec<String>>,
    last: &str,
) -> bool {
    while let Ok(message) = ws.read() {
        if let WsMessage::Text(text) = message {
            log.lock().unwrap().push(text.to_string());
            if text.as_str() == last {
                return true;
            }
        }
    }
    false
}

#[test]
fn a_numbered_stream_survives_a_dropped_connection_exactly_once_in_order() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let server_log = Arc::clone(&log);
    let mut connection = 0;
    let server = Server::local(move |stream| {
        connection += 1;
        let Some(mut ws) = accept(stream) else { return };
        match connection {
            // The first connection takes 0..=9 and then vanishes without a close frame.
            1 => {
                read_until(&mut ws, &server_log, "9");
            }
            // The second takes the rest, confirms, and serves until the client closes.
            _ => {
                if read_until(&mut ws, &server_log, "19") {
                    ws.send(WsMessage::text("got 19")).ok();
                    echo(&mut ws);
                }
            }
        }
    });

    let mut client = ClientBuilder::new(&server.url("/numbers"))
        .unwrap()
        .reconnect(ReconnectPolicy::fixed(Duration::from_millis(50)))
        .connect_blocking()
        .unwrap();
    expect_open(&mut client);
    for n in 0..10 {
        client.send_text(n.to_string()).unwrap();
    }
    let event = expect_event(&mut client, "Disconnected", |e| {
        matches!(e, SessionEvent::Disconnected { .. })
    });
    let SessionEvent::Disconnected {
        reason,
        retry_at,
        retry_in,
    } = event
    else {
        unreachable!()
    };
    assert_eq!(reason, DisconnectReason::Reset);
    assert!(retry_at.is_some() && retry_in.is_some());

    // The outage: these wait in the queue until the next connection opens.
    for n in 10..20 {
        assert!(
            matches!(client.state(), SessionState::WaitingToRetry { .. }),
            "{}",
            client.state()
        );
        client.send_text(n.to_string()).unwrap();
    }
    assert_eq!(client.session().queued_messages(), 10);

    let mut states = Vec::new();
    let reply = loop {
        match client.next_event_timeout(support::PATIENCE) {
            Some(SessionEvent::Message(message)) => break message,
            Some(SessionEvent::StateChanged(state)) => states.push(state.to_string()),
            Some(_) => {}
            None => panic!("no confirmation; states: {states:?}"),
        }
    };
    assert_eq!(reply, Message::text("got 19"));
    assert_eq!(
        states,
        ["waiting to retry (attempt 2 next)", "reconnecting (attempt 2)", "open"]
    );
    assert!(client.close(CloseCode::NORMAL, ""));
    drop(client);
    server.stop();

    let expected: Vec<String> = (0..20).map(|n| n.to_string()).collect();
    assert_eq!(*log.lock().unwrap(), expected);
}
