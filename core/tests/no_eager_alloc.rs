//! A declared frame length is never trusted for allocation (RFC 6455 §10.4, checklist §5
//! "allocate incrementally"): a counting global allocator shows that the header of a 16 MiB
//! frame, and its first payload bytes, cost kilobytes, not megabytes.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use resock_core::{Config, Event, Message, Role};

/// Counts the bytes requested by the current thread while its flag is set.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note(bytes: usize) {
    if COUNTING.with(Cell::get) {
        ALLOCATED.fetch_add(bytes, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; we only count sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes the current thread requested from the allocator while running `f`.
fn allocated_by<R>(f: impl FnOnce() -> R) -> (R, usize) {
    // Tests run on separate threads, so only this thread's flag matters; the counter is
    // shared, so each measurement runs under a lock.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ALLOCATED.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let result = f();
    COUNTING.with(|c| c.set(false));
    (result, ALLOCATED.load(Ordering::Relaxed))
}

const LIMIT: usize = 64 * 1024;
const SIXTEEN_MIB: usize = 16 << 20;

fn config() -> Config {
    Config::default().max_frame_size(32 << 20)
}

/// Feeds the header of a 16 MiB frame with first byte `b0`, then 4 KiB of its payload, and
/// checks the allocations of each step.
fn check_header_then_payload(role: Role, b0: u8) {
    let mut peer = Peer::open(role, config());
    let whole_header = to(role, b0, &[]);
    // The 64-bit length form of 16 MiB, with the mask key (if any) after it.
    let mut header = vec![b0, whole_header[1] & 0x80 | 127];
    header.extend_from_slice(&(SIXTEEN_MIB as u64).to_be_bytes());
    if role == Role::Server {
        header.extend_from_slice(&KEY);
    }
    let (events, bytes) = allocated_by(|| {
        peer.feed(&header);
        peer.events()
    });
    assert_eq!(events, [], "{role:?} {b0:#x}");
    assert!(peer.conn.is_open());
    assert!(
        bytes <= LIMIT,
        "{role:?} {b0:#x}: the header alone allocated {bytes} bytes"
    );

    let mut payload = vec![b'a'; 4096];
    if role == Role::Server {
        payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= KEY[i % 4]);
    }
    let (events, bytes) = allocated_by(|| {
        peer.feed(&payload);
        peer.events()
    });
    assert_eq!(events, [], "{role:?} {b0:#x}");
    assert!(
        bytes <= LIMIT,
        "{role:?} {b0:#x}: 4 KiB of payload allocated {bytes} bytes"
    );
}

#[test]
fn header_of_a_16_mib_frame_allocates_little() {
    for role in [Role::Client, Role::Server] {
        for b0 in [FIN | BINARY, FIN | TEXT, BINARY] {
            check_header_then_payload(role, b0);
        }
    }
}

#[test]
fn the_exact_header_from_the_checklist() {
    let mut peer = Peer::client(config());
    let (events, bytes) = allocated_by(|| {
        peer.feed(&[0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]);
        peer.events()
    });
    assert_eq!(events, []);
    assert!(bytes <= LIMIT, "allocated {bytes} bytes");
    // Many small reads of the payload stay proportional to what arrived.
    let (_, bytes) = allocated_by(|| {
        for _ in 0..64 {
            peer.feed(&[0; 256]);
            assert_eq!(peer.events(), []);
        }
    });
    assert!(
        bytes <= LIMIT,
        "16 KiB of payload in 256-byte reads allocated {bytes} bytes"
    );
}

#[test]
fn the_counter_sees_allocations() {
    let (v, bytes) = allocated_by(|| vec![0u8; 100_000]);
    assert_eq!(v.len(), 100_000);
    assert!(bytes >= 100_000, "the counting allocator missed an allocation");
    // And a whole small message still goes through normally.
    let mut peer = Peer::client(config());
    peer.feed(&frame(FIN | TEXT, b"ok"));
    assert_eq!(peer.events(), [Event::Message(Message::text("ok"))]);
}
