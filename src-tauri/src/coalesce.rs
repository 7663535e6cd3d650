//! "Soon, once": work asked for in bursts (a download's events, a burst of
//! file changes) runs once after a short wait, off the caller's thread. A
//! request that comes while one waits is served by it; one that comes while
//! the work runs gets its own, so the last change is always seen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Runs `work` after `delay` on a thread of its own, unless a run is already
/// waiting on `waiting` (one flag per kind of work).
pub fn soon(waiting: &'static AtomicBool, delay: Duration, work: impl FnOnce() + Send + 'static) {
    if waiting.swap(true, Ordering::AcqRel) {
        return;
    }
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        waiting.store(false, Ordering::Release);
        work();
    });
}
