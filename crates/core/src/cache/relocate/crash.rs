//! A kill after the N-th step that changes the disk, for the test that
//! kills a move at every step and checks that the next run finishes it and
//! that no model went missing. The CLI arms it from `HAID_MOVE_CRASH_AFTER=N`;
//! the process then aborts, as a SIGKILL or a power cut would. Unarmed it
//! costs one atomic load per step.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

static ARMED: OnceLock<usize> = OnceLock::new();
static REACHED: AtomicUsize = AtomicUsize::new(0);

/// Aborts the process after the `n`-th step (0 does nothing).
pub fn arm_crash_after(n: usize) {
    if n > 0 {
        let _ = ARMED.set(n);
    }
}

/// One step that changed the disk is done: a file placed, a folder renamed,
/// the journal, the settings, the old copy removed, the symlink.
pub(super) fn step() {
    if let Some(n) = ARMED.get() {
        if REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            std::process::abort();
        }
    }
}
