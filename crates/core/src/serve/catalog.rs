//! What `serve` may answer with: the complete, verified snapshots of the
//! cache. A repo's revision is found as the cache knows it (a ref, or a
//! full commit hash), checked to be whole (every file of its listing there)
//! and verified once (every blob hashed against its name) before its first
//! file is served; the verdict is kept for the commit. Anything else is the
//! hub's 404 with its error code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::Response;

use super::protocol::{hub_error, FileInfo};
use crate::cache::blob_hash::{BlobHashKind, BlobHasher};
use crate::cache::scan::{canonical_root, scan_repo};
use crate::cache::snapshot::snapshot_files;
use crate::cache::tree::TreeListing;
use crate::cache::verify::verify_local;
use crate::cache::{CommitHash, RefName, RepoId};
use crate::migrate::files::hash_file;

/// One commit of a repo, ready to serve.
#[derive(Debug)]
pub struct Served {
    /// The repo's id.
    pub id: String,
    /// The commit.
    pub commit: String,
    /// Its files, sorted by path.
    pub files: Vec<FileInfo>,
    /// Where each file's bytes are, by path.
    pub sources: HashMap<String, PathBuf>,
}

/// The cache, as `serve` sees it.
#[derive(Debug)]
pub struct Catalog {
    cache_dir: PathBuf,
    verified: Mutex<HashMap<(String, String), Arc<Served>>>,
}

/// A refusal: the whole answer.
pub type Refusal = Box<Response>;

impl Catalog {
    /// The catalog of `cache_dir`; nothing is read until a request comes.
    pub fn new(cache_dir: &Path) -> Self {
        Self {
            cache_dir: cache_dir.to_owned(),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The commit `rev` names in the repo `id`, whole and verified.
    /// Blocking: the first call for a commit hashes its files.
    pub fn open(&self, id: &str, rev: &str) -> Result<Arc<Served>, Refusal> {
        let not_found = || {
            Box::new(hub_error(
                StatusCode::NOT_FOUND,
                "RepoNotFound",
                "Repository not found",
            ))
        };
        let repo = RepoId::model(id).map_err(|_| not_found())?;
        let bad_rev = || {
            Box::new(hub_error(
                StatusCode::NOT_FOUND,
                "RevisionNotFound",
                &format!("Invalid rev id: {rev}"),
            ))
        };
        let rev = RefName::parse(rev).map_err(|_| bad_rev())?;
        let root = canonical_root(&self.cache_dir)
            .ok()
            .flatten()
            .ok_or_else(not_found)?;
        let scan = scan_repo(&root, &repo)
            .ok()
            .flatten()
            .ok_or_else(not_found)?;
        let commit = match rev.as_commit() {
            Some(c) => c.to_string(),
            None => scan
                .repo
                .refs
                .get(rev.as_str())
                .cloned()
                .ok_or_else(bad_rev)?,
        };
        if CommitHash::parse(&commit).is_err()
            || !scan.repo.revisions.iter().any(|r| r.commit_hash == commit)
        {
            return Err(bad_rev());
        }
        let key = (repo.folder_name(), commit.clone());
        if let Some(served) = self.verified.lock().ok().and_then(|v| v.get(&key).cloned()) {
            return Ok(served);
        }
        let served =
            Arc::new(
                self.check(&root, &repo, &scan.repo.repo_path, &commit)
                    .map_err(|why| {
                        Box::new(hub_error(
                StatusCode::NOT_FOUND,
                "RevisionNotFound",
                &format!("{rev} of {repo} is not whole in this cache ({why}); it is not served"),
            ))
                    })?,
            );
        if let Ok(mut v) = self.verified.lock() {
            v.insert(key, served.clone());
        }
        Ok(served)
    }

    /// Whole (every file of its listing there) and verified (every blob
    /// matches its name); the files as the hub describes them.
    fn check(
        &self,
        root: &Path,
        repo: &RepoId,
        repo_path: &Path,
        commit: &str,
    ) -> Result<Served, String> {
        let report =
            verify_local(&self.cache_dir, repo, Some(commit)).map_err(|e| e.to_string())?;
        if !report.ok {
            return Err("damaged or missing files".into());
        }
        let dir = dunce::canonicalize(repo_path).map_err(|e| e.to_string())?;
        let listing = TreeListing::entries(&TreeListing::dir(&dir), commit);
        let present = snapshot_files(root, &dir.join("snapshots").join(commit));
        if let Some(listing) = &listing {
            if listing
                .keys()
                .any(|p| !present.iter().any(|f| &f.path == p))
            {
                return Err("some files are missing".into());
            }
        }
        let mut files = Vec::new();
        let mut sources = HashMap::new();
        for f in present {
            let size = f.size.ok_or("a file is missing")?;
            let known = listing.as_ref().and_then(|l| l.get(&f.path));
            let etag = f.etag();
            let is_blob = f.blob != f.entry;
            let (blob_id, lfs_sha256) = match (known, is_blob, BlobHashKind::of_etag(&etag)) {
                (Some(e), _, _) => (e.blob_id.clone(), e.lfs_sha256.clone()),
                (None, true, Some(BlobHashKind::Sha256)) => (pointer_id(&etag, size), Some(etag)),
                (None, true, _) => (etag, None),
                // A plain file (the no-symlink layout) with no listing: its git id.
                (None, false, _) => (
                    hash_file(&f.blob, BlobHashKind::GitSha1).map_err(|e| e.to_string())?,
                    None,
                ),
            };
            sources.insert(f.path.clone(), f.content().to_owned());
            files.push(FileInfo {
                path: f.path,
                size,
                blob_id,
                lfs_sha256,
            });
        }
        if files.is_empty() {
            return Err("no file".into());
        }
        Ok(Served {
            id: repo.id(),
            commit: commit.to_owned(),
            files,
            sources,
        })
    }
}

/// The git blob id of the LFS pointer git stores for a file of `size`
/// with content sha256 `oid`: what the hub lists as such a file's `oid`.
fn pointer_id(oid: &str, size: u64) -> String {
    let pointer =
        format!("version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n");
    let mut h = BlobHasher::new(BlobHashKind::GitSha1, pointer.len() as u64);
    h.update(pointer.as_bytes());
    h.finish_hex()
}
