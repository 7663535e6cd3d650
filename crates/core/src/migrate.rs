//! Moving models from the old per-service folders into the standard cache,
//! without downloading them again (the refactoring plan's "Option B").
//!
//! Two old layouts live under the old data folder (`HAID_DATA_DIR`):
//! - `embedding/models/{org}/{model}/`: plain model folders, as
//!   `save_pretrained` writes them (module `folder`);
//! - `image-caption/{Org}--{model}/`: a private Hugging Face cache holding a
//!   standard `models--Org--model/` repo (module `hf_cache`).
//!
//! [`plan`] finds them and plans; [`run`] carries the plan out, model by
//! model. Safety rules: every byte is checked against its content hash before
//! it counts as migrated; a source file is removed only once its copy in the
//! cache verified; what does not verify stays where it was and is reported; a
//! journal in the cache lets a killed run finish on the next one.

mod detect;
pub(crate) mod files;
mod folder;
mod hf_cache;
mod journal;
mod run;
mod run_lock;

use std::path::PathBuf;

use serde::Serialize;
use ts_rs::TS;

use crate::cache::RepoId;

pub use detect::{plan, OldFolder};
pub use run::{run, MigrateEvent, MigrateOptions, MigrateSink};

/// Whether a migration into `cache_dir` was cut short (its journal is
/// there): moving that cache must wait until `migrate` finishes it.
pub(crate) fn journal_exists(cache_dir: &std::path::Path) -> bool {
    journal::Journal::path(cache_dir).exists()
}

/// Which old layout a model was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// A private Hugging Face cache (`image-caption/Org--model/models--Org--model`).
    HfCache,
    /// A plain model folder (`embedding/models/org/model`).
    Folder,
}

/// How the bytes get into the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Same file system: each file is renamed, no byte is copied.
    Move,
    /// Another file system: copied, checked, then the source removed.
    Copy,
}

/// One model to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PlanItem {
    /// The model.
    #[serde(flatten)]
    pub repo: RepoId,
    /// The old layout it is in.
    pub layout: Layout,
    /// The repo folder (private cache) or the model folder (plain).
    pub source: PathBuf,
    /// Its folder in the cache.
    pub target: PathBuf,
    /// What its files take.
    pub bytes: u64,
    /// How many files it has.
    pub files: usize,
    /// Whether its files are moved or copied.
    pub method: Method,
    /// The folder of the old layout that is removed once it is empty
    /// (`image-caption/Org--model`, or the model folder itself).
    #[serde(skip)]
    pub container: PathBuf,
}

/// What `migrate --dry-run` prints.
#[derive(Debug, Clone, Serialize, TS)]
pub struct MigrationPlan {
    /// The old data folder looked in.
    pub from: PathBuf,
    /// Whether it is a folder. Not, for the usual place on a machine that
    /// never had the old services: nothing to migrate ([`OldFolder::Usual`]).
    pub from_exists: bool,
    /// The cache the models go to.
    pub cache_dir: PathBuf,
    /// The models found, by id.
    pub models: Vec<PlanItem>,
    /// Folders of the old layouts that are not models we can migrate.
    pub warnings: Vec<crate::cache::ScanWarning>,
}

impl MigrationPlan {
    /// What the models take: the bytes to move or copy.
    pub fn bytes(&self) -> u64 {
        self.models.iter().map(|m| m.bytes).sum()
    }

    /// When there is no model to migrate, the sentence that says so and why.
    pub fn nothing_to_migrate(&self) -> Option<String> {
        if !self.models.is_empty() {
            return None;
        }
        Some(if self.from_exists {
            format!("Nothing to migrate under {}.", self.from.display())
        } else {
            format!(
                "Nothing to migrate: there is no old data folder at {} \
                 (HAID_DATA_DIR, else the platform's data folder; --from names another).",
                self.from.display()
            )
        })
    }
}

/// A file that was not migrated, and why. It stays in its old place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Problem {
    /// The file, in the old folder.
    pub path: PathBuf,
    /// Why it was not migrated.
    pub reason: String,
}

/// What happened to one model.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ModelOutcome {
    /// The model.
    #[serde(flatten)]
    pub repo: RepoId,
    /// The old layout it was in.
    pub layout: Layout,
    /// Whether its files were moved or copied.
    pub method: Method,
    /// The commit its snapshot is under (`refs/main`, unless the cache had one).
    pub commit: Option<String>,
    /// The commit is ours, made from the files' hashes: the hub was not asked.
    pub local_commit: bool,
    /// Every file was checked against the hub's listing.
    pub checked_with_hub: bool,
    /// Files now in the cache.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Files left in the source, with the reason.
    pub problems: Vec<Problem>,
    /// The source folder is gone (nothing was left behind).
    pub source_removed: bool,
    /// What the user should do next, if anything.
    pub advice: Option<String>,
}
