//! What a scan finds: the shapes of `haid-models scan --json` (DESIGN.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::repo::RepoId;

/// The health of a cached repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoState {
    /// Every snapshot has all its files and no download is unfinished.
    Complete,
    /// A download was interrupted or is running: `.incomplete` blobs, or a
    /// snapshot missing files its tree listing names.
    Partial,
    /// Something no download explains: a dangling pointer, no snapshots, a ref
    /// to a commit that is not there. Never hidden; listed with a warning.
    Corrupt,
}

impl RepoState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Partial => "partial",
            Self::Corrupt => "corrupt",
        }
    }
}

/// Something odd found while scanning; the scan goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanWarning {
    pub path: PathBuf,
    pub message: String,
}

/// One `snapshots/<commit>` folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CachedRevision {
    pub commit_hash: String,
    /// The refs that point here, sorted; empty for a detached revision.
    pub refs: Vec<String>,
    /// Each blob counted once, as `huggingface_hub` does.
    pub size_on_disk: u64,
    pub nb_files: usize,
    pub last_modified: i64,
    pub snapshot_path: PathBuf,
    /// Files the tree listing names that are not in the snapshot (0 without a listing).
    pub nb_missing_files: usize,
}

/// One `models--org--name` folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CachedRepo {
    #[serde(flatten)]
    pub repo: RepoId,
    pub repo_path: PathBuf,
    pub state: RepoState,
    pub size_on_disk: u64,
    pub nb_files: usize,
    pub incomplete_size_on_disk: u64,
    pub last_accessed: i64,
    pub last_modified: i64,
    pub refs: BTreeMap<String, String>,
    pub revisions: Vec<CachedRevision>,
}

impl CachedRepo {
    /// The revision a user means by "the model": the one `main` points to, else
    /// the newest one.
    pub fn current_revision(&self) -> Option<&CachedRevision> {
        let main = self.refs.get("main");
        self.revisions
            .iter()
            .find(|r| Some(&r.commit_hash) == main)
            .or_else(|| self.revisions.iter().max_by_key(|r| r.last_modified))
    }

    /// Bytes this repo takes, finished blobs and unfinished downloads together.
    pub fn total_size_on_disk(&self) -> u64 {
        self.size_on_disk + self.incomplete_size_on_disk
    }
}

/// The whole cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheReport {
    pub cache_dir: PathBuf,
    /// Physical size of the finished blobs: a blob shared by several repos
    /// (hard link or shared store) counts once.
    pub size_on_disk: u64,
    pub incomplete_size_on_disk: u64,
    /// Sorted by type, then id.
    pub repos: Vec<CachedRepo>,
    pub warnings: Vec<ScanWarning>,
}

impl CacheReport {
    pub fn find(&self, id: &RepoId) -> Option<&CachedRepo> {
        self.repos.iter().find(|r| &r.repo == id)
    }
}
