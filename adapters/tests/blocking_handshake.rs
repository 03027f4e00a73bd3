//! The opening handshake of the blocking client as the server sees it: subprotocol
//! negotiation and custom headers.
#![cfg(feature = "blocking")]

mod support;

use std::sync::mpsc;

use resock::ClientBuilder;
use resock::{CloseCode, Message};

use support::ws_server::{Seen, Server, accept_with, echo};
use support::{PATIENCE, expect_open};

#[test]
fn the_server_picks_an_offered_subprotocol_and_sees_custom_headers() {
    let (tx, seen) = mpsc::channel::<(Vec<String>, Seen)>();
    let server = Server::local(move |stream| {
        let mut offered = Vec::new();
        let chooser = |list: &[String]| {
            offered = list.to_vec();
            list.iter().find(|p| *p == "chat.v2").cloned()
        };
        if let Some((mut ws, request)) = accept_with(stream, chooser) {
            tx.send((offered, request)).ok();
            echo(&mut ws);
        }
    });
    let mut client = ClientBuilder::new(&server.url("/room?id=7"))
        .unwrap()
        .subprotocol("chat.v1")
        .subprotocol("chat.v2")
        .header("X-Resock-Test", "header value 42")
        .header("Authorization", "Bearer t0ken")
        .connect_blocking()
        .unwrap();
    assert_eq!(expect_open(&mut client).as_deref(), Some("chat.v2"));
    assert_eq!(client.subprotocol(), Some("chat.v2"));
    let (offered, request) = seen.recv_timeout(PATIENCE).unwrap();
    assert_eq!(offered, ["chat.v1", "chat.v2"]);
    assert_eq!(request.path, "/room?id=7");
    assert_eq!(request.header("x-resock-test"), Some("header value 42"));
    assert_eq!(request.header("authorization"), Some("Bearer t0ken"));
    assert_eq!(request.header("host"), Some(server.addr().to_string().as_str()));

    client.send_text("negotiated").unwrap();
    assert_eq!(client.recv(), Ok(Message::text("negotiated")));
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}

#[test]
fn without_an_agreed_subprotocol_the_client_opens_with_none() {
    let server = Server::local(|stream| {
        if let Some((mut ws, _)) = accept_with(stream, |_| None) {
            echo(&mut ws);
        }
    });
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .subprotocol("chat.v1")
        .connect_blocking()
        .unwrap();
    assert_eq!(expect_open(&mut client), None);
    assert_eq!(client.subprotocol(), None);
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}
