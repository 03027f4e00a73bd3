//! resock-core against tungstenite, fastwebsockets and tokio-websockets on identical inputs, in
//! the same run.
//!
//! `cargo bench -p resock-core --bench compare` (add `-- --quick` for a short run, or
//! `-- --filter "decode text"` to pick cases). One line per case, each peer with resock's rate
//! over its rate (`x1.55`: resock handles 1.55 times as many messages per second):
//! `decode text 128: resock 17.2 Mmsg/s | tungstenite 11.1 x1.55 | fastwebsockets ... | ...`
//! Each round times every library back to back on the same bytes; the ratios are computed
//! within the round, and the line shows the medians over rounds.
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

mod support;

use std::time::{Duration, Instant};

use resock_core::frame::encoded_len;
use support::mem_io::Traffic;
use support::{Kind, Outgoing, SIZES, peer_fastwebsockets, peer_tokio_websockets};

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
        min_time: Duration::from_millis(if quick { 30 } else { 150 }),
        filter,
    }
}

/// Runs `pass` (which handles `per_pass` messages) until `min_time` has passed; messages/s.
fn rate(min_time: Duration, per_pass: usize, mut pass: impl FnMut()) -> f64 {
    pass(); // warm up caches and buffers
    let start = Instant::now();
    let mut messages = 0usize;
    loop {
        pass();
        messages += per_pass;
        let elapsed = start.elapsed();
        if elapsed >= min_time {
            return messages as f64 / elapsed.as_secs_f64();
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

/// Mmsg/s with at least three significant digits.
fn mmsg(rate: f64) -> String {
    let m = rate / 1e6;
    let decimals = if m >= 100.0 {
        1
    } else if m >= 1.0 {
        2
    } else {
        (2.0 - m.log10().floor()).clamp(3.0, 8.0) as usize
    };
    format!("{m:.decimals$}")
}

struct Case {
    op: &'static str,
    kind: Kind,
    size: usize,
}

impl Case {
    fn label(&self) -> String {
        format!("{} {} {}", self.op, self.kind.name(), self.size)
    }
}

/// The libraries measured, resock first; every other one is a peer resock's ratio is taken to.
const LIBRARIES: [&str; 4] = ["resock", "tungstenite", "fastwebsockets", "tokio-websockets"];

/// A case's medians over rounds: each library's rate (messages/s, in [`LIBRARIES`] order) and
/// resock's rate over each peer's, computed within each round.
struct Medians {
    rates: [f64; 4],
    ratios: [f64; 3],
}

/// Runs every library's pass in turn, once per round, each for `min_time`.
fn rounds(opts: &Options, count: usize, mut passes: [&mut dyn FnMut(); 4]) -> Medians {
    let mut rates: [Vec<f64>; 4] = Default::default();
    let mut ratios: [Vec<f64>; 3] = Default::default();
    for _ in 0..opts.rounds {
        let round: Vec<f64> = passes.iter_mut().map(|pass| rate(opts.min_time, count, pass)).collect();
        for (library, &r) in round.iter().enumerate() {
            rates[library].push(r);
            if library > 0 {
                ratios[library - 1].push(round[0] / r);
            }
        }
    }
    Medians {
        rates: rates.map(|mut v| median(&mut v)),
        ratios: ratios.map(|mut v| median(&mut v)),
    }
}

/// Every pass checks what it did: the messages and payload bytes decoded (and, for the peers
/// that read from a stream, that exactly the whole input was read), or the bytes written.
fn measure(case: &Case, opts: &Options) -> Medians {
    let kind = case.kind;
    let payload = support::payload(kind, case.size);
    let count = support::messages_per_pass(case.size);
    match case.op {
        "decode" => {
            let wire = support::server_frames(kind, &payload, count);
            let checked = count.min(8);
            support::check_same_decode(kind, &payload, &wire, checked);
            peer_fastwebsockets::check_decode(kind, &payload, &wire, checked);
            peer_tokio_websockets::check_decode(kind, &payload, &wire, checked);
            let bytes = count * case.size;
            let mut conn = support::open_client(support::config());
            let mut tung = support::tung_client(wire.clone());
            let (fast_io, tokio_io) = (Traffic::default(), Traffic::default());
            let mut fast = peer_fastwebsockets::client(&wire, &fast_io);
            let mut tokio = peer_tokio_websockets::client(&wire, &tokio_io);
            rounds(
                opts,
                count,
                [
                    &mut || assert_eq!(support::resock_decode(&mut conn, &wire), count),
                    &mut || {
                        assert_eq!(support::tung_decode(&mut tung, count), bytes);
                        assert_eq!(tung.get_ref().input.position(), wire.len() as u64);
                    },
                    &mut || {
                        let read = fast_io.read.get();
                        assert_eq!(peer_fastwebsockets::decode(&mut fast, count), bytes);
                        assert_eq!(fast_io.read.get() - read, wire.len());
                    },
                    &mut || {
                        let read = tokio_io.read.get();
                        assert_eq!(peer_tokio_websockets::decode(&mut tokio, count), bytes);
                        assert_eq!(tokio_io.read.get() - read, wire.len());
                    },
                ],
            )
        }
        "encode" => {
            let message = Outgoing::new(kind, &payload);
            let frames = [
                support::resock_one_frame(&message),
                support::tung_one_frame(&message),
                peer_fastwebsockets::one_frame(&message),
                peer_tokio_websockets::one_frame(&message),
            ];
            for (library, frame) in LIBRARIES.iter().zip(&frames) {
                support::check_client_frame(library, kind, &payload, frame);
            }
            let bytes = count * encoded_len(case.size, true);
            let mut conn = support::open_client(support::config());
            let mut out = Vec::new();
            let mut tung = support::tung_client(Vec::new());
            let tung_message = message.tungstenite();
            let (fast_io, tokio_io) = (Traffic::default(), Traffic::default());
            let mut fast = peer_fastwebsockets::client(&[], &fast_io);
            let mut tokio = peer_tokio_websockets::client(&[], &tokio_io);
            let tokio_message = peer_tokio_websockets::message(&message);
            rounds(
                opts,
                count,
                [
                    &mut || assert_eq!(support::resock_encode(&mut conn, &mut out, &message, count), bytes),
                    &mut || assert_eq!(support::tung_encode(&mut tung, &tung_message, count), bytes),
                    &mut || {
                        let written = fast_io.written.get();
                        peer_fastwebsockets::encode(&mut fast, &message, count);
                        assert_eq!(fast_io.written.get() - written, bytes);
                    },
                    &mut || {
                        let written = tokio_io.written.get();
                        peer_tokio_websockets::encode(&mut tokio, &tokio_message, count);
                        assert_eq!(tokio_io.written.get() - written, bytes);
                    },
                ],
            )
        }
        _ => unreachable!(),
    }
}

/// The session's decode path against the bare connection's, same bytes, same round.
fn measure_session(kind: Kind, size: usize, opts: &Options) -> (f64, f64, f64) {
    let payload = support::payload(kind, size);
    let count = support::messages_per_pass(size);
    let wire = support::server_frames(kind, &payload, count);
    let mut conn = support::open_client(support::config());
    let (mut session, id) = support::open_session();
    let mut out = Vec::new();
    let (mut bare, mut layered, mut overheads) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..opts.rounds {
        let c = rate(opts.min_time, count, || {
            assert_eq!(support::resock_decode(&mut conn, &wire), count);
        });
        let s = rate(opts.min_time, count, || {
            assert_eq!(support::session_decode(&mut session, id, &wire, &mut out), count);
        });
        bare.push(c);
        layered.push(s);
        overheads.push((c / s - 1.0) * 100.0);
    }
    (median(&mut bare), median(&mut layered), median(&mut overheads))
}

fn main() {
    let opts = options();
    // `cargo bench` passes `--bench`; ignore it and any libtest flags.
    for op in ["decode", "encode"] {
        for kind in Kind::ALL {
            for size in SIZES {
                let case = Case { op, kind, size };
                let label = case.label();
                if opts.filter.as_deref().is_some_and(|f| !label.contains(f)) {
                    continue;
                }
                let medians = measure(&case, &opts);
                let mut line = format!("{label}: resock {} Mmsg/s", mmsg(medians.rates[0]));
                for (peer, name) in LIBRARIES.iter().enumerate().skip(1) {
                    let (rate, ratio) = (medians.rates[peer], medians.ratios[peer - 1]);
                    line += &format!(" | {name} {} x{ratio:.2}", mmsg(rate));
                }
                println!("{line}");
            }
        }
    }
    // The session layer's cost on the receive path (time per message added to the bare
    // connection's, in percent).
    for kind in [Kind::Text, Kind::Binary] {
        for size in [16, 128, 1024, 65536] {
            let label = format!("session decode {} {size}", kind.name());
            if opts.filter.as_deref().is_some_and(|f| !label.contains(f)) {
                continue;
            }
            let (bare, layered, overhead) = measure_session(kind, size, &opts);
            println!(
                "{label}: connection {} Mmsg/s, session {} Mmsg/s, overhead {overhead:.1}%",
                mmsg(bare),
                mmsg(layered)
            );
        }
    }
}
