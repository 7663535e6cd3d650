//! Verify: re-hash every file of a revision and compare it with its blob
//! name (sha256 or git sha1). Works offline, unlike huggingface_hub's
//! `hf cache verify`; the hub's listing, when reachable, adds missing and
//! extra files (see `download::remote::Hub::listing`).
//!
//! A model passes only when the repo is sound too: a broken ref (the scan's
//! [`BrokenRef`](super::report::BrokenRef)) fails it, as it fails
//! huggingface_hub's verify, and so does a snapshot with no file in it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::blob_hash::{BlobHashKind, BlobHasher};
use super::repo::RepoId;
use super::report::CachedRepo;
use super::scan::{canonical_root, scan_repo};
use super::snapshot::{snapshot_files, SnapshotFile};
use super::tree::TreeListing;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileVerdict {
    Ok,
    /// The content's hash is not its blob name.
    Mismatch,
    /// Listed (by the hub or the local listing) but not in the snapshot.
    Missing,
    /// In the snapshot but not in the hub's listing.
    Extra,
    /// Its blob name is not a hash (a plain copy), so there is nothing to check against.
    NotVerifiable,
    /// Dangling, outside the cache, or unreadable.
    Unreadable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCheck {
    pub path: String,
    pub verdict: FileVerdict,
    pub expected: Option<String>,
    pub actual: Option<String>,
}

/// The answer of `haid-models verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    #[serde(flatten)]
    pub repo: RepoId,
    pub commit_hash: String,
    pub snapshot_path: PathBuf,
    /// No problem, no mismatch, nothing missing, nothing unreadable.
    pub ok: bool,
    /// What is wrong beyond single files (a broken ref, an empty snapshot),
    /// each with what to do.
    pub problems: Vec<String>,
    pub checked: usize,
    /// `checked`, `offline` (not asked), or `unreachable: …`.
    pub hub: String,
    pub files: Vec<FileCheck>,
}

impl VerifyReport {
    fn settle(&mut self) {
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        self.ok = self.problems.is_empty()
            && self
                .files
                .iter()
                .all(|f| matches!(f.verdict, FileVerdict::Ok | FileVerdict::NotVerifiable));
    }

    /// Compares with a listing (path → etag): the hub's, or the local one.
    pub fn compare_with_listing(&mut self, listing: &BTreeMap<String, String>, extras_count: bool) {
        for (path, etag) in listing {
            match self.files.iter_mut().find(|f| &f.path == path) {
                None => self.files.push(FileCheck {
                    path: path.clone(),
                    verdict: FileVerdict::Missing,
                    expected: Some(etag.clone()),
                    actual: None,
                }),
                Some(f) if f.verdict == FileVerdict::Ok && f.expected.as_deref() != Some(etag) => {
                    f.verdict = FileVerdict::Mismatch;
                    f.expected = Some(etag.clone());
                }
                Some(_) => {}
            }
        }
        if extras_count {
            for f in self
                .files
                .iter_mut()
                .filter(|f| !listing.contains_key(&f.path))
            {
                f.verdict = FileVerdict::Extra;
            }
        }
        self.settle();
    }
}

/// Hashes every file of a revision (`revision`: a ref such as `main`, a
/// commit hash or a prefix of one; default: `main`, else the only revision).
pub fn verify_local(
    cache_dir: &Path,
    repo: &RepoId,
    revision: Option<&str>,
) -> Result<VerifyReport> {
    let not_cached = || Error::NotFound {
        what: format!("{repo} in the cache {}", cache_dir.display()),
    };
    let root = canonical_root(cache_dir)?.ok_or_else(not_cached)?;
    let scan = scan_repo(&root, repo)?.ok_or_else(not_cached)?;
    let commit = pick_revision(&scan.repo, revision)?;
    let snapshot_path = scan.repo.repo_path.join("snapshots").join(&commit);
    let files: Vec<FileCheck> = snapshot_files(&root, &snapshot_path)
        .par_iter()
        .map(check_file)
        .collect();
    let problems = problems(&scan.repo, &commit, &snapshot_path, files.len());
    let mut report = VerifyReport {
        repo: repo.clone(),
        commit_hash: commit.clone(),
        snapshot_path,
        ok: false,
        problems,
        checked: files.len(),
        hub: "offline".into(),
        files,
    };
    report.settle();
    if let Some(listing) = local_listing(&scan.repo.repo_path, &commit) {
        report.compare_with_listing(&listing, false);
    }
    Ok(report)
}

/// What fails the repo whatever its files hold: broken refs, and a snapshot
/// that is missing or holds no file (0 files is not a verified model).
fn problems(repo: &CachedRepo, commit: &str, snapshot: &Path, checked: usize) -> Vec<String> {
    let mut out: Vec<String> = repo
        .broken_refs
        .iter()
        .map(|b| b.describe(&repo.repo))
        .collect();
    if !snapshot.is_dir() {
        out.push(format!(
            "commit {commit} has no snapshot yet (a download that has not finished): \
             run `haid-models download {}` to finish it",
            repo.repo
        ));
    } else if checked == 0 {
        out.push(format!(
            "the snapshot of commit {commit} holds no file, so nothing was verified: \
             download the model again (`haid-models download {}`)",
            repo.repo
        ));
    }
    out
}

fn local_listing(repo_path: &Path, commit: &str) -> Option<BTreeMap<String, String>> {
    let trees = TreeListing::dir(repo_path);
    let text = std::fs::read_to_string(TreeListing::path(&trees, commit)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let files = v.get("files")?.as_object()?;
    Some(
        files
            .iter()
            .filter_map(|(path, e)| {
                let etag = e
                    .get("lfs_sha256")
                    .and_then(|x| x.as_str())
                    .or_else(|| e.get("blob_id")?.as_str())?;
                Some((path.clone(), etag.to_owned()))
            })
            .collect(),
    )
}

/// The commit to verify. A ref is taken at its word even when its snapshot
/// is missing (verify then says so), never swapped for another revision.
fn pick_revision(repo: &CachedRepo, revision: Option<&str>) -> Result<String> {
    let want = revision.unwrap_or("main");
    if let Some(hash) = repo.refs.get(want) {
        return Ok(hash.clone());
    }
    let hits: Vec<&str> = repo
        .revisions
        .iter()
        .map(|r| r.commit_hash.as_str())
        .filter(|h| want.len() >= 4 && h.starts_with(want))
        .collect();
    match (hits.as_slice(), revision, repo.revisions.as_slice()) {
        ([one], _, _) => Ok((*one).to_owned()),
        ([], None, [only]) => Ok(only.commit_hash.clone()),
        _ => match repo.broken_refs.iter().find(|b| b.name == want) {
            Some(broken) => Err(Error::NotFound {
                what: format!(
                    "revision {want:?} of {} in the cache: {}",
                    repo.repo,
                    broken.describe(&repo.repo)
                ),
            }),
            None => Err(not_cached_revision(repo, want)),
        },
    }
}

fn not_cached_revision(repo: &CachedRepo, want: &str) -> Error {
    if repo.revisions.is_empty() {
        return Error::NotFound {
            what: format!(
                "a revision of {0} in the cache (its folder holds no snapshot, so there is \
                 nothing to verify; `haid-models download {0}` fetches it)",
                repo.repo
            ),
        };
    }
    let cached: Vec<&str> = repo
        .revisions
        .iter()
        .map(|r| &r.commit_hash[..r.commit_hash.len().min(12)])
        .collect();
    Error::NotFound {
        what: format!(
            "revision {want:?} of {} in the cache (cached: {}); pass --revision with a ref or commit",
            repo.repo,
            cached.join(", ")
        ),
    }
}

fn check_file(file: &SnapshotFile) -> FileCheck {
    let etag = file.etag();
    let mut check = FileCheck {
        path: file.path.clone(),
        verdict: FileVerdict::Unreadable,
        expected: Some(etag.clone()),
        actual: None,
    };
    let Some(size) = file.size else {
        return check;
    };
    let Some(kind) = BlobHashKind::of_etag(&etag) else {
        check.verdict = FileVerdict::NotVerifiable;
        check.expected = None;
        return check;
    };
    if let Ok(actual) = hash_file(&file.blob, kind, size) {
        check.verdict = if actual == etag {
            FileVerdict::Ok
        } else {
            FileVerdict::Mismatch
        };
        check.actual = Some(actual);
    }
    check
}

fn hash_file(path: &Path, kind: BlobHashKind, size: u64) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = BlobHasher::new(kind, size);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finish_hex());
        }
        hasher.update(&buf[..n]);
    }
}
