//! The blocking client against a tungstenite echo server: text and binary from 0 B to 16 MiB,
//! IPv6, and a host name.
#![cfg(feature = "blocking")]

mod support;

use std::net::TcpListener;

use resock::ClientBuilder;
use resock::blocking_client::Client;
use resock::core::session::QueueConfig;
use resock::{CloseCode, Message};

use support::expect_open;
use support::ws_server::{Server, accept, echo};

fn echo_server(listener: TcpListener) -> Server {
    Server::spawn(listener, |stream| {
        if let Some(mut ws) = accept(stream) {
            echo(&mut ws);
        }
    })
}

/// A client whose queue takes the largest test message.
fn client(url: &str) -> Client {
    let mut queue = QueueConfig::default();
    queue.max_bytes = 40 << 20;
    queue.high_water = 40 << 20;
    ClientBuilder::new(url)
        .unwrap()
        .queue(queue)
        .connect_blocking()
        .unwrap()
}

const SIZES: [usize; 9] = [0, 1, 125, 126, 65_535, 65_536, 1 << 20, (16 << 20) - 14, 16 << 20];

#[test]
fn text_and_binary_echo_from_empty_to_16_mib() {
    let server = echo_server(TcpListener::bind("127.0.0.1:0").unwrap());
    let mut client = client(&server.url("/echo"));
    expect_open(&mut client);
    for size in SIZES {
        let text: String = (0..size).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let id = client.send(Message::text(text.clone())).unwrap();
        let echoed = client
            .recv()
            .unwrap_or_else(|e| panic!("no echo of {size} B text (id {id:?}): {e}"));
        assert!(echoed.is_text());
        assert_eq!(echoed.as_text().map(str::len), Some(size));
        assert!(echoed == Message::text(text), "text of {size} B came back different");

        let binary: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        client.send_binary(binary.clone()).unwrap();
        let echoed = client
            .recv()
            .unwrap_or_else(|e| panic!("no echo of {size} B binary: {e}"));
        assert!(!echoed.is_text());
        assert!(
            echoed.as_bytes() == binary.as_slice(),
            "binary of {size} B came back different"
        );
    }
    assert!(client.close(CloseCode::NORMAL, "bye"));
    assert!(client.is_closed());
    drop(client);
    server.stop();
}

#[test]
fn ipv6_loopback() {
    // Required, not skipped: CI and every supported machine have the IPv6 loopback.
    let listener = TcpListener::bind("[::1]:0").expect("the IPv6 loopback ::1 cannot be bound");
    let server = echo_server(listener);
    let url = server.url("/v6");
    assert!(url.starts_with("ws://[::1]:"), "{url}");
    let mut client = client(&url);
    expect_open(&mut client);
    client.send_text("over IPv6").unwrap();
    assert_eq!(client.recv(), Ok(Message::text("over IPv6")));
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}

/// A host name is resolved before connecting. `localhost` resolves to one address on most
/// machines (CI included), so trying every resolved address in turn is proven where it can
/// be, at the function level: `net::tests::every_address_is_tried_in_turn`.
#[test]
fn a_host_name_is_resolved() {
    let server = echo_server(TcpListener::bind("127.0.0.1:0").unwrap());
    let mut client = client(&format!("ws://localhost:{}/dns", server.addr().port()));
    expect_open(&mut client);
    client.send_text("by name").unwrap();
    assert_eq!(client.recv(), Ok(Message::text("by name")));
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}
