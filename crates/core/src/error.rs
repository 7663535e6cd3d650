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
            Error::Io { .. } => "io",
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
