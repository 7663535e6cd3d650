//! The live watcher: every change in the cache, from any program, as one
//! event per repo whose status really changed.
//!
//! Two sources of changes feed one engine (`engine.rs`): the OS's file events
//! (`notify` 8 through `notify-debouncer-full`; inotify, FSEvents,
//! ReadDirectoryChangesW), or, on network file systems where those see
//! nothing, a poll of directory times. Either way the engine maps a change to
//! its repo, rescans only that repo, and reports it if its status differs.

mod engine;
mod fs_kind;
mod native;
mod poll;

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use serde::Serialize;

use crate::cache::{CachedRepo, RepoId, RepoScan};
use crate::env::Env;
use crate::error::Result;

pub use fs_kind::is_network_fs;

/// What a watcher reports. Serialised as the NDJSON lines of `haid-models watch`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchEvent {
    /// Watching has begun (the initial state is known).
    Ready {
        /// The folder watched.
        cache_dir: PathBuf,
        /// How changes are seen.
        mode: WatchMode,
    },
    /// A repo's visible status changed.
    RepoChanged(RepoChange),
    /// Something the user should know once (fallback to polling, overflow).
    Notice {
        /// What to tell the user.
        message: String,
    },
}

/// A repo's visible status after a change; `state: "removed"` when it went.
#[derive(Debug, Clone, Serialize)]
pub struct RepoChange {
    /// The repo that changed.
    #[serde(flatten)]
    pub repo: RepoId,
    /// `complete`, `partial`, `corrupt`, or `removed`.
    pub state: String,
    /// Finished blobs, as `scan` counts them.
    pub size_on_disk: u64,
    /// Unfinished downloads.
    pub incomplete_size_on_disk: u64,
    /// Its blobs.
    pub nb_files: usize,
    /// Its folder in the cache.
    pub repo_path: PathBuf,
    /// The scan that saw the change, when the watcher scanned this one repo,
    /// so that a program keeping the cache's state ([`LiveCache::apply`])
    /// need not scan it again. Not part of the JSON.
    ///
    /// [`LiveCache::apply`]: crate::cache::live::LiveCache::apply
    #[serde(skip)]
    pub scan: Option<Arc<RepoScan>>,
}

impl RepoChange {
    /// The status a scan shows.
    pub fn of(repo: &CachedRepo) -> Self {
        Self {
            repo: repo.repo.clone(),
            state: repo.state.as_str().to_owned(),
            size_on_disk: repo.size_on_disk,
            incomplete_size_on_disk: repo.incomplete_size_on_disk,
            nb_files: repo.nb_files,
            repo_path: repo.repo_path.clone(),
            scan: None,
        }
    }

    /// The change a scan of one repo shows, carrying that scan.
    pub fn scanned(scan: RepoScan) -> Self {
        let change = Self::of(&scan.repo);
        Self {
            scan: Some(Arc::new(scan)),
            ..change
        }
    }

    /// The repo's folder is gone.
    pub fn removed(repo: RepoId, repo_path: PathBuf) -> Self {
        Self {
            repo,
            state: "removed".into(),
            size_on_disk: 0,
            incomplete_size_on_disk: 0,
            nb_files: 0,
            repo_path,
            scan: None,
        }
    }
}

/// How a watcher learns of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchMode {
    /// The OS tells us (inotify, FSEvents, ReadDirectoryChangesW).
    Native,
    /// We look every few seconds (network file systems, or `HAID_WATCH_POLL=1`).
    Poll,
}

/// Where a watcher's events go; called on the watcher's thread.
pub type WatchSink = Arc<dyn Fn(WatchEvent) + Send + Sync>;

/// What the engine's loop receives: from the OS backend or the poller (the
/// sources of changes), and from [`Watcher`] (the stop). Here, not in
/// `engine`, so the sources depend on this module only, not on the engine
/// that depends on them.
pub(crate) enum Msg {
    /// Paths the OS (or the poller) saw change.
    Paths(Vec<PathBuf>),
    /// Events were lost (queue overflow) or the backend failed: rescan all.
    Rescan(String),
    /// The watcher was stopped or dropped.
    Stop,
}

/// Picks the mode: polling when forced by `HAID_WATCH_POLL` or when the
/// cache (or its nearest existing folder) is on NFS, SMB/CIFS or FUSE (sshfs).
pub fn choose_mode(env: &Env, cache_dir: &std::path::Path) -> WatchMode {
    if env.flag("HAID_WATCH_POLL") || is_network_fs(cache_dir) {
        WatchMode::Poll
    } else {
        WatchMode::Native
    }
}

/// A running watcher; stops when dropped.
pub struct Watcher {
    stop: Option<mpsc::Sender<Msg>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Watcher {
    /// Starts watching `cache_dir` (which may not exist yet). The first event
    /// is `Ready`; then one `RepoChanged` per change.
    pub fn start(cache_dir: PathBuf, mode: WatchMode, sink: WatchSink) -> Result<Self> {
        let (tx, rx) = mpsc::channel();
        let feeder = tx.clone();
        let thread = std::thread::Builder::new()
            .name("haid-watch".into())
            .spawn(move || engine::run(cache_dir, mode, sink, feeder, rx))
            .map_err(|e| crate::Error::io("start", "the watcher thread", e))?;
        Ok(Self {
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// Stops watching and waits for the watcher's thread to end (dropping it does the same).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(Msg::Stop);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}
