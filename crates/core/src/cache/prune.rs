//! Prune: what no one needs any more — detached revisions (no ref points to
//! them), blobs no snapshot or listing names, blobs whose every snapshot
//! file is a plain file already (the no-symlink layout), `.incomplete` files whose
//! download is not running, temps of writes that died and what deletes
//! could not finish. Repos being downloaded are left alone, and so are repos
//! with a broken ref: which revision it meant is unknown, so none is detached
//! ([`CachedRepo::is_reachable`]). As `hf cache prune` does, it also frees
//! the payloads of huggingface_hub 2.5's shared store that no repo
//! references any more.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::delete::{
    execute_delete, finish_trash_or_fail, merged_links, plan_delete, shared_freed, DeletePlan,
};
use super::names::{partial_etag, BlobName, RepoFilePath};
use super::repo::RepoId;
use super::report::{CacheReport, CachedRepo, ScanWarning};
use super::safe_fs::remove_inside;
use super::scan::{canonical_root, scan_cache};
use super::shared_store::{Interrupted, SharedStore};
use super::snapshot::snapshot_files;
use super::tree::TreeListing;
use crate::atomic_file::{is_stale_temp, stale_temps, TempName};
use crate::download::lock;
use crate::error::Result;

/// What a prune will remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrunePlan {
    /// Detached revisions, per repo (each as a delete plan).
    pub revisions: Vec<DeletePlan>,
    /// Blobs that no snapshot and no listing names.
    pub orphan_blobs: Vec<PathBuf>,
    /// Blobs a listing names, but whose every file is in its snapshot as a
    /// plain file already (the no-symlink layout): a copy nothing reads,
    /// left by a placement that was cut short or by another program.
    pub stray_blobs: Vec<PathBuf>,
    /// Unfinished downloads that nothing is writing.
    pub incomplete: Vec<PathBuf>,
    /// `.NAME.<pid>.tmp` files of writes that died: in `refs/` (which
    /// huggingface_hub would read as refs), `trees/` and snapshots.
    pub temp_files: Vec<PathBuf>,
    /// `.trash-…` folders of deletes that could not finish.
    pub trash: Vec<PathBuf>,
    /// Payloads of the shared store that no repo references.
    pub shared_payloads: Vec<PathBuf>,
    /// Repo blobs whose publish to the store was cut short after the
    /// payload and its reference were written: the link is put in place
    /// (nothing is downloaded again, and the payload is not collected).
    pub finished_links: Vec<PathBuf>,
    #[serde(skip)]
    interrupted: Vec<Interrupted>,
    /// Every path that goes.
    pub deleted: Vec<PathBuf>,
    /// What the prune frees on disk.
    pub freed_bytes: u64,
    /// What was left alone, and why.
    pub skipped: Vec<ScanWarning>,
}

/// What a prune would remove, found without removing anything (`prune --dry-run`).
pub fn plan_prune(cache_dir: &Path) -> Result<PrunePlan> {
    plan_prune_from(&scan_cache(cache_dir)?)
}

/// The same, from a scan already made (the app keeps one: a second scan of
/// a big cache would cost as much again).
pub fn plan_prune_from(report: &CacheReport) -> Result<PrunePlan> {
    let mut plan = PrunePlan {
        revisions: Vec::new(),
        orphan_blobs: Vec::new(),
        stray_blobs: Vec::new(),
        incomplete: Vec::new(),
        temp_files: Vec::new(),
        trash: Vec::new(),
        shared_payloads: Vec::new(),
        finished_links: Vec::new(),
        interrupted: Vec::new(),
        deleted: Vec::new(),
        freed_bytes: 0,
        skipped: Vec::new(),
    };
    let root = report.cache_dir.as_path();
    for left in &report.trash {
        plan.freed_bytes += left.size_on_disk;
        plan.trash.push(left.path.clone());
    }
    for repo in &report.repos {
        // Temps of dead writers are litter whatever the state of the repo.
        plan.temp_files.extend(repo_temps(root, repo));
        if lock::is_downloading(root, &repo.repo) {
            plan.skipped.push(ScanWarning {
                path: repo.repo_path.clone(),
                message: "a download is running into it; left alone".into(),
            });
        } else if !repo.broken_refs.is_empty() {
            plan.skipped.extend(broken_ref_warnings(repo));
        } else if !repo.refs_resolve() {
            plan.skipped.extend(unfinished_warnings(repo));
        } else {
            plan_repo(root, repo, &mut plan)?;
        }
    }
    // A payload shared by two detached revisions is freed once, when both go.
    plan.freed_bytes += shared_freed(root, &merged_links(&plan.revisions));
    if let Some(store) = SharedStore::open(root) {
        plan_store(&store, report, &mut plan);
    }
    plan.deleted = plan
        .revisions
        .iter()
        .flat_map(|p| p.deleted.iter().cloned())
        .chain(plan.orphan_blobs.iter().cloned())
        .chain(plan.stray_blobs.iter().cloned())
        .chain(plan.incomplete.iter().cloned())
        .chain(plan.temp_files.iter().cloned())
        .chain(plan.trash.iter().cloned())
        .chain(plan.shared_payloads.iter().cloned())
        .collect();
    Ok(plan)
}

/// Interrupted publishes to finish, and the payloads nothing references
/// (but those the finished links will).
fn plan_store(store: &SharedStore, report: &CacheReport, plan: &mut PrunePlan) {
    plan.interrupted = report
        .repos
        .iter()
        .flat_map(|r| store.interrupted_in(&r.repo_path.join("blobs")))
        .collect();
    plan.finished_links = plan.interrupted.iter().map(|i| i.blob.clone()).collect();
    let finished: BTreeSet<PathBuf> = plan
        .interrupted
        .iter()
        .filter_map(|i| store.link_target(&i.temporary))
        .map(|h| store.payload_path(&h))
        .collect();
    for payload in store.unreferenced() {
        if !finished.contains(&payload.path) {
            plan.freed_bytes += payload.size;
            plan.shared_payloads.push(payload.path);
        }
    }
}

/// Why a repo with a broken ref is left alone, one warning per ref.
fn broken_ref_warnings(repo: &CachedRepo) -> Vec<ScanWarning> {
    repo.broken_refs
        .iter()
        .map(|broken| ScanWarning {
            path: broken.path.clone(),
            message: format!(
                "{} is left alone, since which revision its ref meant is unknown: {}",
                repo.repo,
                broken.describe(&repo.repo)
            ),
        })
        .collect()
}

/// Why a repo whose download has not placed its first file is left alone:
/// its older revisions are the only usable copy until that download ends.
fn unfinished_warnings(repo: &CachedRepo) -> Vec<ScanWarning> {
    repo.unresolved_refs()
        .map(|(name, commit)| ScanWarning {
            path: repo.repo_path.join("refs").join(name),
            message: format!(
                "{0} is left alone: ref {name:?} names commit {commit}, whose download has \
                 not finished; run `haid-models download {0}` to finish it (then prune), or \
                 `haid-models delete {0}`",
                repo.repo
            ),
        })
        .collect()
}

/// Stale temps of a repo: of refs (at any depth), of listings, and the
/// snapshot links the downloader writes as `.<blob>.<pid>.tmp` (only those:
/// a repo may hold a file of its own that looks like a temp).
fn repo_temps(root: &Path, repo: &CachedRepo) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut folders = vec![repo.repo_path.join("refs")];
    while let Some(dir) = folders.pop() {
        out.extend(stale_temps(&dir));
        if let Ok(entries) = fs::read_dir(&dir) {
            folders.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
    }
    out.extend(stale_temps(&TreeListing::dir(&repo.repo_path)));
    let link_temps = repo
        .revisions
        .iter()
        .flat_map(|r| snapshot_files(root, &r.snapshot_path))
        .filter(|f| {
            let name = f.entry.file_name().map(|n| n.to_string_lossy());
            let temp = name.as_deref().and_then(TempName::parse);
            temp.is_some_and(|t| BlobName::parse(t.target).is_ok()) && is_stale_temp(&f.entry)
        })
        .map(|f| f.entry);
    out.extend(link_temps);
    out
}

fn plan_repo(root: &Path, repo: &CachedRepo, plan: &mut PrunePlan) -> Result<()> {
    let detached: Vec<String> = repo
        .detached_revisions()
        .map(|r| r.commit_hash.clone())
        .collect();
    if !detached.is_empty() {
        let revisions = plan_delete(root, &repo.repo, &detached)?;
        plan.freed_bytes += revisions.local_bytes();
        let whole = revisions.whole_repo;
        plan.revisions.push(revisions);
        if whole {
            return Ok(()); // its orphans and partial files go with it
        }
    }
    let (needed, named) = needed_blobs(root, repo);
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
        if let Some(etag) = partial_etag(&name) {
            if lock_is_free(root, repo, etag) {
                plan.freed_bytes += meta.len();
                plan.incomplete.push(path);
            } else {
                plan.skipped.push(ScanWarning {
                    path,
                    message: "being downloaded; left alone".into(),
                });
            }
        } else if needed.contains(&path) {
            // A snapshot links to it, or a file of a listing still lacks it.
        } else if !named.contains(&path) {
            plan.freed_bytes += meta.len();
            plan.orphan_blobs.push(path);
        } else if lock_is_free(root, repo, &name) {
            plan.freed_bytes += meta.len();
            plan.stray_blobs.push(path);
        } else {
            plan.skipped.push(ScanWarning {
                path,
                message: "being placed by a download; left alone".into(),
            });
        }
    }
    Ok(())
}

/// The blobs of a repo that something needs: those a snapshot points to,
/// and those a listing of its commits names for a file that is not in its
/// snapshot as a plain file of its size (a download that stopped before
/// linking or moving its files still needs them). Second, every blob a
/// listing names: what is named but not needed is a stray copy.
fn needed_blobs(root: &Path, repo: &CachedRepo) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
    let blobs = repo.repo_path.join("blobs");
    let mut needed: BTreeSet<PathBuf> = repo
        .revisions
        .iter()
        .flat_map(|r| snapshot_files(root, &r.snapshot_path))
        .filter(|f| f.blob != f.entry)
        .map(|f| f.blob)
        .collect();
    let mut named = BTreeSet::new();
    let trees = TreeListing::dir(&repo.repo_path);
    let commits = repo
        .refs
        .values()
        .chain(repo.revisions.iter().map(|r| &r.commit_hash));
    for commit in commits {
        let snapshot = repo.repo_path.join("snapshots").join(commit);
        let Some(entries) = TreeListing::entries(&trees, commit) else {
            // A listing we cannot read whole: every blob it names is needed.
            let etags = TreeListing::etags(&trees, commit).unwrap_or_default();
            needed.extend(etags.into_iter().map(|e| blobs.join(e)));
            continue;
        };
        for (path, entry) in entries {
            let blob = blobs.join(entry.etag());
            if !is_plain_file_of(&snapshot, &path, entry.size) {
                needed.insert(blob.clone());
            }
            named.insert(blob);
        }
    }
    (needed, named)
}

/// `path` (a listing's, so parsed first) is a plain file of `size` bytes
/// in `snapshot`: what reads it needs no blob.
fn is_plain_file_of(snapshot: &Path, path: &str, size: u64) -> bool {
    RepoFilePath::parse(path).is_ok_and(|p| {
        fs::symlink_metadata(p.join_to(snapshot)).is_ok_and(|m| m.is_file() && m.len() == size)
    })
}

fn lock_is_free(root: &Path, repo: &CachedRepo, etag: &str) -> bool {
    // A blob not named by a hash has no lock file anyone could hold.
    let Ok(etag) = BlobName::parse(etag) else {
        return true;
    };
    let path = lock::lock_path(root, &repo.repo, &etag);
    match OpenOptions::new().read(true).open(path) {
        Ok(file) => !matches!(file.try_lock(), Err(TryLockError::WouldBlock)),
        Err(_) => true, // no lock file: nobody locks it
    }
}

/// Carries out a plan; each repo's revisions are re-checked for a running
/// download. Trash goes last: what cannot be removed (a permission) must not
/// stop the rest.
pub fn execute_prune(cache_dir: &Path, plan: &PrunePlan) -> Result<()> {
    let Some(root) = canonical_root(cache_dir)? else {
        return Ok(());
    };
    for path in &plan.temp_files {
        // Checked again: a temp is only removed while it is still stale.
        if is_stale_temp(path) {
            remove_inside(&root, path)?;
        }
    }
    for revisions in &plan.revisions {
        execute_delete(&root, revisions)?;
    }
    for path in &plan.orphan_blobs {
        remove_inside(&root, path)?;
    }
    for path in &plan.stray_blobs {
        // Under its lock, as an unfinished download: a download that
        // placed files from it is done with it, one that holds it is not.
        if let Some(_held) = try_lock_blob(&root, path) {
            remove_inside(&root, path)?;
        }
    }
    for path in &plan.incomplete {
        // Held while deleting, so a download cannot start on it meanwhile.
        if let Some(_held) = try_lock_blob(&root, path) {
            remove_inside(&root, path)?;
        }
    }
    if let Some(store) = SharedStore::open(&root) {
        for cut in &plan.interrupted {
            store
                .finish(cut)
                .map_err(|e| crate::error::Error::io("finish the link", &cut.blob, e))?;
        }
        // Checked again under each payload's lock: a reference added since
        // the plan keeps it.
        for hash in plan
            .shared_payloads
            .iter()
            .filter_map(|p| store.hash_of_payload_path(p))
        {
            store.sweep(&hash);
        }
    }
    let mut failed = Ok(());
    for trash in &plan.trash {
        if let Err(e) = finish_trash_or_fail(&root, trash) {
            failed = failed.and(Err(e));
        }
    }
    failed
}

/// The lock of `<repo>/blobs/<etag>` or of its `.incomplete`, if nobody holds it.
fn try_lock_blob(root: &Path, partial: &Path) -> Option<Option<fs::File>> {
    let name = partial.file_name()?.to_string_lossy();
    let etag = partial_etag(&name).unwrap_or(&name).to_owned();
    let Ok(etag) = BlobName::parse(&etag) else {
        // Not named by a hash: no download of ours or huggingface_hub's writes it.
        return Some(None);
    };
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
