//! A counting global allocator for memory tests. Install it in a test binary with
//! `#[global_allocator] static ALLOC: Counting = Counting;` and read the live bytes (allocated
//! minus freed) of the current thread, so tests running in parallel threads do not disturb
//! each other's counts. Process-wide totals are kept as well.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Delegates to the system allocator and counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // `const` initialisation without a destructor: no lazy registration, so no allocation.
    static THREAD_LIVE: Cell<i64> = const { Cell::new(0) };
    static THREAD_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn record(delta: i64, allocations: u64) {
    LIVE.fetch_add(delta, Ordering::Relaxed);
    ALLOCATIONS.fetch_add(allocations, Ordering::Relaxed);
    let _ = THREAD_LIVE.try_with(|c| c.set(c.get() + delta));
    let _ = THREAD_ALLOCATIONS.try_with(|c| c.set(c.get() + allocations));
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are plain atomics and
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            record(layout.size() as i64, 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            record(layout.size() as i64, 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        record(-(layout.size() as i64), 0);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            record(new_size as i64 - layout.size() as i64, 1);
        }
        p
    }
}

/// Bytes allocated and not yet freed by the current thread (frees of memory allocated on
/// another thread count against the freeing thread).
pub fn thread_live_bytes() -> i64 {
    THREAD_LIVE.with(Cell::get)
}

/// Allocations (including reallocations) made by the current thread.
pub fn thread_allocations() -> u64 {
    THREAD_ALLOCATIONS.with(Cell::get)
}

/// Bytes allocated and not yet freed by the whole process.
pub fn live_bytes() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

/// Allocations made by the whole process.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}
