//! Criterion benches of the same cases as `compare`, for profiling one case at a time:
//! `cargo bench -p resock-core --bench codec -- 'decode/text/128'`.
//! Groups are `decode/<kind>/<size>` and `encode/<kind>/<size>`, each with a `resock` and a
//! `tungstenite` function, throughput in payload bytes.

mod support;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use support::{Kind, Outgoing};

/// Sizes profiled here: the small-message cases and one large one (1 MiB is in `compare`).
const SIZES: [usize; 4] = [16, 128, 1024, 65536];

fn decode(c: &mut Criterion) {
    for kind in Kind::ALL {
        for size in SIZES {
            let payload = support::payload(kind, size);
            let count = support::messages_per_pass(size).min(4096);
            let wire = support::server_frames(kind, &payload, count);
            let mut group = c.benchmark_group(format!("decode/{}/{size}", kind.name()));
            group.throughput(Throughput::Bytes((size * count) as u64));
            let mut conn = support::open_client(support::config());
            group.bench_function("resock", |b| b.iter(|| support::resock_decode(&mut conn, &wire)));
            let mut ws = support::tung_client(wire.clone());
            group.bench_function("tungstenite", |b| b.iter(|| support::tung_decode(&mut ws, count)));
            group.finish();
        }
    }
}

fn encode(c: &mut Criterion) {
    for kind in Kind::ALL {
        for size in SIZES {
            let payload = support::payload(kind, size);
            let count = support::messages_per_pass(size).min(4096);
            let message = Outgoing::new(kind, &payload);
            let tung_message = message.tungstenite();
            let mut group = c.benchmark_group(format!("encode/{}/{size}", kind.name()));
            group.throughput(Throughput::Bytes((size * count) as u64));
            let mut conn = support::open_client(support::config());
            let mut out = Vec::new();
            group.bench_function("resock", |b| {
                b.iter(|| support::resock_encode(&mut conn, &mut out, &message, count))
            });
            let mut ws = support::tung_client(Vec::new());
            group.bench_function("tungstenite", |b| {
                b.iter_batched_ref(
                    || (),
                    |_| support::tung_encode(&mut ws, &tung_message, count),
                    BatchSize::SmallInput,
                )
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = decode, encode
}
criterion_main!(benches);
