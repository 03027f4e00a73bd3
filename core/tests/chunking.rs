//! Property tests on how bytes are chunked (RFC6455-CHECKLIST "run each row twice", §5.4):
//! any split of a valid frame stream into reads gives the same events as one read; a mutated
//! stream fails (or not) the same way however it is split; and whatever one role sends, the
//! other role receives unchanged, in both directions.

mod common;

use common::*;
use proptest::collection::vec;
use proptest::prelude::*;
use resock_core::{Config, Connection, Event, Message, OpCode, Role};

/// One unit of a generated frame stream.
#[derive(Debug, Clone)]
enum Item {
    /// A data message split at `cuts` (empty: one frame), with a ping before each
    /// continuation whose flag is set.
    Message {
        text: bool,
        payload: Vec<u8>,
        cuts: Vec<usize>,
        pings: Vec<bool>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn item() -> impl Strategy<Value = Item> {
    let cuts = || vec(0usize..400, 0..4);
    let pings = || vec(any::<bool>(), 0..3);
    prop_oneof![
        ("\\PC{0,60}", cuts(), pings()).prop_map(|(s, cuts, pings)| Item::Message {
            text: true,
            payload: s.into_bytes(),
            cuts,
            pings
        }),
        (vec(any::<u8>(), 0..400), cuts(), pings()).prop_map(|(payload, cuts, pings)| Item::Message {
            text: false,
            payload,
            cuts,
            pings
        }),
        vec(any::<u8>(), 0..126).prop_map(Item::Ping),
        vec(any::<u8>(), 0..126).prop_map(Item::Pong),
    ]
}

/// The bytes of `items` as the peer of a `role` connection sends them, and the events the
/// connection must report for them.
fn build(role: Role, items: &[Item]) -> (Vec<u8>, Vec<Event>) {
    let mut bytes = Vec::new();
    let mut events = Vec::new();
    for (n, item) in items.iter().enumerate() {
        match item {
            Item::Message {
                text,
                payload,
                cuts,
                pings,
            } => {
                let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(payload.len())).collect();
                cuts.sort_unstable();
                cuts.push(payload.len());
                let mut start = 0;
                for (i, &end) in cuts.iter().enumerate() {
                    if i > 0 && pings.get(i - 1).copied().unwrap_or(false) {
                        let p = [n as u8, i as u8];
                        bytes.extend(to(role, FIN | PING, &p));
                        events.push(Event::Ping(p.to_vec().into()));
                    }
                    let opcode = match (i, text) {
                        (0, true) => TEXT,
                        (0, false) => BINARY,
                        _ => CONT,
                    };
                    let fin = if i + 1 == cuts.len() { FIN } else { 0 };
                    bytes.extend(to(role, fin | opcode, &payload[start..end]));
                    start = end;
                }
                events.push(Event::Message(if *text {
                    Message::text(String::from_utf8(payload.clone()).unwrap())
                } else {
                    Message::binary(payload.clone())
                }));
            }
            Item::Ping(p) => {
                bytes.extend(to(role, FIN | PING, p));
                events.push(Event::Ping(p.clone().into()));
            }
            Item::Pong(p) => {
                bytes.extend(to(role, FIN | PONG, p));
                events.push(Event::Pong(p.clone().into()));
            }
        }
    }
    (bytes, events)
}

/// Feeds `bytes` in reads of the given sizes (cycled; a size of 0 is an empty read followed by
/// a one-byte read; no sizes means one read), draining events and transmit after each read;
/// returns the events and the transmitted frames.
fn feed_chunked(role: Role, bytes: &[u8], sizes: &[usize]) -> (Vec<Event>, Vec<WireFrame>) {
    let mut peer = Peer::open(role, Config::default());
    let mut events = Vec::new();
    let mut frames = Vec::new();
    let mut rest = bytes;
    let mut sizes = sizes.iter().copied().cycle();
    loop {
        let mut n = sizes.next().unwrap_or(rest.len());
        if n == 0 {
            peer.feed(&[]);
            n = 1;
        }
        let (now, later) = rest.split_at(n.min(rest.len()));
        peer.feed(now);
        events.extend(peer.events());
        frames.extend(peer.sent_frames());
        rest = later;
        if rest.is_empty() {
            break;
        }
    }
    (events, frames)
}

/// The payloads of the pongs among `frames`.
fn pongs(frames: &[WireFrame]) -> Vec<Vec<u8>> {
    frames
        .iter()
        .filter(|f| f.opcode == PONG)
        .map(|f| f.payload.clone())
        .collect()
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Client), Just(Role::Server)]
}

/// A connected client and server, through their own opening handshakes.
fn pair(config: Config) -> (Connection, Connection) {
    let now = t0();
    let url = resock_core::WsUrl::parse("ws://localhost/x").unwrap();
    let mut client = Connection::client(&url, &Default::default(), config.clone(), [1; 32], now).unwrap();
    let mut server = Connection::server(config, [2; 32], now);
    pump(&mut client, &mut server);
    let Some(Event::Request(request)) = server.poll_event() else {
        panic!("the server did not see the request");
    };
    server.accept(now, &request, None, &[]);
    assert!(matches!(server.poll_event(), Some(Event::Opened(_))));
    pump(&mut server, &mut client);
    assert!(matches!(client.poll_event(), Some(Event::Opened(_))));
    (client, server)
}

/// Moves everything `from` wants to send into `to`.
fn pump(from: &mut Connection, to: &mut Connection) {
    let mut buf = Vec::new();
    while from.poll_transmit(&mut buf).is_some() {}
    to.handle_input(t0(), resock_core::Input::Data(&buf));
}

/// A message to send, and where to split it into fragments (empty: `send`).
fn outgoing() -> impl Strategy<Value = (Message, Vec<usize>)> {
    let message = prop_oneof![
        vec(any::<char>(), 0..17_500).prop_map(|c| Message::text(c.into_iter().collect::<String>())),
        vec(any::<u8>(), 0..70_000).prop_map(Message::binary),
    ];
    (
        message,
        prop_oneof![3 => Just(Vec::new()), 1 => vec(0usize..70_000, 1..4)],
    )
}

fn send(conn: &mut Connection, message: &Message, cuts: &[usize]) {
    if cuts.is_empty() {
        conn.send(message).unwrap();
        return;
    }
    let bytes = message.as_bytes();
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    let mut start = 0;
    for (i, &end) in cuts.iter().enumerate() {
        let opcode = match (i, message.is_text()) {
            (0, true) => OpCode::Text,
            (0, false) => OpCode::Binary,
            _ => OpCode::Continuation,
        };
        conn.send_fragment(opcode, &bytes[start..end], i + 1 == cuts.len())
            .unwrap();
        start = end;
    }
}

fn round_trip(from_client: bool, messages_out: &[(Message, Vec<usize>)], read_size: usize) -> Vec<Event> {
    let (mut client, mut server) = pair(Config::default());
    let (sender, receiver) = if from_client {
        (&mut client, &mut server)
    } else {
        (&mut server, &mut client)
    };
    for (message, cuts) in messages_out {
        send(sender, message, cuts);
    }
    let mut wire = Vec::new();
    while sender.poll_transmit(&mut wire).is_some() {}
    let mut events = Vec::new();
    for chunk in wire.chunks(read_size) {
        receiver.handle_input(t0(), resock_core::Input::Data(chunk));
        events.extend(std::iter::from_fn(|| receiver.poll_event()));
    }
    events
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_chunking_gives_the_same_events(
        role in role(),
        items in vec(item(), 0..6),
        sizes in vec(0usize..80, 1..16),
    ) {
        let (bytes, expected) = build(role, &items);
        let (whole_events, whole_frames) = feed_chunked(role, &bytes, &[]);
        prop_assert_eq!(&whole_events, &expected);
        let (events, frames) = feed_chunked(role, &bytes, &sizes);
        prop_assert_eq!(&events, &expected);
        let pings: Vec<Vec<u8>> = expected.iter().filter_map(|e| match e {
            Event::Ping(p) => Some(p.to_vec()),
            _ => None,
        }).collect();
        prop_assert_eq!(pongs(&whole_frames), pings.clone());
        prop_assert_eq!(pongs(&frames), pings);
        prop_assert!(frames.iter().all(|f| f.opcode == PONG));
    }

    #[test]
    fn a_mutated_stream_fails_the_same_way_however_it_is_split(
        role in role(),
        items in vec(item(), 1..6),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        sizes in vec(0usize..40, 1..16),
    ) {
        let (mut bytes, _) = build(role, &items);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let (whole_events, whole_frames) = feed_chunked(role, &bytes, &[]);
        let (events, frames) = feed_chunked(role, &bytes, &sizes);
        let (bytewise_events, _) = feed_chunked(role, &bytes, &[1]);
        prop_assert_eq!(&events, &whole_events);
        prop_assert_eq!(&bytewise_events, &whole_events);
        let closes = |f: &[WireFrame]| f.iter().filter(|f| f.opcode == CLOSE).cloned().collect::<Vec<_>>();
        prop_assert_eq!(closes(&frames), closes(&whole_frames));
        if whole_events.iter().any(|e| matches!(e, Event::Closed(_))) {
            closed_info(&whole_events);
        }
    }

    #[test]
    fn client_to_server_round_trip(
        messages_out in vec(outgoing(), 1..4),
        read_size in 1usize..100_000,
    ) {
        let events = round_trip(true, &messages_out, read_size);
        let expected: Vec<Event> = messages_out.into_iter().map(|(m, _)| Event::Message(m)).collect();
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn server_to_client_round_trip(
        messages_out in vec(outgoing(), 1..4),
        read_size in 1usize..100_000,
    ) {
        let events = round_trip(false, &messages_out, read_size);
        let expected: Vec<Event> = messages_out.into_iter().map(|(m, _)| Event::Message(m)).collect();
        prop_assert_eq!(events, expected);
    }
}

#[test]
fn empty_messages_and_fragments_round_trip() {
    for from_client in [true, false] {
        let out = [
            (Message::text(""), vec![]),
            (Message::binary(Vec::new()), vec![]),
            (Message::text(""), vec![0, 0, 0]),
            (Message::text("€"), vec![1, 2]),
            (Message::binary(vec![1, 2, 3]), vec![0, 3]),
        ];
        let events = round_trip(from_client, &out, 1);
        let expected: Vec<Event> = out.into_iter().map(|(m, _)| Event::Message(m)).collect();
        assert_eq!(events, expected);
    }
}
