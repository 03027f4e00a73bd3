//! tokio-websockets as a bench peer: a client-role `WebSocketStream` (its `Stream` of whole
//! messages and its `Sink`) over an [`AsyncMemStream`], driven by [`block_on`] once per pass.

use std::future::poll_fn;
use std::hint::black_box;
use std::pin::Pin;

use futures_core::Stream;
use futures_sink::Sink;
use tokio_websockets::{ClientBuilder, Message, WebSocketStream};

use super::mem_io::{AsyncMemStream, Traffic, block_on};
use super::{Kind, Outgoing};

/// A client-role tokio-websockets connection over in-memory IO (`take_over`: no handshake).
pub type TokioClient<'a> = WebSocketStream<AsyncMemStream<'a>>;

/// A client over a stream whose reads cycle over `wire` (empty for encoding).
pub fn client<'a>(wire: &'a [u8], traffic: &'a Traffic) -> TokioClient<'a> {
    ClientBuilder::new().take_over(AsyncMemStream::new(wire, traffic))
}

async fn next(ws: &mut TokioClient<'_>) -> Message {
    poll_fn(|cx| Pin::new(&mut *ws).poll_next(cx))
        .await
        .expect("tokio-websockets stream ended")
        .expect("tokio-websockets read")
}

/// Reads `count` messages; returns the payload bytes they carried.
pub fn decode(ws: &mut TokioClient<'_>, count: usize) -> usize {
    block_on(async {
        let mut bytes = 0;
        for _ in 0..count {
            let message = next(ws).await;
            bytes += message.as_payload().len();
            black_box(&message);
        }
        bytes
    })
}

/// The message to send, built once; each send clones it (a reference count, as for
/// tungstenite's `Message`).
pub fn message(message: &Outgoing) -> Message {
    match message {
        Outgoing::Text(s) => Message::text(s.clone()),
        Outgoing::Binary(b) => Message::binary(b.clone()),
    }
}

/// Sends `count` clones of `message` as `SinkExt::send` does: ready, start, flush each.
pub fn encode(ws: &mut TokioClient<'_>, message: &Message, count: usize) {
    block_on(async {
        for _ in 0..count {
            poll_fn(|cx| Pin::new(&mut *ws).poll_ready(cx)).await.expect("ready");
            Pin::new(&mut *ws).start_send(message.clone()).expect("start_send");
            poll_fn(|cx| Pin::new(&mut *ws).poll_flush(cx)).await.expect("flush");
        }
    })
}

/// Checks, before timing, that the first `count` messages read from `wire` are `payload` with
/// the right type.
pub fn check_decode(kind: Kind, payload: &[u8], wire: &[u8], count: usize) {
    let traffic = Traffic::default();
    let mut ws = client(wire, &traffic);
    block_on(async {
        for _ in 0..count {
            let message = next(&mut ws).await;
            assert_eq!(message.is_text(), kind.is_text());
            assert_eq!(&message.as_payload()[..], payload);
        }
    });
}

/// The bytes tokio-websockets writes for one `message`, for checking before timing.
pub fn one_frame(message: &Outgoing) -> Vec<u8> {
    let traffic = Traffic::default();
    let mut ws = client(&[], &traffic);
    encode(&mut ws, &self::message(message), 1);
    assert_eq!(
        ws.get_ref().last_write().len(),
        traffic.written.get(),
        "one frame, one write"
    );
    ws.get_ref().last_write().to_vec()
}
