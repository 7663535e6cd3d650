//! What a scan finds: the shapes of `haid-models scan --json` (DESIGN.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use ts_rs::TS;

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
    /// The folders are there but no snapshot holds a file and no download is
    /// unfinished (what a killed migration leaves): not a model anyone can
    /// load, so the model list shows it as not downloaded.
    Empty,
    /// Something no download explains: a dangling pointer, no snapshots, a ref
    /// to a commit that is not there. Never hidden; listed with a warning.
    Corrupt,
}

impl RepoState {
    /// The name, as `scan --json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Partial => "partial",
            Self::Empty => "empty",
            Self::Corrupt => "corrupt",
        }
    }
}

/// Something odd found while scanning; the scan goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ScanWarning {
    /// The file or folder it is about.
    pub path: PathBuf,
    /// What is odd, and what to do about it.
    pub message: String,
}

/// A ref that names no commit of the cache: garbage bytes, an unreadable
/// file, or a commit with no snapshot that no download explains. Which
/// revision it meant is unknown, so while one exists every revision of the
/// repo counts as reachable ([`CachedRepo::is_reachable`]): prune removes
/// none of them, verify fails, and the repo is corrupt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenRef {
    /// `main`, `refs/pr/1`; for a folder of `refs/` that cannot be read, its name.
    pub name: String,
    /// The ref's file (`refs/main`).
    pub path: PathBuf,
    /// What is wrong, e.g. `holds "garbage", which is not a commit hash`.
    pub problem: String,
}

impl BrokenRef {
    /// The ref, what is wrong, and what to do: for warnings, prune and verify.
    pub fn describe(&self, repo: &RepoId) -> String {
        let (what, fix) = match self.name.as_str() {
            "" => ("refs/".to_owned(), "fix refs/".to_owned()),
            name => (
                format!("ref {name:?}"),
                format!("fix or delete refs/{name}"),
            ),
        };
        format!(
            "{what} {}; {fix}, or `haid-models delete {}`",
            self.problem,
            repo.id()
        )
    }
}

/// One `snapshots/<commit>` folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CachedRevision {
    /// The commit this snapshot is of.
    pub commit_hash: String,
    /// The refs that point here, sorted; empty for a detached revision.
    pub refs: Vec<String>,
    /// Each blob counted once, as `huggingface_hub` does.
    pub size_on_disk: u64,
    /// Files in the snapshot.
    pub nb_files: usize,
    /// Newest modification time of its blobs, else of the folder (Unix seconds).
    pub last_modified: i64,
    /// The folder to load the model from.
    pub snapshot_path: PathBuf,
    /// Files the tree listing names that are not in the snapshot (0 without a listing).
    pub nb_missing_files: usize,
}

/// One `models--org--name` folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CachedRepo {
    /// Which repo this is.
    #[serde(flatten)]
    pub repo: RepoId,
    /// Its folder in the cache.
    pub repo_path: PathBuf,
    /// Its health.
    pub state: RepoState,
    /// Finished blobs, each counted once, as `huggingface_hub` does.
    pub size_on_disk: u64,
    /// Its blobs: a file shared by revisions counts once, as `huggingface_hub` counts.
    pub nb_files: usize,
    /// Unfinished downloads (`.incomplete` blobs).
    pub incomplete_size_on_disk: u64,
    /// Newest access time of its blobs, else of its folder (Unix seconds).
    pub last_accessed: i64,
    /// Newest modification time of its blobs, else of its folder (Unix seconds).
    pub last_modified: i64,
    /// Ref name → commit, for the refs that hold a commit.
    pub refs: BTreeMap<String, String>,
    /// Refs that hold none, or name a commit that is not there.
    pub broken_refs: Vec<BrokenRef>,
    /// Its snapshots, by commit hash.
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

    /// The one notion of "still needed" that prune, verify and list share:
    /// a ref points to `revision`, or the refs are not all sound — one is
    /// broken (any revision may be the one it meant), or one names a commit
    /// whose snapshot is not there yet (a download that has not finished:
    /// until it has, the revisions it replaces are the only usable copy).
    /// huggingface_hub skips such repos too, so its prune leaves them alone.
    pub fn is_reachable(&self, revision: &CachedRevision) -> bool {
        !revision.refs.is_empty() || !self.refs_resolve()
    }

    /// Every ref holds a commit whose snapshot is there.
    pub fn refs_resolve(&self) -> bool {
        self.broken_refs.is_empty() && self.unresolved_refs().next().is_none()
    }

    /// Refs (name, commit) that name a commit with no snapshot: a download
    /// that has not placed a file yet (the repo is `partial`), or damage
    /// (then also in `broken_refs`).
    pub fn unresolved_refs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.refs
            .iter()
            .filter(|(_, commit)| !self.revisions.iter().any(|r| &r.commit_hash == *commit))
            .map(|(name, commit)| (name.as_str(), commit.as_str()))
    }

    /// Revisions no ref reaches: what prune may remove. None while the refs
    /// do not all resolve.
    pub fn detached_revisions(&self) -> impl Iterator<Item = &CachedRevision> {
        self.revisions.iter().filter(|r| !self.is_reachable(r))
    }

    /// Bytes this repo takes, finished blobs and unfinished downloads together.
    pub fn total_size_on_disk(&self) -> u64 {
        self.size_on_disk + self.incomplete_size_on_disk
    }
}

/// What a delete that could not finish left in a `.trash-…` folder: still on
/// disk, so shown until `delete` (again) or `prune` removes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrashLeft {
    /// The `.trash-…` folder.
    pub path: PathBuf,
    /// The repo folder it was, e.g. `models--org--name`.
    pub folder: String,
    /// What is still in it.
    pub size_on_disk: u64,
}

/// The whole cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheReport {
    /// The folder scanned.
    pub cache_dir: PathBuf,
    /// Physical size of the finished blobs: a blob shared by several repos
    /// (hard link or shared store) counts once.
    pub size_on_disk: u64,
    /// Unfinished downloads in every repo.
    pub incomplete_size_on_disk: u64,
    /// Sorted by type, then id.
    pub repos: Vec<CachedRepo>,
    /// Left by deletes that could not finish; not part of `size_on_disk`
    /// (huggingface_hub does not count it either), but on disk all the same.
    pub trash: Vec<TrashLeft>,
    /// What [`CacheReport::trash`] takes.
    pub trash_size_on_disk: u64,
    /// Everything odd found, in every repo (the scan went on).
    pub warnings: Vec<ScanWarning>,
}

impl CacheReport {
    /// The repo with exactly this id (and type), if it is cached.
    pub fn find(&self, id: &RepoId) -> Option<&CachedRepo> {
        self.repos.iter().find(|r| &r.repo == id)
    }
}
