//! Gives the heap that start-up freed back to the system.
//!
//! glibc keeps freed memory in per-thread arenas and returns only the top of
//! each, so after WebKitGTK, GTK and the first scan have built and dropped
//! their start-up data the app stays at that peak. Measured with 2,000 cached
//! repos: 217 MB resident after the list is shown, 190 MB after a
//! `malloc_trim(0)` (bench/app.sh). No crate wraps it safely, hence the two
//! `unsafe` calls of the workspace (with `mallopt`).

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

/// Caps glibc at two heap arenas, before any thread starts. glibc gives
/// each thread that allocates while another holds the lock an arena of its
/// own, up to 8 per core, and frees within an arena only from its top: the
/// runtime's and GTK's threads each kept a part of the start-up's peak.
/// Measured with 2,000 cached repos (bench/app.sh): PSS 112 → see
/// BENCHMARKS.md. Two arenas keep the UI thread and the scans apart.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's mallopt, no safe wrapper exists")]
pub fn few_arenas() {
    // SAFETY: mallopt takes two plain integers and changes only the
    // allocator's own settings; called first in main, before any thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Other allocators have no arenas to cap.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn few_arenas() {}
