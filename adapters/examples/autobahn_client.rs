//! Runs the Autobahn `fuzzingserver` client loop on the blocking driver:
//! `cargo run --release -p resock --example autobahn_client -- ws://127.0.0.1:9001`.
//!
//! Asks `/getCaseCount`, runs every case echoing each message back, then asks
//! `/updateReports`. With `--count` first, it only prints the number of selected cases; with
//! `--jobs N` first, it runs N cases at a time (each on its own thread and connection, the
//! next case number taken by whichever finishes first). Client pings stay off: a ping in a
//! 12.x case fails it.

use std::sync::atomic::{AtomicU32, Ordering};

use resock::blocking::{Error, WebSocket};
use resock::{ClientOptions, CloseCode, Config, DeflateConfig};

const AGENT: &str = "resock";

fn config() -> Config {
    // Autobahn 9.x sends 16 MiB messages, and 9.3.x up to 65536 fragments in one message.
    // The 13.x servers that ask for client_no_context_takeover (13.2, 13.5, 13.6) accept only
    // offers that carry it, as Autobahn's own client offer does; so this offer does too. The
    // 12.x and 13.x cases send "compressed messages" down to 16 bytes, and kosoku hands an
    // uncompressed echo of text to its case code as a str it cannot hash: so every message is
    // compressed here (threshold 0), whatever its size. Level 1: the cases judge the protocol,
    // not the ratio, and the 12.x cases spend most of their time compressing at the default 6.
    Config::default()
        .max_frame_size(32 << 20)
        .max_message_size(64 << 20)
        .max_fragments(1 << 20)
        .deflate(Some(
            DeflateConfig::new()
                .client_no_context_takeover(true)
                .threshold(0)
                .level(1),
        ))
}

fn main() -> Result<(), Error> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let count_only = args.first().is_some_and(|a| a == "--count");
    if count_only {
        args.remove(0);
    }
    let mut jobs = 1;
    if args.first().is_some_and(|a| a == "--jobs") {
        jobs = args
            .get(1)
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| Error::Refused("--jobs takes a count of 1 or more".into()))?;
        args.drain(..2);
    }
    let base = args
        .first()
        .cloned()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let base = base.trim_end_matches('/');
    let mut ws = WebSocket::connect(&format!("{base}/getCaseCount"))?;
    let count: u32 = match ws.recv()? {
        Some(message) => message
            .as_text()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| Error::Refused(format!("bad case count: {message:?}")))?,
        None => return Err(Error::Refused("no case count".into())),
    };
    ws.close(CloseCode::NORMAL, "").ok();
    if count_only {
        println!("{count}");
        return Ok(());
    }
    eprintln!("autobahn_client: running {count} cases");
    let next = AtomicU32::new(1);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(count) {
            scope.spawn(|| {
                loop {
                    let case = next.fetch_add(1, Ordering::Relaxed);
                    if case > count {
                        break;
                    }
                    run_case(&format!("{base}/runCase?case={case}&agent={AGENT}"));
                }
            });
        }
    });
    let mut ws = WebSocket::connect(&format!("{base}/updateReports?agent={AGENT}"))?;
    ws.close(CloseCode::NORMAL, "").ok();
    while ws.recv().is_ok_and(|m| m.is_some()) {}
    eprintln!("autobahn_client: reports updated");
    Ok(())
}

/// Echoes every message of one case until the connection ends, however it ends.
fn run_case(url: &str) {
    let mut ws = match WebSocket::connect_with(url, &ClientOptions::default(), config()) {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("{url}: {e}");
            return;
        }
    };
    while let Ok(Some(message)) = ws.recv() {
        // A send refused because the peer is closing is fine: the next recv sees the close.
        let _ = ws.send(&message);
    }
}
