//! fastwebsockets as a bench peer: a client-role `FragmentCollector` (whole messages, as resock
//! and tungstenite deliver them) over an [`AsyncMemStream`], driven by [`block_on`] once per pass.

use std::hint::black_box;

use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role, WebSocket};

use super::mem_io::{AsyncMemStream, Traffic, block_on};
use super::{Kind, Outgoing};

/// A client-role fastwebsockets connection over in-memory IO (no handshake: it takes over a
/// stream that is already open).
pub type FastClient<'a> = FragmentCollector<AsyncMemStream<'a>>;

/// A client over a stream whose reads cycle over `wire` (empty for encoding).
pub fn client<'a>(wire: &'a [u8], traffic: &'a Traffic) -> FastClient<'a> {
    FragmentCollector::new(WebSocket::after_handshake(
        AsyncMemStream::new(wire, traffic),
        Role::Client,
    ))
}

/// Reads `count` messages; returns the payload bytes they carried.
pub fn decode(ws: &mut FastClient<'_>, count: usize) -> usize {
    block_on(async {
        let mut bytes = 0;
        for _ in 0..count {
            let frame = ws.read_frame().await.expect("fastwebsockets read");
            bytes += frame.payload.len();
            black_box(&frame);
        }
        bytes
    })
}

/// Sends `count` messages with `payload`, each written to the stream before the next (the
/// library masks a copy of the borrowed payload).
pub fn encode(ws: &mut FastClient<'_>, message: &Outgoing, count: usize) {
    let (opcode, payload) = match message {
        Outgoing::Text(s) => (OpCode::Text, s.as_bytes()),
        Outgoing::Binary(b) => (OpCode::Binary, &b[..]),
    };
    block_on(async {
        for _ in 0..count {
            let frame = Frame::new(true, opcode, None, Payload::Borrowed(payload));
            ws.write_frame(frame).await.expect("fastwebsockets write");
        }
    })
}

/// Checks, before timing, that the first `count` messages read from `wire` are `payload` with
/// the right opcode.
pub fn check_decode(kind: Kind, payload: &[u8], wire: &[u8], count: usize) {
    let traffic = Traffic::default();
    let mut ws = client(wire, &traffic);
    block_on(async {
        for _ in 0..count {
            let frame = ws.read_frame().await.expect("fastwebsockets read");
            assert!(frame.fin);
            assert_eq!(frame.opcode == OpCode::Text, kind.is_text());
            assert_eq!(&frame.payload[..], payload);
        }
    });
}

/// The bytes fastwebsockets writes for one `message`, for checking before timing.
pub fn one_frame(message: &Outgoing) -> Vec<u8> {
    let traffic = Traffic::default();
    let mut ws = client(&[], &traffic);
    encode(&mut ws, message, 1);
    let stream = ws.into_inner();
    assert_eq!(stream.last_write().len(), traffic.written.get(), "one frame, one write");
    stream.last_write().to_vec()
}
