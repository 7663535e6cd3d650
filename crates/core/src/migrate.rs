//! Moving models from the old per-service folders into the standard cache,
//! without downloading them again (the refactoring plan's "Option B").
//!
//! Two old layouts live under the old data folder (`HAID_DATA_DIR`):
//! - `embedding/models/{org}/{model}/`: plain model folders, as
//!   `save_pretrained` writes them ([`folder`]);
//! - `image-caption/{Org}--{model}/`: a private Hugging Face cache holding a
//!   standard `models--Org--model/` repo ([`hf_cache`]).
//!
//! [`detect`] finds them and plans; [`run`] carries the plan out, model by
//! model. Safety rules: every byte is checked against its content hash before
//! it counts as migrated; a source file is removed only once its copy in the
//! cache verified; what does not verify stays where it was and is reported; a
//! journal in the cache lets a killed run finish on the next one.

mod detect;
mod files;
mod folder;
mod hf_cache;
mod journal;
mod run;
mod run_lock;

use std::path::PathBuf;

use serde::Serialize;

use crate::cache::RepoId;

pub use detect::detect;
pub use run::{run, MigrateEvent, MigrateOptions, MigrateSink};

/// Which old layout a model was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// A private Hugging Face cache (`image-caption/Org--model/models--Org--model`).
    HfCache,
    /// A plain model folder (`embedding/models/org/model`).
    Folder,
}

/// How the bytes get into the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Same file system: each file is renamed, no byte is copied.
    Move,
    /// Another file system: copied, checked, then the source removed.
    Copy,
}

/// One model to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanItem {
    #[serde(flatten)]
    pub repo: RepoId,
    pub layout: Layout,
    /// The repo folder (private cache) or the model folder (plain).
    pub source: PathBuf,
    /// Its folder in the cache.
    pub target: PathBuf,
    pub bytes: u64,
    pub files: usize,
    pub method: Method,
    /// The folder of the old layout that is removed once it is empty
    /// (`image-caption/Org--model`, or the model folder itself).
    #[serde(skip)]
    pub container: PathBuf,
}

/// What `migrate --dry-run` prints.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationPlan {
    pub from: PathBuf,
    pub cache_dir: PathBuf,
    pub models: Vec<PlanItem>,
    /// Folders of the old layouts that are not models we can migrate.
    pub warnings: Vec<crate::cache::ScanWarning>,
}

impl MigrationPlan {
    pub fn bytes(&self) -> u64 {
        self.models.iter().map(|m| m.bytes).sum()
    }
}

/// A file that was not migrated, and why. It stays in its old place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: PathBuf,
    pub reason: String,
}

/// What happened to one model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelOutcome {
    #[serde(flatten)]
    pub repo: RepoId,
    pub layout: Layout,
    pub method: Method,
    /// The commit its snapshot is under (`refs/main`, unless the cache had one).
    pub commit: Option<String>,
    /// The commit is ours, made from the files' hashes: the hub was not asked.
    pub local_commit: bool,
    /// Every file was checked against the hub's listing.
    pub checked_with_hub: bool,
    pub files: usize,
    pub bytes: u64,
    /// Files left in the source, with the reason.
    pub problems: Vec<Problem>,
    /// The source folder is gone (nothing was left behind).
    pub source_removed: bool,
    /// What the user should do next, if anything.
    pub advice: Option<String>,
}
