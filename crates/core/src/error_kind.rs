//! The kinds of [`crate::Error`], one name each, as the CLI's JSON, the
//! desktop app's errors and the UI spell them (`"disk_full"`, …). Scripts
//! and the page switch on these; the messages are for people.

use std::fmt;

use serde::Serialize;
use ts_rs::TS;

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A repo id that is not `org/name`.
    InvalidRepoId,
    /// A manifest that does not parse or breaks its rules.
    Manifest,
    /// A settings file that does not parse or holds a bad value.
    Settings,
    /// The cache folder cannot be used.
    CacheDir,
    /// `--type` names no type of the manifest.
    UnknownModelType,
    /// A bad argument: a revision, a glob, an endpoint, …
    InvalidArgument,
    /// `HF_HUB_OFFLINE` is set.
    Offline,
    /// A gated or private model without a usable token.
    Auth,
    /// The hub (or a mirror) answered something we refuse to act on.
    InvalidResponse,
    /// No such repo, revision, file or cached model.
    NotFound,
    /// The network or the hub failed, after retries.
    Network,
    /// The bytes do not match their hash, twice.
    Checksum,
    /// Not enough disk space, before or during a download.
    DiskFull,
    /// Stopped on purpose (Ctrl-C, a signal, Cancel, Pause).
    Cancelled,
    /// Someone else is doing the same thing right now.
    Busy,
    /// A delete that left part of a repo behind.
    DeleteUnfinished,
    /// `verify` found damaged or missing files.
    DamagedFiles,
    /// `migrate` left files in the old folder.
    IncompleteMigration,
    /// Manifest models that are not whole on disk (`sync`, `sync --check`).
    NotReady,
    /// A move of the cache refused before it started.
    MoveRefused,
    /// `import` refused entries or skipped damaged files.
    IncompleteImport,
    /// A file system error.
    Io,
    /// A failure of the app itself (a task that panicked): a bug.
    Internal,
}

impl ErrorKind {
    /// The name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRepoId => "invalid_repo_id",
            Self::Manifest => "manifest",
            Self::Settings => "settings",
            Self::CacheDir => "cache_dir",
            Self::UnknownModelType => "unknown_model_type",
            Self::InvalidArgument => "invalid_argument",
            Self::Offline => "offline",
            Self::Auth => "auth",
            Self::InvalidResponse => "invalid_response",
            Self::NotFound => "not_found",
            Self::Network => "network",
            Self::Checksum => "checksum",
            Self::DiskFull => "disk_full",
            Self::Cancelled => "cancelled",
            Self::Busy => "busy",
            Self::DeleteUnfinished => "delete_unfinished",
            Self::DamagedFiles => "damaged_files",
            Self::IncompleteMigration => "incomplete_migration",
            Self::NotReady => "not_ready",
            Self::MoveRefused => "move_refused",
            Self::IncompleteImport => "incomplete_import",
            Self::Io => "io",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as a program reads it: its kind, for code to switch on, and its
/// message, for people. What the app's commands reject with (the page's
/// `ErrorReport`), and the fields of the `error` event of `download --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct ErrorReport {
    /// What kind of failure it is.
    pub kind: ErrorKind,
    /// What happened and what to do, in a sentence.
    pub message: String,
}

impl From<crate::Error> for ErrorReport {
    fn from(e: crate::Error) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl ErrorReport {
    /// A failure of the program itself (a task that panicked).
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_are_what_serde_writes() {
        for kind in [
            ErrorKind::InvalidRepoId,
            ErrorKind::DiskFull,
            ErrorKind::DamagedFiles,
            ErrorKind::IncompleteMigration,
            ErrorKind::NotReady,
            ErrorKind::MoveRefused,
            ErrorKind::IncompleteImport,
            ErrorKind::Internal,
        ] {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
        }
    }
}
