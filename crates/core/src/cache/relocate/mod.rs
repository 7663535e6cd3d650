//! Moving the whole cache to another folder (`haid-models move DEST`, the
//! app's "Move the cache…").
//!
//! Peers' relocations lost data (Jan's deleted unrelated files), so the
//! rules are strict:
//! - [`plan_move`] reads only. It refuses a DEST inside the cache or holding
//!   it, a DEST that is neither empty nor a cache, a move while a download
//!   holds a lock, and a cache whose place an environment variable chose
//!   (unless the old path is to become a symlink).
//! - [`run_move`] never leaves a model missing from both places. On one file
//!   system into an empty DEST it is one rename. Otherwise every file is
//!   hard-linked (same file system) or copied and checked against its name
//!   (across), while the old cache stays whole; only then is the new place
//!   made the cache (the settings, or the symlink), and only then does the
//!   old copy go.
//! - A journal (`.locks/haid-move.json`, in the folder both scans skip)
//!   records the move, so a run killed at any moment finishes when the same
//!   `move` runs again, and another move is refused until it does.
//! - huggingface_hub 2.5's shared store (`blobs/`, when its marker says it
//!   is 2.5's) moves with the cache, each payload once (`store`); an
//!   unmarked `blobs/` is another program's and refused, as any foreign
//!   entry. To a disk without symlinks the store stays: its payloads go as
//!   the plain snapshot files that use them (`plain`).

mod crash;
mod entries;
mod journal;
mod plain;
mod plan;
mod run;
mod store;
mod transfer;

use std::path::PathBuf;

use serde::Serialize;
use ts_rs::TS;

use crate::location::LocationSource;

pub use crash::arm_crash_after;
pub use journal::{unfinished_move, unfinished_move_of, UnfinishedMove};
pub use plan::plan_move;
pub use run::run_move;

/// How the files get to DEST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MoveMethod {
    /// The same file system: one rename of the cache, or hard links into an
    /// existing cache. No byte is copied.
    Rename,
    /// Another file system: every file copied, and every blob checked
    /// against its name, before the old copy goes.
    Copy,
}

/// What a move will do; [`plan_move`] makes it, [`run_move`] carries it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct MovePlan {
    /// The cache now.
    pub from: PathBuf,
    /// Where it goes (absolute).
    pub to: PathBuf,
    /// The rule that chose the cache now.
    pub source: LocationSource,
    /// Rename or copy.
    pub method: MoveMethod,
    /// DEST is a cache already: the two are merged, each blob kept once.
    pub into_existing_cache: bool,
    /// Each repo folder, with what it holds.
    pub repos: Vec<RepoToMove>,
    /// Bytes of the cache (every regular file).
    pub bytes: u64,
    /// Regular files of the cache.
    pub files: u64,
    /// Bytes that must be written at DEST (0 for a rename; blobs DEST has
    /// already are not counted).
    pub bytes_to_copy: u64,
    /// Free bytes at DEST, when the system can tell.
    pub free_bytes: Option<u64>,
    /// The old path becomes a symlink to DEST.
    pub leave_symlink: bool,
    /// The settings will name DEST, so every later start finds it.
    pub remember: bool,
    /// An interrupted move to DEST is being finished.
    pub resuming: bool,
    /// Nothing to say before a move, or what the user should know: the
    /// settings are not changed because `--cache-dir` chose the cache, say.
    pub notes: Vec<String>,
    /// The settings file to remember DEST in.
    #[serde(skip)]
    #[ts(skip)]
    pub(crate) settings_file: PathBuf,
}

/// One repo folder of the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct RepoToMove {
    /// `models--org--name`.
    pub folder: String,
    /// Bytes of its regular files.
    pub bytes: u64,
    /// Its regular files.
    pub files: u64,
}

/// What a running move says, in order. Serialised with an `event` tag, as
/// the CLI's NDJSON and the app's events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum MoveEvent {
    /// One repo folder is being moved.
    Repo {
        /// `models--org--name`.
        folder: String,
    },
    /// Bytes placed at DEST so far (copied, linked or renamed).
    Progress {
        /// Done.
        bytes_done: u64,
        /// Of.
        bytes_total: u64,
    },
    /// Every file is at DEST; the new place is now the cache.
    Switched {
        /// The new cache.
        to: PathBuf,
    },
    /// The move is over.
    Done(MoveReport),
}

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct MoveReport {
    /// The old place.
    pub from: PathBuf,
    /// The new cache.
    pub to: PathBuf,
    /// Rename or copy.
    pub method: MoveMethod,
    /// Repo folders moved.
    pub repos: usize,
    /// Bytes of the cache at DEST.
    pub bytes: u64,
    /// Bytes written (copied) at DEST.
    pub bytes_copied: u64,
    /// The settings now name DEST.
    pub remembered: bool,
    /// The old path is a symlink to DEST.
    pub symlink: bool,
    /// DEST refuses symlinks (an exFAT or FAT drive), so every snapshot
    /// file there is a plain copy of its blob, as huggingface_hub writes it.
    pub without_symlinks: bool,
}

/// Calls with each [`MoveEvent`] of a run.
pub type MoveSink<'a> = &'a (dyn Fn(&MoveEvent) + Send + Sync);
