//! Heap bytes per trial of replayed state: writes a journal of N W1-shape trials (create, two
//! float parameters of one distribution, an intermediate value, complete; default N = 1,000,000,
//! `TRIALOG_MEMORY_TRIALS` to change it), opens it with `JournalStorage::open` (a cold replay in
//! this process), and prints one JSON line: the heap the open storage holds per trial, as the
//! bytes asked of the allocator (`requested_bytes_per_trial`) and as the chunks glibc's malloc
//! hands out for them (`glibc_bytes_per_trial`: each allocation takes its size plus 8 bytes,
//! rounded up to 16, at least 32), the allocations per trial, and the replay's wall time.
//!
//! Run: `cargo bench --bench memory` (about 10 s and 1 GiB of scratch disk at 1M trials).
//!
//! The counting allocator is the only `unsafe` code here: `GlobalAlloc` is an unsafe trait.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::time::Instant;

use trialog::{Distribution, JournalStorage, MemoryBackend, StudyDirection, TrialState};

/// Counts live bytes, glibc chunk bytes and allocations, and delegates to the system allocator.
struct Counting;

static REQUESTED: AtomicI64 = AtomicI64::new(0);
static CHUNKS: AtomicI64 = AtomicI64::new(0);
static ALLOCATIONS: AtomicI64 = AtomicI64::new(0);

/// The size of the chunk glibc's malloc uses for a request of `size` bytes (below its mmap
/// threshold): the size plus an 8-byte header, rounded up to 16, at least 32.
fn chunk(size: usize) -> i64 {
    ((size + 8).div_ceil(16) * 16).max(32) as i64
}

fn count(size: usize, sign: i64) {
    REQUESTED.fetch_add(sign * size as i64, Relaxed);
    CHUNKS.fetch_add(sign * chunk(size), Relaxed);
    ALLOCATIONS.fetch_add(sign, Relaxed);
}

// SAFETY: every call is passed to `System` unchanged; the counters are only atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 1);
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 1);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(layout.size(), -1);
        // SAFETY: as for `alloc`: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(layout.size(), -1);
        count(new_size, 1);
        // SAFETY: as for `dealloc` and `alloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// (requested bytes, chunk bytes, allocations) live now.
fn live() -> [i64; 3] {
    [REQUESTED.load(Relaxed), CHUNKS.load(Relaxed), ALLOCATIONS.load(Relaxed)]
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter that does not match skips the run.
    if std::env::args().skip(1).any(|a| !a.starts_with('-') && !"memory".contains(&a)) {
        return;
    }
    let n: u64 = std::env::var("TRIALOG_MEMORY_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.journal");
    {
        let s = JournalStorage::new(MemoryBackend::new()).unwrap();
        let study = s.create_new_study(&[StudyDirection::Minimize], Some("memory")).unwrap();
        let d = Distribution::float(-10.0, 10.0, false, None).unwrap();
        let mut x = 0.123_456_789_f64;
        for _ in 0..n {
            x = (x * 7.3 + 0.311).fract();
            let (px, py) = (x * 20.0 - 10.0, (1.0 - x) * 20.0 - 10.0);
            let t = s.create_new_trial(study, None).unwrap();
            s.set_trial_param(t, "x", px, &d).unwrap();
            s.set_trial_param(t, "y", py, &d).unwrap();
            s.set_trial_intermediate_value(t, 0, px * px + py * py + 1.0).unwrap();
            s.set_trial_state_values(t, TrialState::Complete, Some(&[px * px + py * py])).unwrap();
        }
        std::fs::write(&path, s.backend().to_bytes()).unwrap();
    }
    let before = live();
    let t0 = Instant::now();
    let storage = JournalStorage::open(&path).unwrap();
    let seconds = t0.elapsed().as_secs_f64();
    let after = live();
    let trials = storage.get_all_trials(0, None).unwrap().len() as u64;
    assert_eq!(trials, n);
    let per_trial = |i: usize| (after[i] - before[i]) as f64 / n as f64;
    println!(
        "{{\"bench\": \"memory\", \"n_trials\": {n}, \"requested_bytes_per_trial\": {:.1}, \
         \"glibc_bytes_per_trial\": {:.1}, \"allocations_per_trial\": {:.2}, \
         \"open_seconds\": {seconds:.3}}}",
        per_trial(0),
        per_trial(1),
        per_trial(2),
    );
    drop(storage);
}
