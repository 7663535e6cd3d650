//! The integration tests, as one binary: each module was a test binary of its own,
//! and linking 19 of them took most of the build (`cargo test -p haid-models-tests`:
//! see BENCHMARKS.md, "Test build time"). `autotests = false` in Cargo.toml keeps
//! cargo from building the modules as binaries too (as ripgrep does).
//! Run one module with `cargo test -p haid-models-tests --test integration scan::`.

#![allow(clippy::unwrap_used)]

mod archive;
mod budget;
mod cache_faults;
mod cleanup;
mod cli;
mod containment;
mod download;
#[cfg(unix)] // every test kills a run: a signal
mod download_kill;
mod fake_hub_commits;
mod hostile_hub;
mod hostile_listing;
mod hub_api_retry;
mod hub_tokens;
mod interop;
mod local_input;
mod manager;
mod migrate;
mod move_cache;
mod no_symlinks;
mod no_symlinks_writers;
mod parallel;
mod pipeline;
mod scan;
mod serve;
mod shared_store;
mod shared_store_download;
mod shared_store_move;
mod shell_parity;
mod space;
mod sync;
mod watch;
mod watch_limits;
