//! Sending from other threads through `Sender` while the owner thread drives the client.
#![cfg(feature = "blocking")]

mod support;

use std::collections::HashSet;
use std::net::TcpListener;
use std::time::Duration;

use resock::SendError;
use resock::{ClientBuilder, CloseCode, Message};

use support::expect_open;
use support::ws_server::{Server, accept, echo};

#[test]
fn messages_from_other_threads_arrive_in_each_threads_order() {
    let server = Server::local(|stream| {
        if let Some(mut ws) = accept(stream) {
            echo(&mut ws);
        }
    });
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .connect_blocking()
        .unwrap();
    expect_open(&mut client);
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let sender = client.sender();
            std::thread::spawn(move || {
                (0..50)
                    .map(|n| sender.send_text(format!("{t}:{n}")).expect("accepted"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut next = [0; 3];
    for _ in 0..150 {
        let message = client.recv().expect("an echo");
        let (t, n) = message.as_text().unwrap().split_once(':').unwrap();
        let (t, n): (usize, i32) = (t.parse().unwrap(), n.parse().unwrap());
        assert_eq!(n, next[t], "thread {t} out of order");
        next[t] += 1;
    }
    let ids: HashSet<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert_eq!(ids.len(), 150, "every message got its own id");
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}

#[test]
fn senders_get_their_message_back_when_the_client_closes() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = ClientBuilder::new(&format!("ws://{}/", silent.local_addr().unwrap()))
        .unwrap()
        .connect_blocking()
        .unwrap();
    client.set_send_timeout(Duration::from_secs(10));
    let sender = client.sender();
    assert!(!sender.is_closed());
    drop(client);
    assert!(sender.is_closed());
    match sender.send_text("too late") {
        Err(SendError::Closed(message)) => assert_eq!(message, Message::text("too late")),
        other => panic!("expected Closed, got {other:?}"),
    }
}

#[test]
fn a_sender_times_out_when_nobody_drives_the_client() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = ClientBuilder::new(&format!("ws://{}/", silent.local_addr().unwrap()))
        .unwrap()
        .connect_blocking()
        .unwrap();
    client.set_send_timeout(Duration::from_millis(100));
    let sender = client.sender();
    let outcome = std::thread::spawn(move || sender.send_text("unattended"))
        .join()
        .unwrap();
    match outcome {
        Err(SendError::TimedOut(message)) => assert_eq!(message, Message::text("unattended")),
        other => panic!("expected TimedOut, got {other:?}"),
    }
    // The owner never saw it, so it is not queued either.
    assert_eq!(client.session().queued_messages(), 0);
}

#[test]
fn the_client_moves_between_threads_and_senders_are_shared() {
    fn send_and_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send::<resock::blocking_client::Client>();
    send_and_sync::<resock::blocking_client::Sender>();
}
