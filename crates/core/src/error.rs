//! The one error type of the core. Every message says what went wrong and what to do.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid repo id {id:?}: {reason}")]
    InvalidRepoId { id: String, reason: String },

    #[error("{}:{line}:{column}: {message}", path.display())]
    Manifest {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("settings file {}: {message}. Fix the file or delete it to go back to the defaults.", path.display())]
    Settings { path: PathBuf, message: String },

    #[error("{}: {message}", path.display())]
    CacheDir { path: PathBuf, message: String },

    #[error("no model type {name:?} in the manifest; known types: {known}")]
    UnknownModelType { name: String, known: String },

    #[error("invalid {what} {value:?}: {reason}")]
    InvalidArgument {
        what: &'static str,
        value: String,
        reason: String,
    },

    #[error(
        "HF_HUB_OFFLINE is set, so downloads are off; unset it (or set it to 0) to download {repo}"
    )]
    Offline { repo: String },

    #[error("{repo} is gated or private and {reason}: set HF_TOKEN to a token with access (https://huggingface.co/settings/tokens) or run `hf auth login`, and accept the model's terms on its page")]
    Auth { repo: String, reason: String },

    #[error("not found: {what}")]
    NotFound { what: String },

    #[error("download of {repo} failed: {message}")]
    Network { repo: String, message: String },

    #[error("{path} does not match its checksum even after a fresh download (expected {expected}, got {actual}); the server sent bad data, try again later or another endpoint")]
    Checksum {
        path: String,
        expected: String,
        actual: String,
    },

    #[error("not enough disk space in {}: {needed} bytes still to download, {available} free; free up space or move the cache (HF_HOME)", dir.display())]
    DiskFull {
        dir: PathBuf,
        needed: u64,
        available: u64,
    },

    #[error("the disk is full while writing {}; what was downloaded is kept: free up space and run the same download again to resume", path.display())]
    DiskFullMidway { path: PathBuf },

    #[error("download of {repo} was cancelled; what was downloaded is kept and the next download resumes it")]
    Cancelled { repo: String },

    /// Someone else is doing the same thing right now.
    #[error("{message}")]
    Busy { message: String },

    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A stable, machine-readable name for the kind of error (the desktop UI and
    /// scripts switch on it; the message is for people).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidRepoId { .. } => "invalid_repo_id",
            Error::Manifest { .. } => "manifest",
            Error::Settings { .. } => "settings",
            Error::CacheDir { .. } => "cache_dir",
            Error::UnknownModelType { .. } => "unknown_model_type",
            Error::InvalidArgument { .. } => "invalid_argument",
            Error::Offline { .. } => "offline",
            Error::Auth { .. } => "auth",
            Error::NotFound { .. } => "not_found",
            Error::Network { .. } => "network",
            Error::Checksum { .. } => "checksum",
            Error::DiskFull { .. } | Error::DiskFullMidway { .. } => "disk_full",
            Error::Cancelled { .. } => "cancelled",
            Error::Busy { .. } => "busy",
            Error::Io { .. } => "io",
        }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
