//! The one error type of the core. Every message says what went wrong and what to do.

use std::path::PathBuf;

pub use crate::error_kind::{ErrorKind, ErrorReport};

/// A result whose error is the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the core can fail with. Each message says what went wrong and
/// what to do; [`Error::kind`] says which kind it is, for programs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A repo id that is not `org/name` (or a bare name) of safe parts.
    #[error("invalid repo id {id:?}: {reason}")]
    InvalidRepoId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A manifest that does not parse or breaks its rules.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// Where in it (1-based).
        line: usize,
        /// Where in the line (1-based).
        column: usize,
        /// What is wrong there.
        message: String,
    },

    /// A settings file that cannot be read, does not parse or holds a bad value.
    #[error("settings file {}: {message}. Fix the file or delete it to go back to the defaults.", path.display())]
    Settings {
        /// The settings file.
        path: PathBuf,
        /// What is wrong, and with which key.
        message: String,
    },

    /// A cache folder that cannot be used (a file, say).
    #[error("{}: {message}", path.display())]
    CacheDir {
        /// The cache folder.
        path: PathBuf,
        /// What is wrong, and what to point at instead.
        message: String,
    },

    /// `--type` names no type of the manifest.
    #[error("no model type {name:?} in the manifest; known types: {known}")]
    UnknownModelType {
        /// The type asked for.
        name: String,
        /// The manifest's types, comma-separated.
        known: String,
    },

    /// A bad argument or setting: a revision, a glob, an endpoint, a path.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidArgument {
        /// What the value is for (`revision`, `endpoint`).
        what: &'static str,
        /// The value as given.
        value: String,
        /// Why it is refused, and what would be accepted.
        reason: String,
    },

    /// A download asked for while `HF_HUB_OFFLINE` is set.
    #[error(
        "HF_HUB_OFFLINE is set, so downloads are off; unset it (or set it to 0) to download {repo}"
    )]
    Offline {
        /// The model that was to be downloaded.
        repo: String,
    },

    /// A gated or private model, and no token (or one without access).
    #[error("{repo} is gated or private and {reason}: set HF_TOKEN to a token with access (https://huggingface.co/settings/tokens) or run `hf auth login`, and accept the model's terms on its page")]
    Auth {
        /// The model.
        repo: String,
        /// What the hub said: no token, or a token without access.
        reason: String,
    },

    /// The hub (or a mirror, or a proxy) answered something we refuse to
    /// act on: a name that would become a path outside its place, a listing
    /// that cannot be true, a body that disagrees with the listing.
    #[error("the hub at {endpoint} sent an invalid {what} {value} for {repo}: {reason}. Nothing was written for it; the server may be misconfigured or hostile: check HF_ENDPOINT, or the hub in the app's settings")]
    InvalidResponse {
        /// The hub's URL.
        endpoint: String,
        /// The model asked about.
        repo: String,
        /// What the refused value was to be (`commit`, `file path`).
        what: &'static str,
        /// The value as `{:?}` shows it, shortened.
        value: String,
        /// Why it is refused.
        reason: String,
    },

    /// A token kept back: it would travel in clear text to another machine.
    #[error("{repo} needs a token, and yours was not sent: {endpoint} is plain http to another machine, where anyone on the way can read it. Use an https endpoint, or set HAID_ALLOW_HTTP_TOKEN=1 to send the token over http anyway")]
    TokenWithheld {
        /// The model that needs the token.
        repo: String,
        /// The plain-http hub it would go to.
        endpoint: String,
    },

    /// No such repo, revision, file or cached model.
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for, and where.
        what: String,
    },

    /// The network or the hub failed, after every retry.
    #[error("download of {repo} failed: {message}")]
    Network {
        /// The model being downloaded.
        repo: String,
        /// The last failure, and what to do.
        message: String,
    },

    /// A file whose bytes do not match its hash, twice: the server sends bad data.
    #[error("{path} does not match its checksum even after a fresh download (expected {expected}, got {actual}); the server sent bad data, try again later or another endpoint")]
    Checksum {
        /// The file in the repo.
        path: String,
        /// Its etag: the hash its content should have.
        expected: String,
        /// The hash the downloaded bytes have.
        actual: String,
    },

    /// Not enough free space for what is left to download: refused before it starts.
    #[error("not enough disk space in {}: {needed} bytes still to download, {available} free; free up space or move the cache (HF_HOME)", dir.display())]
    DiskFull {
        /// The cache folder.
        dir: PathBuf,
        /// Bytes still to download.
        needed: u64,
        /// Bytes free there.
        available: u64,
    },

    /// The disk filled while a file was being written.
    #[error("the disk is full while writing {}; what was downloaded is kept: free up space and run the same download again to resume", path.display())]
    DiskFullMidway {
        /// The file being written when the disk filled.
        path: PathBuf,
    },

    /// A download stopped on purpose (Ctrl-C, Cancel, Pause all).
    #[error("download of {repo} was cancelled; what was downloaded is kept and the next download resumes it")]
    Cancelled {
        /// The model whose download stopped.
        repo: String,
    },

    /// Someone else is doing the same thing right now.
    #[error("{message}")]
    Busy {
        /// Who is busy with what, and what to do.
        message: String,
    },

    /// A delete removed part of a repo and not the rest (a permission, an
    /// immutable file): what is left stays in its `.trash-…` folder, which
    /// `scan` and `list` show with its size until it is gone. Boxed: its
    /// five fields would make every `Result` of the core this big (on
    /// Windows a path is 32 bytes, and clippy's `result_large_err` says so).
    #[error(transparent)]
    DeleteUnfinished(Box<UnfinishedDelete>),

    /// `verify` found files that do not match their names, are missing, or
    /// a revision that cannot be checked.
    #[error("{repo} is damaged: {reason}")]
    Damaged {
        /// The model.
        repo: String,
        /// What is damaged or missing, and what to do.
        reason: String,
    },

    /// `sync` (or `sync --check`) found manifest models that are not whole.
    #[error("{count} of the manifest's models {verb} not ready: {names}")]
    NotReady {
        /// How many.
        count: usize,
        /// `is` or `are`.
        verb: &'static str,
        /// Their ids, each with why.
        names: String,
    },

    /// `migrate` left files in the old folder.
    #[error("the migration from {} is incomplete: {reason}", from.display())]
    MigrationIncomplete {
        /// The old data folder, where the files still are.
        from: PathBuf,
        /// What was left, and why.
        reason: String,
    },

    /// A move of the cache refused before anything changed: DEST inside the
    /// cache, DEST not empty and no cache, the place forced by a variable.
    #[error("cannot move the cache to {}: {reason}. Nothing was changed.", to.display())]
    MoveRefused {
        /// Where the cache was to go.
        to: PathBuf,
        /// Why not, and what to do.
        reason: String,
    },

    /// An import that refused entries or skipped damaged blobs; the rest
    /// was imported.
    #[error("the import of {} is incomplete: {refused} entries refused, {damaged} damaged files skipped (listed above); everything else was imported", file.display())]
    ImportIncomplete {
        /// The archive.
        file: PathBuf,
        /// Entries outside the layout or of a kind no cache holds.
        refused: usize,
        /// Blobs whose bytes did not match their name.
        damaged: usize,
    },

    /// A rename that Windows kept refusing because another program holds
    /// the file open (it was retried a few times first).
    #[error("cannot replace {}: another program holds it open ({source}). Windows refuses to replace a file in use: close the program that uses it (a loaded model, an antivirus scan), then run the same command again", path.display())]
    InUse {
        /// The file that could not be replaced (or moved).
        path: PathBuf,
        /// What the system said the last time.
        #[source]
        source: std::io::Error,
    },

    /// A file system error, with what we were doing and where.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What we were doing (`read`, `create`).
        action: &'static str,
        /// The file or folder it was done to.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// What kind of error this is, for the desktop UI and scripts to switch
    /// on (the message is for people).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidRepoId { .. } => ErrorKind::InvalidRepoId,
            Error::Manifest { .. } => ErrorKind::Manifest,
            Error::Settings { .. } => ErrorKind::Settings,
            Error::CacheDir { .. } => ErrorKind::CacheDir,
            Error::UnknownModelType { .. } => ErrorKind::UnknownModelType,
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::Offline { .. } => ErrorKind::Offline,
            Error::Auth { .. } | Error::TokenWithheld { .. } => ErrorKind::Auth,
            Error::InvalidResponse { .. } => ErrorKind::InvalidResponse,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Network { .. } => ErrorKind::Network,
            Error::Checksum { .. } => ErrorKind::Checksum,
            Error::DiskFull { .. } | Error::DiskFullMidway { .. } => ErrorKind::DiskFull,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
            Error::Busy { .. } | Error::InUse { .. } => ErrorKind::Busy,
            Error::DeleteUnfinished(_) => ErrorKind::DeleteUnfinished,
            Error::Damaged { .. } => ErrorKind::DamagedFiles,
            Error::MigrationIncomplete { .. } => ErrorKind::IncompleteMigration,
            Error::NotReady { .. } => ErrorKind::NotReady,
            Error::MoveRefused { .. } => ErrorKind::MoveRefused,
            Error::ImportIncomplete { .. } => ErrorKind::IncompleteImport,
            Error::Io { .. } => ErrorKind::Io,
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

    /// A file system error: `action` (`read`, `create`) on `path` failed.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// What [`Error::DeleteUnfinished`] says: what is left of a delete, where,
/// and how to finish it.
#[derive(Debug, thiserror::Error)]
#[error("{what} was not deleted completely: {cause}. {left} are still on disk in {} (scan and list show it); fix the permission there (or the immutable flag: `chattr -i`), then {again}", trash.display())]
pub struct UnfinishedDelete {
    /// The repo (or revisions) being deleted.
    pub what: String,
    /// The `.trash-…` folder that holds what is left.
    pub trash: PathBuf,
    /// The size left, for people (`1.2 GB`).
    pub left: String,
    /// Why the rest could not be removed.
    pub cause: String,
    /// The command that finishes it.
    pub again: String,
}
