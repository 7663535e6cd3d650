//! Gives the heap that start-up freed back to the system.
//!
//! glibc keeps freed memory in per-thread arenas and returns only the top of
//! each, so after WebKitGTK, GTK and the first scan have built and dropped
//! their start-up data the app stays at that peak. Measured with 2,000 cached
//! repos: 217 MB resident after the list is shown, 190 MB after a
//! `malloc_trim(0)` (bench/app.sh). No crate wraps it safely, hence the one
//! `unsafe` of the workspace.

use std::time::Duration;

/// Long enough for the webview to finish its own start-up work after the
/// page reports the list on screen, so that memory is freed before we trim.
const SETTLE: Duration = Duration::from_secs(3);

/// Trims the heap a little later, off the UI thread (a trim walks every arena).
pub fn trim_soon() {
    let _ = std::thread::Builder::new()
        .name("heap-trim".into())
        .spawn(|| {
            std::thread::sleep(SETTLE);
            trim();
        });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's malloc_trim, no safe wrapper exists")]
fn trim() {
    // SAFETY: malloc_trim takes a plain size, touches only the allocator's own
    // state (under its locks) and has no caller-side invariants.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators (musl, macOS, Windows) return memory on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
