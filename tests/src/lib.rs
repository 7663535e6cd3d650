//! Fixtures for the integration tests: caches in temp dirs, laid out exactly
//! as huggingface_hub lays them out, and helpers to run the reference client.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_debug_implementations
)]

#[cfg(target_os = "linux")]
pub mod exfat;
pub mod fake_hub;
pub mod fixture;
pub mod output;
pub mod published;
pub mod python;
pub mod tree_walk;

pub use fixture::{CacheFixture, RepoFixture};

/// The `haid-models` binary of this workspace, built (or found up to date)
/// once per test process, whichever way the tests were started: cargo only
/// builds a binary for the integration tests of its own package.
pub fn haid_bin() -> std::path::PathBuf {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        escargot::CargoBuild::new()
            .package("haid-models")
            .bin("haid-models")
            .current_release()
            .run()
            .expect("build the haid-models binary")
            .path()
            .to_owned()
    })
    .clone()
}

/// A `haid-models` command with a clean environment: no HF_* or HAID_*
/// variable of the developer's leaks in, home/config/data are in `root`, and
/// the hub is unreachable unless the test sets `HF_ENDPOINT`.
pub fn haid(root: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(haid_bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("HF_") || key.starts_with("HUGGINGFACE_") || key.starts_with("HAID_") {
            cmd.env_remove(key);
        }
    }
    // No test may reach huggingface.co: without an explicit HF_ENDPOINT (the
    // fake hub), requests go to a closed local port and fail at once.
    cmd.env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("HOME", root.join("home"))
        .env("XDG_CONFIG_HOME", root.join("config"))
        .env("XDG_DATA_HOME", root.join("data"));
    cmd
}
