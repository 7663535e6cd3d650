//! Fixtures for the integration tests: caches in temp dirs, laid out exactly
//! as huggingface_hub lays them out, and helpers to run the reference client.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_debug_implementations
)]

pub mod fixture;
pub mod python;

pub use fixture::{CacheFixture, RepoFixture};

/// The `haid-models` binary of this workspace. `cargo test --workspace`
/// (what `make test` runs) builds it before any test runs.
pub fn haid_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join(format!("haid-models{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is not built: run the tests with `cargo test --workspace` or `make test`",
        bin.display()
    );
    bin
}

/// A `haid-models` command with a clean environment: no HF_* or HAID_*
/// variable of the developer's leaks in, and home/config/data are in `root`.
pub fn haid(root: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(haid_bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("HF_") || key.starts_with("HUGGINGFACE_") || key.starts_with("HAID_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", root.join("home"))
        .env("XDG_CONFIG_HOME", root.join("config"))
        .env("XDG_DATA_HOME", root.join("data"));
    cmd
}
