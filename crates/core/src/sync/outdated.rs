//! Models that moved upstream: `outdated` asks the hub where each followed
//! branch is now and compares the two listings within the model's file set;
//! `update` fetches the new commit, whose unchanged files are the same blobs
//! (same etag), so only changed bytes travel. The old revision stays,
//! detached, until `prune` (or `update --prune`, once the new one verified).

use std::collections::BTreeMap;
use std::path::Path;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use ts_rs::TS;

use crate::cache::delete::{execute_delete, plan_delete};
use crate::cache::snapshot::snapshot_files;
use crate::cache::tree::TreeListing;
use crate::cache::verify::verify;
use crate::cache::{scan_cache, CachedRepo, RefName, RepoType};
use crate::download::{DownloadRequest, Hub, RemoteSnapshot};
use crate::error::Result;
use crate::file_set::FileSet;
use crate::manifest::{same_repo, Manifest};
use crate::ErrorReport;

/// A model whose branch is at another commit on the hub than here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Outdated {
    /// Its hub id.
    pub id: String,
    /// The branch (or tag) it follows.
    pub revision: String,
    /// The commit that revision is at here.
    pub local_commit: String,
    /// The commit it is at on the hub.
    pub remote_commit: String,
    /// Files of the file set that are new or changed (another etag).
    pub changed_files: Vec<String>,
    /// What an update downloads: those files, less blobs already here.
    pub download_bytes: u64,
}

/// The answer of `haid-models outdated`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
pub struct OutdatedReport {
    /// The models that moved, in the manifest's order, then the others.
    pub models: Vec<Outdated>,
    /// Models the hub could not be asked about (offline, gated, gone), with why.
    pub unchecked: Vec<Unchecked>,
}

/// A model whose hub state is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Unchecked {
    /// Its hub id.
    pub id: String,
    /// Why it was not checked.
    pub error: ErrorReport,
}

/// One model that follows a branch: what to ask the hub about.
#[derive(Debug, Clone)]
pub struct Followed {
    /// The cached repo.
    pub repo: CachedRepo,
    /// The branch or tag.
    pub revision: RefName,
    /// Its file set (all files for a model no manifest names).
    pub files: FileSet,
    /// The commit the ref holds here.
    pub local_commit: String,
}

impl Followed {
    /// Its update: the branch's new commit within its file set. The ref
    /// moves last, so the model stays whole at its old commit until then.
    pub fn request(&self) -> DownloadRequest {
        DownloadRequest {
            repo: self.repo.repo.clone(),
            revision: self.revision.clone(),
            files: self.files.clone(),
            ref_last: true,
        }
    }
}

/// Every cached model that follows a branch: the manifest's models not
/// pinned to a commit, then the cache's other models on `main`. Only those
/// with the ref here: a model never downloaded has nothing to update.
pub fn followed(cache_dir: &Path, manifest: &Manifest) -> Result<Vec<Followed>> {
    let report = scan_cache(cache_dir)?;
    let models = report
        .repos
        .into_iter()
        .filter(|r| r.repo.repo_type() == RepoType::Model);
    let (mut listed, mut others) = (Vec::new(), Vec::new());
    for repo in models {
        let entry = manifest.models().position(|m| same_repo(&m.id, &repo.repo));
        let (revision, files) = match entry.and_then(|i| manifest.models().nth(i)) {
            Some(m) if m.is_pinned() => continue,
            Some(m) => (m.revision.clone(), m.files.clone()),
            None => (RefName::main(), FileSet::all()),
        };
        let Some(local_commit) = repo.refs.get(revision.as_str()).cloned() else {
            continue;
        };
        let followed = Followed {
            repo,
            revision,
            files,
            local_commit,
        };
        match entry {
            Some(i) => listed.push((i, followed)),
            None => others.push(followed),
        }
    }
    listed.sort_by_key(|(i, _)| *i);
    Ok(listed.into_iter().map(|(_, f)| f).chain(others).collect())
}

/// Hub questions in flight at once: a cache of hundreds of models is
/// checked in seconds, and the hub is not flooded.
const ASKED_AT_ONCE: usize = 8;

/// Asks the hub about each of `models` and lists those that moved, in order.
pub async fn outdated(hub: &Hub, models: &[Followed]) -> OutdatedReport {
    // Futures collected first, from a named fn: a closure inside the stream
    // type fails the `Send` check of the callers' futures (rust-lang/rust#102211).
    let asks: Vec<_> = models.iter().map(|m| ask(hub, m)).collect();
    let answers: Vec<_> = stream::iter(asks).buffered(ASKED_AT_ONCE).collect().await;
    let mut report = OutdatedReport::default();
    for (m, answer) in answers {
        match answer {
            Ok(remote) if remote.commit.as_str() == m.local_commit => {}
            Ok(remote) => report.models.push(compare(m, &remote)),
            Err(e) => report.unchecked.push(Unchecked {
                id: m.repo.repo.id(),
                error: e.into(),
            }),
        }
    }
    report
}

async fn ask<'a>(hub: &Hub, m: &'a Followed) -> (&'a Followed, Result<RemoteSnapshot>) {
    (m, hub.snapshot(&m.repo.repo, &m.revision).await)
}

/// The remote listing against the local one, within the file set.
fn compare(m: &Followed, remote: &RemoteSnapshot) -> Outdated {
    let local = local_etags(&m.repo, &m.local_commit);
    let blobs = m.repo.repo_path.join("blobs");
    let mut changed_files = Vec::new();
    let mut download_bytes = 0;
    for f in remote
        .files
        .iter()
        .filter(|f| m.files.keeps(f.path.as_str()))
    {
        if local.get(f.path.as_str()).map(String::as_str) == Some(f.etag().as_str()) {
            continue;
        }
        changed_files.push(f.path.to_string());
        if !blobs.join(f.etag().as_str()).is_file() {
            download_bytes += f.size;
        }
    }
    Outdated {
        id: m.repo.repo.id(),
        revision: m.revision.to_string(),
        local_commit: m.local_commit.clone(),
        remote_commit: remote.commit.to_string(),
        changed_files,
        download_bytes,
    }
}

/// Path → etag of the local commit: its listing when there is one, else
/// the names of the blobs its snapshot links to.
fn local_etags(repo: &CachedRepo, commit: &str) -> BTreeMap<String, String> {
    if let Some(listing) = TreeListing::entries(&TreeListing::dir(&repo.repo_path), commit) {
        return listing
            .into_iter()
            .map(|(path, e)| (path, e.etag().to_owned()))
            .collect();
    }
    let root = repo.repo_path.parent().unwrap_or(&repo.repo_path);
    snapshot_files(root, &repo.repo_path.join("snapshots").join(commit))
        .into_iter()
        .map(|f| {
            let etag = f.etag();
            (f.path, etag)
        })
        .collect()
}

/// What became of the old revision after an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct OldRevision {
    /// Its commit.
    pub commit: String,
    /// What `prune` frees by removing it (0 while another ref holds it).
    pub prunable_bytes: u64,
    /// Removed, after the new revision verified (`update --prune`).
    pub pruned: bool,
}

/// After a model moved from `old` to `new`: removes `old` when `prune` and
/// nothing else holds it, once `new` verified; else says what prune would free.
pub async fn settle_old(
    cache_dir: &Path,
    model: &Followed,
    old: &str,
    new: &str,
    prune: bool,
) -> Result<OldRevision> {
    let repo = &model.repo.repo;
    let plan = plan_delete(cache_dir, repo, &[old.to_owned()]);
    let still_held = crate::cache::scan_repo(cache_dir, repo)?
        .and_then(|s| s.repo.revisions.into_iter().find(|r| r.commit_hash == old))
        .is_some_and(|r| !r.refs.is_empty());
    let prunable_bytes = match (&plan, still_held) {
        (Ok(p), false) => p.freed_bytes,
        _ => 0,
    };
    let mut outcome = OldRevision {
        commit: old.to_owned(),
        prunable_bytes,
        pruned: false,
    };
    if prune && !still_held && old != new {
        verify(cache_dir, None, repo, Some(new))
            .await?
            .within(&model.files)
            .verdict()?;
        if let Ok(plan) = plan {
            execute_delete(cache_dir, &plan)?;
            outcome.pruned = true;
        }
    }
    Ok(outcome)
}
