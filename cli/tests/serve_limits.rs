//! Issue 17's attacks on `resock serve`, from outside, against the built binary, on each
//! runtime (smol, tokio, async-std): slowloris, an idle flood and a full server, unfinished
//! huge messages against the inbound budget, a client that stops reading in broadcast mode,
//! and SIGTERM. Each attack is bounded in time (a few seconds); every server is killed by PID
//! when its guard drops. The figures (time to reject, drop time, the server's RSS) are
//! written as rows of `$CARGO_TARGET_TMPDIR/serve-limits.md` and printed.
#![cfg(target_os = "linux")]

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use common::raw::{self, BINARY, Ending, Raw, TEXT};
use common::{Proc, serve};

const MIB: usize = 1 << 20;

/// A line of `/proc/PID/status` (`VmRSS`, `VmHWM`), in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server runs");
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Appends a row to the figures table (the file is started afresh by the first row of a run)
/// and prints it.
fn record(runtime: &str, attack: &str, figure: &str, value: String) {
    static START: Once = Once::new();
    static ROWS: Mutex<()> = Mutex::new(());
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-limits.md");
    let _guard = ROWS.lock().unwrap_or_else(|p| p.into_inner());
    START.call_once(|| {
        let header = "| runtime | attack | figure | value |\n|---|---|---|---|\n";
        std::fs::write(&path, header).expect("the figures file");
    });
    let row = format!("| {runtime} | {attack} | {figure} | {value} |\n");
    let mut file = OpenOptions::new().append(true).open(&path).expect("the figures file");
    file.write_all(row.as_bytes()).unwrap();
    print!("{} {row}", path.display());
}

fn start(runtime: &str, flags: &[&str]) -> (Proc, u16) {
    let mut all = vec!["--runtime", runtime];
    all.extend_from_slice(flags);
    serve(&all)
}

/// 50 sockets send half a request and stop: each is answered 408 once the handshake timeout
/// (300 ms) has passed, and closed.
fn slowloris(runtime: &str) {
    let (server, port) = start(runtime, &["-q", "--handshake-timeout", "300"]);
    let started = Instant::now();
    let mut sockets: Vec<Raw> = (0..50)
        .map(|_| {
            let mut raw = Raw::connect(port);
            raw.tcp
                .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs")
                .unwrap();
            raw
        })
        .collect();
    let rss = status_kib(server.id(), "VmRSS");
    let mut slowest = Duration::ZERO;
    for raw in &mut sockets {
        let head = raw.read_head(Duration::from_secs(3)).expect("an answer within 3 s");
        assert!(
            head.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{runtime}: {head}"
        );
        slowest = slowest.max(started.elapsed());
    }
    for raw in &mut sockets {
        assert!(raw.wait_eof(Duration::from_secs(3)), "{runtime}: closed after the 408");
    }
    assert!(
        slowest >= Duration::from_millis(290),
        "{runtime}: answered before the timeout: {slowest:?}"
    );
    assert!(slowest < Duration::from_millis(1800), "{runtime}: {slowest:?}");
    let attack = "slowloris: 50 half requests, --handshake-timeout 300";
    record(
        runtime,
        attack,
        "time to 408 (slowest)",
        format!("{} ms", slowest.as_millis()),
    );
    record(runtime, attack, "server VmRSS while held", mib(rss));
}

/// 100 idle connections under `--idle-timeout 300` are each closed with 1000 (a close frame).
fn idle_flood(runtime: &str) {
    let (server, port) = start(runtime, &["-q", "--idle-timeout", "300"]);
    let mut clients: Vec<(Raw, Instant)> = (0..100).map(|_| (Raw::open(port), Instant::now())).collect();
    let rss = status_kib(server.id(), "VmRSS");
    let mut slowest = Duration::ZERO;
    for (raw, opened) in &mut clients {
        let ending = raw.wait_close(Duration::from_secs(3));
        assert_eq!(ending, Ending::Close(1000), "{runtime}");
        let idle = opened.elapsed();
        slowest = slowest.max(idle);
        raw.send_close(1000).unwrap();
    }
    assert!(slowest < Duration::from_millis(2000), "{runtime}: {slowest:?}");
    let attack = "idle flood: 100 idle connections, --idle-timeout 300";
    record(
        runtime,
        attack,
        "closed 1000 after (slowest)",
        format!("{} ms", slowest.as_millis()),
    );
    record(runtime, attack, "server VmRSS with 100 open", mib(rss));
}

/// With `--max-connections 20` and 20 connections open, the 21st is answered 503 with
/// Retry-After at once; the 20 are still served; once one leaves, a new one is accepted.
fn full_server(runtime: &str) {
    let (server, port) = start(runtime, &["-q", "--max-connections", "20"]);
    let mut clients: Vec<Raw> = (0..20).map(|_| Raw::open(port)).collect();
    let asked = Instant::now();
    let mut extra = Raw::connect(port);
    extra.tcp.write_all(raw::request("/").as_bytes()).unwrap();
    let head = extra.read_head(Duration::from_secs(2)).expect("an answer while full");
    let answered = asked.elapsed();
    assert!(head.starts_with("HTTP/1.1 503"), "{runtime}: {head}");
    assert!(head.contains("\r\nRetry-After: "), "{runtime}: {head}");
    assert!(answered < Duration::from_secs(1), "{runtime}: {answered:?}");
    // The others are still served while the server is full.
    for (n, raw) in clients.iter_mut().enumerate() {
        let text = format!("still here {n}");
        raw.send(TEXT, text.as_bytes()).unwrap();
        let echo = raw.read_frame(Duration::from_secs(3)).expect("the echo");
        assert_eq!(echo.payload, text.as_bytes(), "{runtime}");
    }
    // One leaves (close handshake, then the server ends the TCP connection).
    let mut leaving = clients.pop().unwrap();
    leaving.send_close(1000).unwrap();
    assert_eq!(leaving.wait_close(Duration::from_secs(3)), Ending::Close(1000));
    assert!(leaving.wait_eof(Duration::from_secs(3)));
    // Its place is freed when its task ends, just after the TCP close: a few tries.
    let mut tries = 0;
    loop {
        let mut next = Raw::connect(port);
        next.tcp.write_all(raw::request("/").as_bytes()).unwrap();
        let head = next.read_head(Duration::from_secs(2)).expect("an answer");
        if head.starts_with("HTTP/1.1 101") {
            break;
        }
        tries += 1;
        assert!(tries < 40, "{runtime}: no place freed: {head}");
        thread::sleep(Duration::from_millis(25));
    }
    let attack = "full server: --max-connections 20, connection 21";
    record(
        runtime,
        attack,
        "time to 503 + Retry-After",
        format!("{} ms", answered.as_millis()),
    );
    record(
        runtime,
        attack,
        "server VmRSS with 20 open",
        mib(status_kib(server.id(), "VmRSS")),
    );
}

/// With `--max-connections-per-ip 3`, a fourth connection from the same address is answered
/// 429 with Retry-After while the three stay served.
fn per_ip_limit(runtime: &str) {
    let (_server, port) = start(runtime, &["-q", "--max-connections-per-ip", "3"]);
    let mut clients: Vec<Raw> = (0..3).map(|_| Raw::open(port)).collect();
    let asked = Instant::now();
    let mut extra = Raw::connect(port);
    extra.tcp.write_all(raw::request("/").as_bytes()).unwrap();
    let head = extra.read_head(Duration::from_secs(2)).expect("an answer");
    let answered = asked.elapsed();
    assert!(head.starts_with("HTTP/1.1 429"), "{runtime}: {head}");
    assert!(head.contains("\r\nRetry-After: "), "{runtime}: {head}");
    for raw in &mut clients {
        raw.send(TEXT, b"served").unwrap();
        assert_eq!(raw.read_frame(Duration::from_secs(3)).unwrap().payload, b"served");
    }
    let attack = "per-IP: --max-connections-per-ip 3, a fourth from 127.0.0.1";
    record(
        runtime,
        attack,
        "time to 429 + Retry-After",
        format!("{} ms", answered.as_millis()),
    );
}

/// 8 clients each send the header of a 32 MiB message and 16 MiB of it, under
/// `--max-message 64 MiB` and `--inbound-budget 8 MiB`: the largest holders are closed with
/// 1009 and the server's peak RSS stays far below the 128 MiB attempted. Returns the peak RSS
/// growth in KiB.
fn memory_attack(runtime: &str, budget: usize) -> (u64, usize) {
    let budget = budget.to_string();
    let max_message = (64 * MIB).to_string();
    let (server, port) = start(
        runtime,
        &[
            "-q",
            "--max-message",
            &max_message,
            "--inbound-budget",
            &budget,
            "--close-timeout",
            "1000",
        ],
    );
    let pid = server.id();
    let before = status_kib(pid, "VmHWM");
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let mut raw = Raw::open(port);
            thread::spawn(move || {
                let stop = Arc::new(AtomicBool::new(false));
                let mut writer = raw.tcp.try_clone().unwrap();
                writer.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
                let stop_writing = Arc::clone(&stop);
                let writing = thread::spawn(move || {
                    if writer.write_all(&raw::header(BINARY, 32 * MIB as u64)).is_err() {
                        return;
                    }
                    let chunk = vec![b'x'; 256 * 1024];
                    for _ in 0..64 {
                        if stop_writing.load(Ordering::Relaxed) || writer.write_all(&chunk).is_err() {
                            return;
                        }
                    }
                });
                let ending = raw.wait_close(Duration::from_secs(4));
                stop.store(true, Ordering::Relaxed);
                let _ = writing.join();
                ending
            })
        })
        .collect();
    let endings: Vec<Ending> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let grown = status_kib(pid, "VmHWM").saturating_sub(before);
    let closed = endings.iter().filter(|e| **e == Ending::Close(1009)).count();
    for ending in &endings {
        assert!(
            matches!(ending, Ending::Close(1009) | Ending::Silent),
            "{runtime}: only 1009 closes, or still holding: {endings:?}"
        );
    }
    (grown, closed)
}

fn memory_budget(runtime: &str) {
    let (grown, closed) = memory_attack(runtime, 8 * MIB);
    assert!(closed >= 5, "{runtime}: at most 2 fit in the budget, {closed} closed");
    assert!(
        grown < 48 * 1024,
        "{runtime}: the server's peak RSS grew by {} for 128 MiB attempted",
        mib(grown)
    );
    let attack = "memory: 8 clients x 16 MiB of a 32 MiB message, --inbound-budget 8 MiB";
    record(runtime, attack, "closed with 1009", format!("{closed} of 8"));
    record(runtime, attack, "server peak RSS growth (VmHWM)", mib(grown));
}

/// The same attack with a budget larger than the attack, once: what the budget saves.
#[test]
fn memory_attack_without_a_budget_for_comparison() {
    let (grown, closed) = memory_attack("smol", 1 << 30);
    assert_eq!(closed, 0, "a 1 GiB budget closes nobody");
    let attack = "memory: the same, --inbound-budget 1 GiB (control)";
    record("smol", attack, "server peak RSS growth (VmHWM)", mib(grown));
    assert!(
        grown > 64 * 1024,
        "the control pins the attack's memory: {}",
        mib(grown)
    );
}

/// Broadcast: a client that never reads (a 64 KiB receive buffer), one that reads, one that
/// sends 400 messages of 64 KiB. The non-reader is closed (1008, or cut after the close timeout) while the reader
/// receives every message in order.
fn slow_consumer(runtime: &str) {
    const COUNT: usize = 400;
    /// Messages the sender sends before it reads its own copies back: 256 KiB.
    const BATCH: usize = 4;
    let (server, port) = start(
        runtime,
        &[
            "-q",
            "--broadcast",
            "--json-events",
            "--max-queued-bytes",
            "1048576",
            "--close-timeout",
            "500",
        ],
    );
    let mut stalled = Raw::open(port);
    stalled.shrink_receive_buffer(64 * 1024);
    let mut reader = Raw::open(port);
    let mut sender = Raw::open(port);
    let reading = thread::spawn(move || {
        for n in 0..COUNT {
            let frame = reader.read_frame(Duration::from_secs(10)).expect("every message");
            assert_eq!(frame.payload[..8], (n as u64).to_be_bytes(), "in order");
        }
    });
    let started = Instant::now();
    // Line by line: stdout carries a `message` event of 128 KiB of hex per message, 51 MiB.
    let stalled_end = |l: &str| l.contains("\"client\":1,") && l.contains("\"disconnected\"");
    let (relayed, (dropped, line)) = thread::scope(|scope| {
        // Watches for the stalled client's end while the messages flow.
        let watcher = scope.spawn(|| {
            let line = server.wait_stdout_line("the stalled client's end", stalled_end);
            (started.elapsed(), line)
        });
        let mut payload = vec![b'm'; 64 * 1024];
        for batch in 0..COUNT / BATCH {
            for n in batch * BATCH..(batch + 1) * BATCH {
                payload[..8].copy_from_slice(&(n as u64).to_be_bytes());
                sender.send(BINARY, &payload).unwrap();
            }
            // The sender is a subscriber too: it reads its own copies of the batch before
            // the next (a producer no faster than a reader; the non-reader still falls behind).
            for _ in 0..BATCH {
                let frame = sender.read_frame(Duration::from_secs(10)).expect("the sender's copy");
                assert_eq!(frame.opcode, BINARY, "{runtime}: the sender was not dropped");
            }
        }
        (started.elapsed(), watcher.join().expect("the stalled client's end"))
    });
    assert!(line.contains("\"why\":\"slow-consumer\""), "{runtime}: {line}");
    assert!(line.contains("\"code\":1008"), "{runtime}: {line}");
    reading.join().expect("the reader got every message in order");
    // The non-reader's end comes while the broadcast runs or right after it (its close gets
    // the 500 ms close timeout), never at some later timeout or wake-up of its own. Relative to the broadcast, so a
    // loaded machine that slows both does not fail it.
    assert!(
        dropped < relayed + Duration::from_secs(3),
        "{runtime}: the non-reader ended {dropped:?} after the start, the broadcast took {relayed:?}"
    );
    // What the stalled client finds once it reads: data, then the close (or the cut).
    let ending = stalled.wait_close(Duration::from_secs(5));
    assert!(
        matches!(ending, Ending::Close(1008) | Ending::Cut),
        "{runtime}: {ending:?}"
    );
    let rss = status_kib(server.id(), "VmHWM");
    sender.send_close(1000).unwrap();
    let attack = "slow consumer: broadcast of 400 x 64 KiB, one client never reads (SO_RCVBUF 64 KiB), --max-queued-bytes 1 MiB, --close-timeout 500";
    let ending = match ending {
        Ending::Close(code) => format!("close frame {code}"),
        _ => "socket cut".into(),
    };
    record(
        runtime,
        attack,
        "non-reader's end reported, from the first message",
        format!("{} ms ({ending})", dropped.as_millis()),
    );
    record(runtime, attack, "server peak RSS (VmHWM)", mib(rss));
    record(
        runtime,
        attack,
        "all 400 relayed to the sender (reader got all too)",
        format!("{} ms", relayed.as_millis()),
    );
}

/// SIGTERM: every client gets a close frame 1001 and the server exits 0 within the close
/// timeout, even with a client that never answers the close.
fn sigterm(runtime: &str) {
    let (mut server, port) = start(runtime, &["--json-events", "--close-timeout", "1000"]);
    let mut polite: Vec<Raw> = (0..3).map(|_| Raw::open(port)).collect();
    let mut silent = Raw::open(port);
    let signalled = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    for raw in &mut polite {
        assert_eq!(raw.wait_close(Duration::from_secs(2)), Ending::Close(1001), "{runtime}");
        raw.send_close(1001).unwrap();
    }
    assert_eq!(
        silent.wait_close(Duration::from_secs(2)),
        Ending::Close(1001),
        "{runtime}"
    );
    let status = server.wait_exit_within(Duration::from_millis(1000 + 1500));
    let exited = signalled.elapsed();
    assert!(status.success(), "{runtime}: {status}: {}", server.stderr());
    let err = server.stderr();
    assert!(err.contains("SIGTERM: stopped listening"), "{runtime}: {err}");
    let out = server.stdout();
    let shutdown = out.lines().find(|l| l.contains("\"event\":\"shutdown\"")).expect(&out);
    assert!(
        shutdown.contains("\"open\":4,\"closed_going_away\":4"),
        "{runtime}: {shutdown}"
    );
    let attack = "SIGTERM: 4 clients (1 never answers the close), --close-timeout 1000";
    record(runtime, attack, "exit 0 after", format!("{} ms", exited.as_millis()));
}

macro_rules! on_every_runtime {
    ($($attack:ident),*) => {
        mod smol { $( #[test] fn $attack() { super::$attack("smol") } )* }
        mod tokio { $( #[test] fn $attack() { super::$attack("tokio") } )* }
        mod async_std { $( #[test] fn $attack() { super::$attack("async-std") } )* }
    };
}

on_every_runtime!(
    slowloris,
    idle_flood,
    full_server,
    per_ip_limit,
    memory_budget,
    slow_consumer,
    sigterm
);
