//! A kill after the N-th step that changes the store, for the tests that
//! kill a publish, a link and a collection at every step and check that no
//! payload is lost while referenced and no reference is left to a missing
//! payload. The CLI arms it from `HAID_STORE_CRASH_AFTER=N`; the process then
//! aborts, as a SIGKILL or a power cut would. Unit tests arm it per thread
//! and get a panic instead. Unarmed it costs one atomic load per step.

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

/// One step that changed the store is done.
pub(crate) fn step() {
    #[cfg(all(test, unix))]
    in_tests::step();
    if let Some(n) = ARMED.get() {
        if REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            std::process::abort();
        }
    }
}

/// The store's tests make links, so they run on Unix only.
#[cfg(all(test, unix))]
pub(super) mod in_tests {
    use std::cell::Cell;

    thread_local! {
        static PANIC_AFTER: Cell<usize> = const { Cell::new(0) };
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    /// This thread's next store call panics after its `n`-th step.
    pub fn arm(n: usize) {
        PANIC_AFTER.set(n);
        COUNT.set(0);
    }

    pub(super) fn step() {
        COUNT.set(COUNT.get() + 1);
        if PANIC_AFTER.get() > 0 && COUNT.get() == PANIC_AFTER.get() {
            PANIC_AFTER.set(0);
            panic!("killed at store step {}", COUNT.get());
        }
    }
}
