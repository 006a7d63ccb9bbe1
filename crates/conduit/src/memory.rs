//! Memory after a burst. A burst of large requests (100 Claude-Code-sized turns at once is
//! ~60 MB of request bodies, their decoded and re-encoded copies) grows glibc's heap, and glibc
//! keeps what was freed for later instead of returning it: RSS stayed at the burst's peak. Two
//! settings, both measured (docs/benchmarks.md):
//! - allocations of 64 KiB and more (request bodies, encoded upstream bodies) are mapped on
//!   their own and unmapped when freed, instead of glibc's default threshold, which rises to
//!   32 MiB as large blocks are freed and then keeps them in the heap;
//! - once no request is in flight after some were, the heap's free pages are handed back
//!   (`malloc_trim`), at most every [`TRIM_EVERY`], so the next idle moment after a burst
//!   returns RSS to near idle. Never while a request is running: a busy gateway would only
//!   fault the pages back in.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often an idle gateway checks whether requests ran since the last trim.
pub const TRIM_EVERY: Duration = Duration::from_millis(250);
/// Allocations this large are mapped on their own and returned when freed.
const MMAP_THRESHOLD: i32 = 64 * 1024;

static STARTED: AtomicU64 = AtomicU64::new(0);
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// A request began (every [`crate::logging::RequestRecord`] counts itself).
pub fn request_started() {
    STARTED.fetch_add(1, Ordering::Relaxed);
    IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
}

/// A request ended: its record was written.
pub fn request_ended() {
    IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
}

/// Sets the allocator's large-block threshold; once, before serving.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[expect(unsafe_code, reason = "glibc's mallopt has no safe wrapper")]
    // SAFETY: mallopt only changes a glibc tunable, takes no pointers, and is thread-safe.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// The trimmer: every [`TRIM_EVERY`], if requests ran since the last trim and none runs now,
/// hands the heap's free pages back. Ends with `shutdown`.
pub fn spawn_trimmer(shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen = STARTED.load(Ordering::Relaxed);
        let mut tick = tokio::time::interval(TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let started = STARTED.load(Ordering::Relaxed);
            if started != seen && IN_FLIGHT.load(Ordering::Relaxed) == 0 {
                seen = started;
                trim();
            }
        }
    })
}

fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[expect(unsafe_code, reason = "glibc's malloc_trim has no safe wrapper")]
    // SAFETY: malloc_trim takes no pointers and is thread-safe: it locks each arena in turn.
    unsafe {
        libc::malloc_trim(0);
    }
}
