//! resock-core against tungstenite on identical inputs, in the same run.
//!
//! `cargo bench -p resock-core --bench compare` (add `-- --quick` for a short run, or
//! `-- --filter "decode text"` to pick cases). One line per case:
//! `decode text 128: resock 17.2 Mmsg/s, tungstenite 11.1 Mmsg/s, ratio 1.55`
//! Each round times both libraries back to back on the same bytes; the ratio is computed within
//! the round, and the line shows the medians over rounds.
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

mod support;

use std::time::{Duration, Instant};

use support::{Kind, Outgoing, SIZES};

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

fn measure(case: &Case, opts: &Options) -> (f64, f64, f64) {
    let payload = support::payload(case.kind, case.size);
    let count = support::messages_per_pass(case.size);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut ratios = Vec::new();
    match case.op {
        "decode" => {
            let wire = support::server_frames(case.kind, &payload, count);
            support::check_same_decode(case.kind, &payload, &wire, count.min(8));
            let mut conn = support::open_client(support::config());
            let mut ws = support::tung_client(wire.clone());
            for _ in 0..opts.rounds {
                let r = rate(opts.min_time, count, || {
                    assert_eq!(support::resock_decode(&mut conn, &wire), count);
                });
                let t = rate(opts.min_time, count, || {
                    support::tung_decode(&mut ws, count);
                });
                ours.push(r);
                theirs.push(t);
                ratios.push(r / t);
            }
        }
        "encode" => {
            let message = Outgoing::new(case.kind, &payload);
            let tung_message = message.tungstenite();
            let mut conn = support::open_client(support::config());
            let mut out = Vec::new();
            let mut ws = support::tung_client(Vec::new());
            for _ in 0..opts.rounds {
                let r = rate(opts.min_time, count, || {
                    support::resock_encode(&mut conn, &mut out, &message, count);
                });
                let t = rate(opts.min_time, count, || {
                    support::tung_encode(&mut ws, &tung_message, count);
                });
                ours.push(r);
                theirs.push(t);
                ratios.push(r / t);
            }
        }
        _ => unreachable!(),
    }
    (median(&mut ours), median(&mut theirs), median(&mut ratios))
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
                let (ours, theirs, ratio) = measure(&case, &opts);
                println!(
                    "{label}: resock {} Mmsg/s, tungstenite {} Mmsg/s, ratio {ratio:.2}",
                    mmsg(ours),
                    mmsg(theirs)
                );
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
