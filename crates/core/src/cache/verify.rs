//! Verify: re-hash every file of a revision and compare it with its blob
//! name (sha256 or git sha1). Works offline, unlike huggingface_hub's
//! `hf cache verify`; the hub's listing, when reachable, adds missing and
//! extra files (see `download::remote::Hub::listing`).
//!
//! [`verify`] is the whole check, the hub's listing included, for the CLI and
//! the app alike; [`verify_local`] the offline part of it.
//!
//! A model passes only when the repo is sound too: a broken ref (the scan's
//! [`BrokenRef`](super::report::BrokenRef)) fails it, as it fails
//! huggingface_hub's verify, and so does a snapshot with no file in it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use ts_rs::TS;

use super::blob_hash::{BlobHashKind, BlobHasher};
use super::repo::RepoId;
use super::report::CachedRepo;
use super::scan::{canonical_root, scan_repo};
use super::snapshot::{snapshot_files, SnapshotFile};
use super::tree::TreeListing;
use crate::download::Hub;
use crate::error::{Error, Result};

/// What the check of one file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FileVerdict {
    /// Its content hashes to its blob name (and the hub's listing agrees).
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

/// One file of the snapshot (or of the listing), checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FileCheck {
    /// Its path in the repo (`onnx/model.onnx`).
    pub path: String,
    /// What the check found.
    pub verdict: FileVerdict,
    /// The hash it should have: its blob name, or the listing's etag.
    pub expected: Option<String>,
    /// The hash its content has, when it was read.
    pub actual: Option<String>,
}

/// The answer of `haid-models verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct VerifyReport {
    /// The model checked.
    #[serde(flatten)]
    pub repo: RepoId,
    /// The revision checked.
    pub commit_hash: String,
    /// Its snapshot folder.
    pub snapshot_path: PathBuf,
    /// No problem, no mismatch, nothing missing, nothing unreadable.
    pub ok: bool,
    /// What is wrong beyond single files (a broken ref, an empty snapshot),
    /// each with what to do.
    pub problems: Vec<String>,
    /// Files of the snapshot that were read.
    pub checked: usize,
    /// `checked`, `offline` (not asked), or `unreachable: …`.
    pub hub: String,
    /// Every file, by path.
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
        let snapshot = self.snapshot_path.clone();
        for (path, etag) in listing {
            match self.files.iter_mut().find(|f| &f.path == path) {
                Some(f) if f.verdict == FileVerdict::NotVerifiable => {
                    check_plain(f, &snapshot, etag);
                }
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

    /// The report as a verdict: `Err(Damaged)` naming what is wrong unless
    /// the model passed. The CLI's exit status; a caller shows the report first.
    /// The report for a file set only: files it does not select are left
    /// out, and missing ones among them are no damage (a product's set).
    pub fn within(mut self, files: &crate::file_set::FileSet) -> Self {
        self.files.retain(|f| files.keeps(&f.path));
        self.ok = self.problems.is_empty()
            && self.files.iter().all(|f| {
                !matches!(
                    f.verdict,
                    FileVerdict::Mismatch | FileVerdict::Missing | FileVerdict::Unreadable
                )
            });
        self
    }

    /// `Ok` when nothing is wrong; else the `damaged_files` error, with what to do.
    pub fn verdict(&self) -> Result<()> {
        if self.ok {
            return Ok(());
        }
        let reason = match self.problems.as_slice() {
            [] => "some files are damaged or missing; download the model again to repair it"
                .to_owned(),
            problems => problems.join("; "),
        };
        Err(Error::Damaged {
            repo: self.repo.id(),
            reason,
        })
    }
}

/// Verifies a revision of a cached model: every file re-hashed against its
/// blob name ([`verify_local`], off the async threads), then, given a hub
/// that is not offline, compared with the hub's listing of that commit, so
/// missing and extra files show too. A hub that does not answer is no
/// failure: the report says `unreachable: …` and keeps the offline verdict.
pub async fn verify(
    cache_dir: &Path,
    hub: Option<&Hub>,
    repo: &RepoId,
    revision: Option<&str>,
) -> Result<VerifyReport> {
    let (dir, id, rev) = (
        cache_dir.to_owned(),
        repo.clone(),
        revision.map(str::to_owned),
    );
    let mut report = tokio::task::spawn_blocking(move || verify_local(&dir, &id, rev.as_deref()))
        .await
        .map_err(|e| Error::io("verify", cache_dir, std::io::Error::other(e)))??;
    let Some(hub) = hub.filter(|h| !h.config.offline) else {
        return Ok(report);
    };
    match hub.listing(&report.repo, &report.commit_hash).await {
        Ok(listing) => {
            report.compare_with_listing(&listing, true);
            report.hub = "checked".into();
        }
        Err(e) => report.hub = format!("unreachable: {e}"),
    }
    Ok(report)
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
    let listing = local_listing(&scan.repo.repo_path, &commit);
    let files: Vec<FileCheck> = snapshot_files(&root, &snapshot_path)
        .par_iter()
        .map(|f| check_file(f, listing.as_ref()))
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
    if let Some(listing) = listing {
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
pub(crate) fn pick_revision(repo: &CachedRepo, revision: Option<&str>) -> Result<String> {
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

/// A plain snapshot file, checked against the etag a listing gives it.
fn check_plain(check: &mut FileCheck, snapshot: &Path, etag: &str) {
    let Some(kind) = BlobHashKind::of_etag(etag) else {
        return;
    };
    let Ok(path) = super::RepoFilePath::parse(&check.path) else {
        return;
    };
    let file = path.join_to(snapshot);
    let Ok(meta) = std::fs::metadata(&file) else {
        return;
    };
    check.expected = Some(etag.to_owned());
    check.verdict = FileVerdict::Unreadable;
    if let Ok(actual) = hash_file(&file, kind, meta.len()) {
        check.verdict = if actual == etag {
            FileVerdict::Ok
        } else {
            FileVerdict::Mismatch
        };
        check.actual = Some(actual);
    }
}

/// A plain snapshot file (a cache written without symlinks) has no blob
/// name: its etag is the one the commit's listing gives its path.
fn check_file(file: &SnapshotFile, listing: Option<&BTreeMap<String, String>>) -> FileCheck {
    let plain = file.is_plain();
    let etag = match listing.and_then(|l| l.get(&file.path)) {
        Some(listed) if plain => listed.clone(),
        _ => file.etag(),
    };
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
    // A shared blob's payload is checked against the repo's blob name (its
    // sha256), whoever published it.
    if let Ok(actual) = hash_file(file.content(), kind, size) {
        check.verdict = if actual == etag {
            FileVerdict::Ok
        } else {
            FileVerdict::Mismatch
        };
        check.actual = Some(actual);
    }
    check
}

/// `path` holds `size` bytes that hash to `etag` (an etag that is no hash never matches).
pub(crate) fn hash_matches(path: &Path, etag: &str, size: u64) -> bool {
    BlobHashKind::of_etag(etag)
        .is_some_and(|kind| hash_file(path, kind, size).is_ok_and(|h| h == etag))
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

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::Duration;

    use super::*;
    use crate::download::{HubConfig, RetryPolicy};
    use crate::env::Env;
    use crate::ErrorKind;

    const COMMIT: &str = "cccccccccccccccccccccccccccccccccccccccc";

    /// `models--org--m` at `main` = [`COMMIT`], with `files` (path, content)
    /// stored under their git sha1, as a download leaves them.
    fn cached(root: &Path, files: &[(&str, &str)]) -> RepoId {
        let dir = root.join("models--org--m");
        let snapshot = dir.join("snapshots").join(COMMIT);
        fs::create_dir_all(dir.join("blobs")).unwrap();
        fs::create_dir_all(dir.join("refs")).unwrap();
        fs::create_dir_all(&snapshot).unwrap();
        fs::write(dir.join("refs/main"), COMMIT).unwrap();
        for (path, content) in files {
            let etag = git_sha1(content);
            fs::write(dir.join("blobs").join(&etag), content).unwrap();
            crate::test_fs::symlink(format!("../../blobs/{etag}"), snapshot.join(path)).unwrap();
        }
        RepoId::model("org/m").unwrap()
    }

    fn git_sha1(content: &str) -> String {
        let mut h = BlobHasher::new(BlobHashKind::GitSha1, content.len() as u64);
        h.update(content.as_bytes());
        h.finish_hex()
    }

    /// A hub at `endpoint` that tries each request once.
    fn hub(endpoint: &str, offline: bool) -> Hub {
        let mut config = HubConfig::from_env(&Env::default(), Path::new("/nonexistent"));
        config.endpoint = endpoint.to_owned();
        config.offline = offline;
        config.retry = RetryPolicy {
            max_attempts: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            stall_timeout: Duration::from_secs(5),
        };
        Hub::new(config, Path::new("/nonexistent")).unwrap()
    }

    /// A hub that answers every request with this tree listing (one page).
    async fn listing_hub(files: &[(&str, &str)]) -> String {
        let listing: Vec<serde_json::Value> = files
            .iter()
            .map(|(path, content)| {
                serde_json::json!({"type": "file", "path": path, "size": content.len(),
                                   "oid": git_sha1(content)})
            })
            .collect();
        let body = serde_json::to_string(&listing).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut request = vec![0u8; 8192];
                let _ = conn.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        url
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn without_a_hub_it_is_the_offline_check() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = cached(tmp.path(), &[("config.json", "{}")]);
        let rt = runtime();
        let report = rt.block_on(verify(tmp.path(), None, &repo, None)).unwrap();
        assert_eq!(report, verify_local(tmp.path(), &repo, None).unwrap());
        assert!(report.ok && report.verdict().is_ok());
        assert_eq!(report.hub, "offline");
        // HF_HUB_OFFLINE: the hub is not asked either.
        let offline = hub("http://127.0.0.1:9", true);
        let report = rt
            .block_on(verify(tmp.path(), Some(&offline), &repo, None))
            .unwrap();
        assert_eq!(report.hub, "offline");
    }

    #[test]
    fn a_hub_that_does_not_answer_keeps_the_offline_verdict() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = cached(tmp.path(), &[("config.json", "{}")]);
        let gone = hub("http://127.0.0.1:9", false);
        let report = runtime()
            .block_on(verify(tmp.path(), Some(&gone), &repo, None))
            .unwrap();
        assert!(report.hub.starts_with("unreachable: "), "{}", report.hub);
        assert!(report.ok);
    }

    #[test]
    fn the_hubs_listing_finds_missing_and_extra_files() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = cached(tmp.path(), &[("config.json", "{}"), ("extra.txt", "x")]);
        let rt = runtime();
        let url = rt.block_on(listing_hub(&[("config.json", "{}"), ("w.bin", "weights")]));
        let report = rt
            .block_on(verify(tmp.path(), Some(&hub(&url, false)), &repo, None))
            .unwrap();
        assert_eq!(report.hub, "checked");
        let verdicts: Vec<(&str, FileVerdict)> = report
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.verdict))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("config.json", FileVerdict::Ok),
                ("extra.txt", FileVerdict::Extra),
                ("w.bin", FileVerdict::Missing),
            ]
        );
        assert!(!report.ok);
        let err = report.verdict().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DamagedFiles);
        assert!(
            err.to_string().contains("download the model again"),
            "{err}"
        );
    }

    #[test]
    fn the_verdict_names_problems_beyond_files() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = cached(tmp.path(), &[]);
        let report = verify_local(tmp.path(), &repo, None).unwrap();
        let err = report.verdict().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DamagedFiles);
        assert!(err.to_string().contains("holds no file"), "{err}");
    }
}
