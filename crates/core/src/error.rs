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

    /// The hub (or a mirror, or a proxy) answered something we refuse to
    /// act on: a name that would become a path outside its place, a listing
    /// that cannot be true, a body that disagrees with the listing.
    #[error("the hub at {endpoint} sent an invalid {what} {value} for {repo}: {reason}. Nothing was written for it; the server may be misconfigured or hostile: check HF_ENDPOINT, or the hub in the app's settings")]
    InvalidResponse {
        endpoint: String,
        repo: String,
        what: &'static str,
        /// The value as `{:?}` shows it, shortened.
        value: String,
        reason: String,
    },

    #[error("{repo} needs a token, and yours was not sent: {endpoint} is plain http to another machine, where anyone on the way can read it. Use an https endpoint, or set HAID_ALLOW_HTTP_TOKEN=1 to send the token over http anyway")]
    TokenWithheld { repo: String, endpoint: String },

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

    /// A delete removed part of a repo and not the rest (a permission, an
    /// immutable file): what is left stays in its `.trash-…` folder, which
    /// `scan` and `list` show with its size until it is gone.
    #[error("{what} was not deleted completely: {cause}. {left} are still on disk in {} (scan and list show it); fix the permission there (or the immutable flag: `chattr -i`), then {again}", trash.display())]
    DeleteUnfinished {
        what: String,
        trash: PathBuf,
        /// The size left, for people (`1.2 GB`).
        left: String,
        cause: String,
        /// The command that finishes it.
        again: String,
    },

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
            Error::InvalidResponse { .. } => "invalid_response",
            Error::TokenWithheld { .. } => "auth",
            Error::NotFound { .. } => "not_found",
            Error::Network { .. } => "network",
            Error::Checksum { .. } => "checksum",
            Error::DiskFull { .. } | Error::DiskFullMidway { .. } => "disk_full",
            Error::Cancelled { .. } => "cancelled",
            Error::Busy { .. } => "busy",
            Error::DeleteUnfinished { .. } => "delete_unfinished",
            Error::Io { .. } => "io",
        }
    }

    /// A refused hub answer; `value` is shown quoted and cut to 80 characters.
    pub fn invalid_response(
        endpoint: &str,
        repo: &str,
        what: &'static str,
        value: &str,
        reason: impl Into<String>,
    ) -> Self {
        const SHOWN: usize = 80;
        let value = if value.chars().count() > SHOWN {
            let cut: String = value.chars().take(SHOWN).collect();
            format!("{cut:?}… ({} bytes)", value.len())
        } else {
            format!("{value:?}")
        };
        Error::InvalidResponse {
            endpoint: endpoint.to_owned(),
            repo: repo.to_owned(),
            what,
            value,
            reason: reason.into(),
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
