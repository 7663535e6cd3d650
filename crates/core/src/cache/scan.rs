//! Scans the whole cache in parallel, with the semantics of
//! `huggingface_hub.scan_cache_dir` plus what it hides (see docs/scan.md).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::paths::{FileIdentity, OS_LITTER};
use super::repo::RepoId;
use super::repo_scan::{scan_repo_dir, RepoScan};
use super::report::{CacheReport, ScanWarning, TrashLeft};
use super::safe_fs::{finish_trash, trash_warning, TRASH_PREFIX};
use super::shared_store::{SharedStore, STORE_DIR};
use crate::error::{Error, Result};

/// Top-level names that belong to the cache and are not repos.
const CACHE_FILES: [&str; 2] = [".locks", "CACHEDIR.TAG"];

/// Scans every repo in the cache. A cache dir that does not exist yet is an
/// empty cache; one that is a file is an error.
pub fn scan_cache(cache_dir: &Path) -> Result<CacheReport> {
    let Some(root) = canonical_root(cache_dir)? else {
        return Ok(empty_report(cache_dir));
    };
    let (repos, others) = scan_entries(&root)?;
    Ok(assemble(&root, repos.iter(), &others))
}

/// The repos of a canonical cache root, and what else lies there (the shared
/// store, litter). Kept apart so the live cache can replace one repo at a time.
pub(crate) fn scan_entries(root: &Path) -> Result<(Vec<RepoScan>, Vec<Entry>)> {
    let entries = fs::read_dir(root)
        .map_err(|e| Error::io("read the cache folder", root, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
        .collect::<Vec<_>>();
    let outcomes: Vec<Entry> = entries
        .par_iter()
        .map(|(path, file_type)| classify(root, path, *file_type))
        .collect();
    let mut repos = Vec::new();
    let mut others = Vec::new();
    for outcome in outcomes {
        match outcome {
            Entry::Repo(scan) => repos.push(scan),
            Entry::Skip => {}
            other => others.push(other),
        }
    }
    Ok((repos, others))
}

/// The report of scanned entries: a blob shared by several repos (hard link,
/// shared store) counts once in the physical total.
pub(crate) fn assemble<'a>(
    root: &Path,
    repos: impl Iterator<Item = &'a RepoScan>,
    others: &[Entry],
) -> CacheReport {
    let mut report = empty_report(root);
    let mut seen = HashSet::new();
    let mut count = |blobs: &[(FileIdentity, u64)], report: &mut CacheReport| {
        for (identity, size) in blobs {
            if seen.insert(identity.clone()) {
                report.size_on_disk += size;
            }
        }
    };
    for scan in repos {
        count(&scan.blobs, &mut report);
        report.incomplete_size_on_disk += scan.repo.incomplete_size_on_disk;
        report.warnings.extend(scan.warnings.iter().cloned());
        report.repos.push(scan.repo.clone());
    }
    for other in others {
        match other {
            Entry::SharedStore(blobs) => count(blobs, &mut report),
            Entry::Litter(warning) => report.warnings.push(warning.clone()),
            Entry::Trash(left, warning) => {
                report.trash_size_on_disk += left.size_on_disk;
                report.trash.push(left.clone());
                report.warnings.push(warning.clone());
            }
            Entry::Repo(_) | Entry::Skip => {}
        }
    }
    report
        .repos
        .sort_by_key(|r| (r.repo.repo_type(), r.repo.id()));
    report.trash.sort_by(|a, b| a.path.cmp(&b.path));
    report.warnings.sort_by(|a, b| a.path.cmp(&b.path));
    report
}

/// Scans one repo (the watcher's unit of work). `Ok(None)` when it is not in the cache.
pub fn scan_repo(cache_dir: &Path, id: &RepoId) -> Result<Option<RepoScan>> {
    let Some(root) = canonical_root(cache_dir)? else {
        return Ok(None);
    };
    Ok(scan_repo_dir(&root, id))
}

#[derive(Debug)]
pub(crate) enum Entry {
    Repo(RepoScan),
    SharedStore(Vec<(FileIdentity, u64)>),
    Litter(ScanWarning),
    /// What a delete could not remove: on disk, so reported.
    Trash(TrashLeft, ScanWarning),
    Skip,
}

fn classify(root: &Path, path: &Path, file_type: fs::FileType) -> Entry {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if CACHE_FILES.contains(&name.as_str()) || OS_LITTER.contains(&name.as_str()) {
        return Entry::Skip;
    }
    if name.starts_with(TRASH_PREFIX) {
        // A delete that a crash or an error interrupted: finish it, and show
        // what cannot be removed, so its bytes are never hidden.
        return trash_entry(root, path);
    }
    if name == STORE_DIR {
        if let Some(store) = SharedStore::open(root) {
            return Entry::SharedStore(shared_store_blobs(&store));
        }
    }
    // A symlinked repo folder is reported (not followed) by the repo scan.
    let is_dir = file_type.is_dir() || file_type.is_symlink();
    let litter = |message: String| {
        Entry::Litter(ScanWarning {
            path: path.to_owned(),
            message,
        })
    };
    if !is_dir {
        return litter("a stray file in the cache; ignored".into());
    }
    match RepoId::from_folder_name(&name) {
        Ok(id) => scan_repo_dir(root, &id).map_or(Entry::Skip, Entry::Repo),
        Err(e) => litter(format!("not a cache repo folder ({e}); ignored")),
    }
}

/// A trash folder after a try to remove it: gone, or what is left.
pub(crate) fn trash_entry(root: &Path, path: &Path) -> Entry {
    match finish_trash(root, path) {
        None => Entry::Skip,
        Some((left, cause)) => {
            let warning = ScanWarning {
                path: left.path.clone(),
                message: trash_warning(&left, &cause),
            };
            Entry::Trash(left, warning)
        }
    }
}

/// Payload files of the shared store (`blobs/<xx>/<hash>`), counted once in
/// the physical total even when no repo points to them, as huggingface_hub does.
fn shared_store_blobs(store: &SharedStore) -> Vec<(FileIdentity, u64)> {
    store
        .payloads()
        .into_iter()
        .filter_map(|p| {
            let meta = fs::symlink_metadata(&p.path).ok()?;
            Some((FileIdentity::of(&p.path, &meta), p.size))
        })
        .collect()
}

/// The cache dir with symlinks resolved, or `None` if it does not exist yet.
pub(crate) fn canonical_root(cache_dir: &Path) -> Result<Option<PathBuf>> {
    match dunce::canonicalize(cache_dir) {
        Ok(root) if root.is_dir() => Ok(Some(root)),
        Ok(root) => Err(Error::CacheDir {
            path: root,
            message: "is a file, not a folder; point HF_HUB_CACHE or --cache-dir at a folder"
                .into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("open the cache folder", cache_dir, e)),
    }
}

fn empty_report(cache_dir: &Path) -> CacheReport {
    CacheReport {
        cache_dir: cache_dir.to_owned(),
        size_on_disk: 0,
        incomplete_size_on_disk: 0,
        repos: Vec::new(),
        trash: Vec::new(),
        trash_size_on_disk: 0,
        warnings: Vec::new(),
    }
}
