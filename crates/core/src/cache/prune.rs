//! Prune: what no one needs any more — detached revisions (no ref points to
//! them), blobs no snapshot or listing names, and `.incomplete` files whose
//! download is not running. Repos being downloaded are left alone.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::delete::{execute_delete, plan_delete, DeletePlan};
use super::repo::RepoId;
use super::repo_scan::INCOMPLETE_SUFFIX;
use super::report::{CachedRepo, ScanWarning};
use super::safe_fs::remove_inside;
use super::scan::{canonical_root, scan_cache};
use super::snapshot::snapshot_files;
use super::tree::TreeListing;
use crate::download::lock;
use crate::error::Result;

/// What a prune will remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrunePlan {
    /// Detached revisions, per repo (each as a delete plan).
    pub revisions: Vec<DeletePlan>,
    /// Blobs that no snapshot and no listing names.
    pub orphan_blobs: Vec<PathBuf>,
    /// Unfinished downloads that nothing is writing.
    pub incomplete: Vec<PathBuf>,
    /// Every path that goes.
    pub deleted: Vec<PathBuf>,
    pub freed_bytes: u64,
    /// What was left alone, and why.
    pub skipped: Vec<ScanWarning>,
}

pub fn plan_prune(cache_dir: &Path) -> Result<PrunePlan> {
    let mut plan = PrunePlan {
        revisions: Vec::new(),
        orphan_blobs: Vec::new(),
        incomplete: Vec::new(),
        deleted: Vec::new(),
        freed_bytes: 0,
        skipped: Vec::new(),
    };
    let Some(root) = canonical_root(cache_dir)? else {
        return Ok(plan);
    };
    for repo in scan_cache(&root)?.repos {
        if lock::is_downloading(&root, &repo.repo) {
            plan.skipped.push(ScanWarning {
                path: repo.repo_path.clone(),
                message: "a download is running into it; left alone".into(),
            });
            continue;
        }
        plan_repo(&root, &repo, &mut plan)?;
    }
    plan.deleted = plan
        .revisions
        .iter()
        .flat_map(|p| p.deleted.iter().cloned())
        .chain(plan.orphan_blobs.iter().cloned())
        .chain(plan.incomplete.iter().cloned())
        .collect();
    Ok(plan)
}

fn plan_repo(root: &Path, repo: &CachedRepo, plan: &mut PrunePlan) -> Result<()> {
    let detached: Vec<String> = repo
        .revisions
        .iter()
        .filter(|r| r.refs.is_empty())
        .map(|r| r.commit_hash.clone())
        .collect();
    if !detached.is_empty() {
        let revisions = plan_delete(root, &repo.repo, &detached)?;
        plan.freed_bytes += revisions.freed_bytes;
        let whole = revisions.whole_repo;
        plan.revisions.push(revisions);
        if whole {
            return Ok(()); // its orphans and partial files go with it
        }
    }
    let needed = needed_blobs(root, repo);
    let Ok(entries) = fs::read_dir(repo.repo_path.join("blobs")) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        // Only regular files: a symlink in blobs/ is not ours to judge.
        if !meta.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(etag) = name.strip_suffix(INCOMPLETE_SUFFIX) {
            if lock_is_free(root, repo, etag) {
                plan.freed_bytes += meta.len();
                plan.incomplete.push(path);
            } else {
                plan.skipped.push(ScanWarning {
                    path,
                    message: "being downloaded; left alone".into(),
                });
            }
        } else if !needed.contains(&path) {
            plan.freed_bytes += meta.len();
            plan.orphan_blobs.push(path);
        }
    }
    Ok(())
}

/// Blobs some snapshot points to, and the blobs the listings of its commits
/// name (a download that stopped before linking its files still needs them).
fn needed_blobs(root: &Path, repo: &CachedRepo) -> BTreeSet<PathBuf> {
    let mut needed: BTreeSet<PathBuf> = repo
        .revisions
        .iter()
        .flat_map(|r| snapshot_files(root, &r.snapshot_path))
        .map(|f| f.blob)
        .collect();
    let trees = TreeListing::dir(&repo.repo_path);
    let commits = repo
        .refs
        .values()
        .chain(repo.revisions.iter().map(|r| &r.commit_hash));
    for commit in commits {
        if let Some(etags) = TreeListing::etags(&trees, commit) {
            needed.extend(
                etags
                    .into_iter()
                    .map(|e| repo.repo_path.join("blobs").join(e)),
            );
        }
    }
    needed
}

fn lock_is_free(root: &Path, repo: &CachedRepo, etag: &str) -> bool {
    let path = lock::lock_path(root, &repo.repo, etag);
    match OpenOptions::new().read(true).open(path) {
        Ok(file) => !matches!(file.try_lock(), Err(TryLockError::WouldBlock)),
        Err(_) => true, // no lock file: nobody locks it
    }
}

/// Carries out a plan; each repo's revisions are re-checked for a running download.
pub fn execute_prune(cache_dir: &Path, plan: &PrunePlan) -> Result<()> {
    let Some(root) = canonical_root(cache_dir)? else {
        return Ok(());
    };
    for revisions in &plan.revisions {
        execute_delete(&root, revisions)?;
    }
    for path in &plan.orphan_blobs {
        remove_inside(&root, path)?;
    }
    for path in &plan.incomplete {
        // Held while deleting, so a download cannot start on it meanwhile.
        if let Some(_held) = try_lock_partial(&root, path) {
            remove_inside(&root, path)?;
        }
    }
    Ok(())
}

/// The lock of `<repo>/blobs/<etag>.incomplete`, if nobody holds it.
fn try_lock_partial(root: &Path, partial: &Path) -> Option<Option<fs::File>> {
    let etag = partial
        .file_name()?
        .to_string_lossy()
        .strip_suffix(INCOMPLETE_SUFFIX)?
        .to_owned();
    let folder = partial.parent()?.parent()?.file_name()?.to_string_lossy();
    let lock = lock::lock_path(root, &RepoId::from_folder_name(&folder).ok()?, &etag);
    match OpenOptions::new().read(true).write(true).open(lock) {
        Err(_) => Some(None),
        Ok(file) => match file.try_lock() {
            Ok(()) => Some(Some(file)),
            Err(_) => None,
        },
    }
}
