//! permessage-deflate throughput: resock's `Connection` against bare flate2 on the same input,
//! in the same run (issue 15 item 9).
//!
//! `cargo bench -p resock-core --bench deflate` (add `-- --quick` for a short run, or
//! `-- --filter "json 64 KiB"` to pick cases). Cases: JSON-like text (trade records with
//! changing numbers) and pseudo-random binary at 1 KiB, 64 KiB and 1 MiB, about 4 MiB of
//! payload per pass, context takeover on, level 6, 15-bit windows.
//!
//! * compress, resock: a server-role `Connection` with deflate agreed (no masking, so the cost
//!   measured is compression and framing), `send` then `poll_transmit` into a reused buffer
//!   for every message.
//! * compress, flate2: `Compress` (raw DEFLATE, level 6, 15-bit window), one sync flush per
//!   message into a reused buffer, the 4-byte tail removed. No framing.
//! * decompress, resock: a client-role `Connection` with deflate agreed, fed the server's frames
//!   in 64 KiB pieces, `poll_event` until empty, every message taken.
//! * decompress, flate2: `Decompress` (raw, 15-bit window) over the same compressed payloads,
//!   each followed by the tail, into one reused buffer cleared per message (so it never
//!   allocates: the lower bound); and into a new buffer per message grown by doubling from
//!   4 KiB, as resock's (an owned message whose size is not known in advance).
//!
//! Each round times resock and flate2 back to back; the ratio is computed within the round and
//! the line shows medians over rounds (9, or 3 with `--quick`), in MB/s of uncompressed
//! payload, with the compressed size per message of each.
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::hint::black_box;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use resock_core::{ClientOptions, Config, Connection, DeflateConfig, Event, Input, Message, WsUrl};

/// The bytes a driver hands to `handle_input` at once.
const READ_CHUNK: usize = 64 * 1024;
/// Payload per pass.
const PASS_BYTES: usize = 4 << 20;
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
const LEVEL: u32 = 6;

struct Options {
    rounds: usize,
    min_time: Duration,
    filter: Option<String>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let filter = args
        .iter()
        .position(|a| a == "--filter")
        .and_then(|i| args.get(i + 1).cloned());
    Options {
        rounds: if quick { 3 } else { 9 },
        min_time: Duration::from_millis(if quick { 100 } else { 300 }),
        filter,
    }
}

/// Runs `pass` (which handles `bytes` of payload) until `min_time` has passed; MB/s.
fn rate(min_time: Duration, bytes: usize, mut pass: impl FnMut()) -> f64 {
    pass(); // warm up caches and buffers
    let start = Instant::now();
    let mut total = 0usize;
    loop {
        pass();
        total += bytes;
        let elapsed = start.elapsed();
        if elapsed >= min_time {
            return total as f64 / elapsed.as_secs_f64() / 1e6;
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// xorshift32, so every run measures the same bytes.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

/// JSON-like text: trade records with changing numbers and a few symbols (compresses about
/// four to one, as market data feeds do), or pseudo-random binary (does not compress).
fn payload(json: bool, size: usize, seed: u32) -> Vec<u8> {
    let mut rng = Rng(0x9E37_79B9 ^ seed.wrapping_mul(0x85EB_CA6B) | 1);
    let mut out = Vec::with_capacity(size + 128);
    if json {
        let symbols = ["BTC-USD", "ETH-USD", "SOL-EUR", "ADA-GBP", "XRP-USD"];
        let mut seq = 1_000_000 + u64::from(seed) * 1000;
        out.push(b'[');
        while out.len() < size {
            seq += u64::from(rng.next() % 3 + 1);
            let r = rng.next();
            let item = format!(
                "{{\"type\":\"trade\",\"seq\":{seq},\"sym\":\"{}\",\"px\":\"{}.{:02}\",\"qty\":\"0.{:04}\",\"side\":\"{}\",\"ts\":17330{:05}}},",
                symbols[(r % 5) as usize],
                20_000 + r % 5_000,
                (r >> 8) % 100,
                (r >> 12) % 10_000,
                if r & 1 == 0 { "buy" } else { "sell" },
                seq % 100_000,
            );
            out.extend_from_slice(item.as_bytes());
        }
        out.truncate(size);
    } else {
        while out.len() < size {
            out.extend_from_slice(&rng.next().to_le_bytes());
        }
        out.truncate(size);
    }
    out
}

fn deflate_config() -> Config {
    Config::default()
        .max_message_size(64 << 20)
        .deflate(Some(DeflateConfig::new().level(LEVEL)))
}

/// A client and a server with deflate agreed at 15-bit windows, context takeover on.
fn open_pair() -> (Connection, Connection) {
    let now = Instant::now();
    let url = WsUrl::parse("ws://bench.invalid/").unwrap();
    let mut client = Connection::client(&url, &ClientOptions::default(), deflate_config(), [7; 32], now).unwrap();
    let mut server = Connection::server(deflate_config(), [9; 32], now);
    let mut wire = Vec::new();
    while client.poll_transmit(&mut wire).is_some() {}
    server.handle_input(now, Input::Data(&wire));
    let Some(Event::Request(request)) = server.poll_event() else {
        panic!("the server saw no request")
    };
    server.accept(now, &request, None, &[]);
    let Some(Event::Opened(accepted)) = server.poll_event() else {
        panic!("the server did not open")
    };
    let agreed = accepted.deflate.expect("deflate agreed");
    assert_eq!((agreed.server_max_window_bits, agreed.client_max_window_bits), (15, 15));
    assert!(!agreed.server_no_context_takeover);
    wire.clear();
    while server.poll_transmit(&mut wire).is_some() {}
    client.handle_input(now, Input::Data(&wire));
    match client.poll_event() {
        Some(Event::Opened(_)) => (client, server),
        other => panic!("handshake failed: {other:?}"),
    }
}

/// Sends `count` messages from `server` and returns the frames written.
fn resock_compress(server: &mut Connection, messages: &[Message], out: &mut Vec<u8>) -> usize {
    let mut written = 0;
    for message in messages {
        server.send(message).unwrap();
        out.clear();
        while let Some(n) = server.poll_transmit(out) {
            written += n;
        }
        black_box(&out);
    }
    written
}

/// One message compressed by bare flate2 into `out` (cleared first), the tail removed.
fn flate2_compress_one(c: &mut Compress, data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let start = c.total_in();
    loop {
        let done = (c.total_in() - start) as usize;
        c.compress_vec(&data[done..], out, FlushCompress::Sync).unwrap();
        if (c.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(4096));
    }
    assert!(out.ends_with(&TAIL));
    out.truncate(out.len() - 4);
}

/// The unmasked server frames in `wire`: each payload (RSV1 set on every one).
fn payloads(mut wire: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        assert_eq!(wire[0] & 0xC0, 0xC0, "FIN and RSV1");
        let (len, header) = match wire[1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([wire[2], wire[3]])), 4),
            127 => (u64::from_be_bytes(wire[2..10].try_into().unwrap()) as usize, 10),
            n => (usize::from(n), 2),
        };
        out.push(&wire[header..header + len]);
        wire = &wire[header + len..];
    }
    out
}

/// One message inflated by bare flate2 into `out` (cleared first): the payload, then the tail.
fn flate2_inflate_one(d: &mut Decompress, payload: &[u8], out: &mut Vec<u8>, size: usize) {
    out.clear();
    out.reserve(size + 64);
    for input in [payload, &TAIL[..]] {
        let mut input = input;
        while !input.is_empty() {
            let before = d.total_in();
            d.decompress_vec(input, out, FlushDecompress::Sync).unwrap();
            input = &input[(d.total_in() - before) as usize..];
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
        }
    }
    debug_assert_eq!(out.len(), size);
}

/// One message inflated by bare flate2 into a new buffer, grown by doubling from 4 KiB as
/// resock's is (the size is not known in advance): what handing out an owned message costs.
fn flate2_inflate_owned(d: &mut Decompress, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    for input in [payload, &TAIL[..]] {
        let mut input = input;
        while !input.is_empty() {
            if out.len() == out.capacity() {
                out.reserve_exact(out.capacity());
            }
            let before = d.total_in();
            d.decompress_vec(input, &mut out, FlushDecompress::Sync).unwrap();
            input = &input[(d.total_in() - before) as usize..];
        }
    }
    out
}

struct Line {
    name: String,
    compress: (f64, f64, f64),
    decompress: (f64, f64, f64),
    /// flate2 into a new buffer per message, and resock's rate over it.
    decompress_owned: (f64, f64),
    resock_size: usize,
    flate2_size: usize,
    /// Messages whose compressed bytes were identical in both.
    identical: usize,
    count: usize,
}

fn measure(json: bool, size: usize, opts: &Options) -> Line {
    let count = (PASS_BYTES / size).max(1);
    let bytes = count * size;
    // Distinct messages (the same one repeated would compress to a back-reference).
    let datas: Vec<Vec<u8>> = (0..count as u32).map(|i| payload(json, size, i)).collect();
    let messages: Vec<Message> = datas
        .iter()
        .map(|data| match json {
            true => Message::text(String::from_utf8(data.clone()).unwrap()),
            false => Message::binary(data.clone()),
        })
        .collect();

    // The wire for decoding: `count` messages from a fresh server, so the batch refers to
    // nothing before it and can be replayed to the same client again and again.
    let (mut client, mut server) = open_pair();
    let mut wire = Vec::new();
    for message in &messages {
        server.send(message).unwrap();
        while server.poll_transmit(&mut wire).is_some() {}
    }
    let bodies = payloads(&wire);
    assert_eq!(bodies.len(), count);
    let resock_size = bodies.iter().map(|b| b.len()).sum::<usize>() / count;
    // Same bytes from bare flate2, and both inflaters restore the payload.
    let mut c = Compress::new_with_window_bits(Compression::new(LEVEL), false, 15);
    let mut one = Vec::new();
    let mut flate2_total = 0;
    let mut identical = 0;
    for (body, data) in bodies.iter().zip(&datas) {
        flate2_compress_one(&mut c, data, &mut one);
        flate2_total += one.len();
        identical += usize::from(&one[..] == *body);
    }
    let flate2_size = flate2_total / count;
    let now = Instant::now();
    client.handle_input(now, Input::Data(&wire));
    let mut seen = 0;
    while let Some(event) = client.poll_event() {
        let Event::Message(m) = event else { panic!("{event:?}") };
        assert!(m == messages[seen], "message {seen} differs");
        seen += 1;
    }
    assert_eq!(seen, count);
    let mut d = Decompress::new_with_window_bits(false, 15);
    let mut plain = Vec::new();
    for (body, data) in bodies.iter().zip(&datas) {
        flate2_inflate_one(&mut d, body, &mut plain, size);
        assert!(plain == *data, "flate2 did not restore resock's message");
    }

    let mut rounds = Vec::new();
    let mut out = Vec::with_capacity(size + 1024);
    for _ in 0..opts.rounds {
        let compress_resock = rate(opts.min_time, bytes, || {
            black_box(resock_compress(&mut server, &messages, &mut out));
        });
        let compress_flate2 = rate(opts.min_time, bytes, || {
            for data in &datas {
                flate2_compress_one(&mut c, black_box(data), &mut one);
                black_box(&one);
            }
        });
        let decompress_resock = rate(opts.min_time, bytes, || {
            let now = Instant::now();
            let mut n = 0;
            for chunk in wire.chunks(READ_CHUNK) {
                client.handle_input(now, Input::Data(chunk));
                while let Some(event) = client.poll_event() {
                    black_box(&event);
                    n += 1;
                }
            }
            assert_eq!(n, count);
        });
        let decompress_flate2 = rate(opts.min_time, bytes, || {
            for body in &bodies {
                flate2_inflate_one(&mut d, body, &mut plain, size);
                black_box(&plain);
            }
        });
        let decompress_owned = rate(opts.min_time, bytes, || {
            for body in &bodies {
                black_box(flate2_inflate_owned(&mut d, body));
            }
        });
        rounds.push([
            compress_resock,
            compress_flate2,
            decompress_resock,
            decompress_flate2,
            decompress_owned,
        ]);
    }
    let col = |i: usize| median(&mut rounds.iter().map(|r| r[i]).collect::<Vec<_>>());
    let ratio = |a: usize, b: usize| median(&mut rounds.iter().map(|r| r[a] / r[b]).collect::<Vec<_>>());
    Line {
        name: format!("{} {}", if json { "json" } else { "binary" }, human(size)),
        compress: (col(0), col(1), ratio(0, 1)),
        decompress: (col(2), col(3), ratio(2, 3)),
        decompress_owned: (col(4), ratio(2, 4)),
        resock_size,
        flate2_size,
        identical,
        count,
    }
}

fn human(size: usize) -> String {
    if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{} KiB", size >> 10)
    }
}

fn main() {
    let opts = options();
    println!(
        "| case | compressed (resock / flate2) | compress resock | compress flate2 | ratio | decompress resock | decompress flate2 | ratio | flate2, new buffer per message | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for json in [true, false] {
        for size in [1 << 10, 64 << 10, 1 << 20] {
            let name = format!("{} {}", if json { "json" } else { "binary" }, human(size));
            if opts.filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
                continue;
            }
            let l = measure(json, size, &opts);
            println!(
                "| {} | {} / {} B ({:.1}%, {}/{} identical) | {:.0} MB/s | {:.0} MB/s | {:.2} | {:.0} MB/s | {:.0} MB/s | {:.2} | {:.0} MB/s | {:.2} |",
                l.name,
                l.resock_size,
                l.flate2_size,
                100.0 * l.resock_size as f64 / size as f64,
                l.identical,
                l.count,
                l.compress.0,
                l.compress.1,
                l.compress.2,
                l.decompress.0,
                l.decompress.1,
                l.decompress.2,
                l.decompress_owned.0,
                l.decompress_owned.1,
            );
        }
    }
}
