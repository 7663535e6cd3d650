//! Downloads that never lose a byte: through the hub's listing (hf-hub),
//! resumable from `.incomplete` files, verified before commit, locked with
//! the same lock files as huggingface_hub, with progress events.
//!
//! Order of work, chosen so an interruption at any point leaves a cache that
//! reads as `partial` (never as garbage to prune) and resumes: resolve the
//! commit → check disk space → write `trees/<commit>.json`, then
//! `refs/<rev>` → fetch each blob under its lock → link the snapshot.
//! A Xet file joins huggingface_hub 2.5's shared blob store under the same
//! lock: linked to a payload that holds its bytes instead of fetched, or
//! published once fetched (`shared_blobs`).

mod api_retry;
mod blob_writer;
pub mod config;
mod content_hash;
pub mod crash;
pub mod http;
mod hub_errors;
pub mod layout;
pub mod listing;
pub mod lock;
pub mod manager;
mod ordered_hash;
mod parallel;
pub mod placement;
mod plan;
mod positioned;
pub mod progress;
mod ranges_file;
pub mod rate;
pub mod remote;
mod shared_blobs;
mod spans;
mod transfer;
mod xet_hash;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use config::{HubConfig, ParallelPolicy, RetryPolicy};
pub use manager::DownloadManager;
pub use progress::{no_events, DownloadEvent, EventSink, ModelProgress};
pub use rate::RateLimit;
pub use remote::{Hub, RemoteFile, RemoteSnapshot};

use crate::cache::{scan_repo, BlobName, CommitHash, RefName, RepoId};
use crate::error::{Error, ErrorKind, Result};
use crate::file_set::FileSet;
use placement::SnapshotStyle;
pub use plan::free_space;
use plan::{check_space, Plan};
use shared_blobs::StoreFile;

/// Files fetched at once within one model.
pub const DEFAULT_FILE_CONCURRENCY: usize = 8;

/// What to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRequest {
    /// The model to download.
    pub repo: RepoId,
    /// A branch, tag or commit; `main` by default.
    pub revision: RefName,
    /// The files to fetch (all by default).
    pub files: FileSet,
    /// Move a branch's ref only once every file is in place, so the model
    /// stays at its old revision, whole, until the new one is (`update`).
    /// Otherwise the ref is written first, so that a download cut short
    /// reads as `partial` and is never pruned as a detached revision.
    pub ref_last: bool,
}

impl DownloadRequest {
    /// A manifest model at its revision, with its file set. `ref_last` when
    /// it is already here at another commit (see [`DownloadRequest::ref_last`]).
    pub fn for_model(model: &crate::manifest::ManifestModel, ref_last: bool) -> Self {
        Self {
            repo: model.id.clone(),
            revision: model.revision.clone(),
            files: model.files.clone(),
            ref_last,
        }
    }

    /// All files of `main`.
    pub fn new(repo: RepoId) -> Self {
        Self {
            repo,
            revision: RefName::main(),
            files: FileSet::all(),
            ref_last: false,
        }
    }
}

/// The final line of `download --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownloadOutcome {
    /// The model downloaded.
    pub repo_id: String,
    /// The commit its files are of.
    pub commit_hash: String,
    /// The folder to load the model from.
    pub snapshot_path: PathBuf,
    /// What the repo takes on disk now.
    pub size_on_disk: u64,
}

/// Downloads `req` into `cache_dir`. Nothing is requested before the
/// request is validated and offline mode checked.
pub async fn download(
    cache_dir: &Path,
    hub: &Hub,
    req: &DownloadRequest,
    sink: EventSink,
    cancel: &CancellationToken,
    file_concurrency: usize,
) -> Result<DownloadOutcome> {
    if hub.config.offline {
        return Err(Error::Offline {
            repo: req.repo.id(),
        });
    }
    // Cancellable: the hub's API calls may be waiting out a rate limit.
    let snapshot = tokio::select! {
        () = cancel.cancelled() => return Err(Error::Cancelled { repo: req.repo.id() }),
        s = hub.snapshot(&req.repo, &req.revision) => s?,
    };
    let files: Vec<&RemoteFile> = snapshot
        .files
        .iter()
        .filter(|f| req.files.keeps(f.path.as_str()))
        .collect();
    if files.is_empty() {
        return Err(Error::NotFound {
            what: format!("files in {} matching --include/--exclude", req.repo),
        });
    }
    // Space is checked before anything is written: a refusal leaves no ref
    // to a commit that has no snapshot.
    let style = SnapshotStyle::for_cache(cache_dir, hub.config.disable_symlinks);
    let repo_dir = req.repo.repo_dir(cache_dir);
    let blobs_dir = repo_dir.join("blobs");
    let placed = |f: &RemoteFile| {
        style == SnapshotStyle::Files
            && placement::is_placed(&repo_dir, &snapshot.commit, &f.path, f.size)
    };
    // A file the shared store holds is linked, not fetched: no space for it.
    let in_store = |f: &RemoteFile| {
        StoreFile::of(&hub.config, style, cache_dir, &blobs_dir, f)
            .is_some_and(|s| s.payload_there())
    };
    let plan = Plan::of(&blobs_dir, &files, placed, in_store);
    check_space(cache_dir, plan.to_fetch)?;
    let repo_dir = layout::prepare_repo(cache_dir, &req.repo)?;
    // Without symlinks, a blob an older revision still links to (a cache
    // that had symlinks before) is copied, never moved out from under it.
    let linked = match style {
        SnapshotStyle::Files => placement::linked_blobs(&repo_dir),
        SnapshotStyle::Symlinks => HashSet::new(),
    };
    // The listing before the ref: a ref is only ever written to a commit
    // whose files are known, so a kill between them reads as `partial`.
    layout::write_listing(&repo_dir, &snapshot.commit, snapshot.listing())?;
    let moves_ref = req.revision.as_commit().is_none();
    if moves_ref && !req.ref_last {
        layout::write_ref(&repo_dir, &req.revision, &snapshot.commit)?;
    }
    let progress = ModelProgress::new(req.repo.id(), plan.total, plan.finished, sink.clone());
    progress.emit(DownloadEvent::Resolved {
        repo_id: req.repo.id(),
        commit_hash: snapshot.commit.to_string(),
        total_files: files.len(),
        total_bytes: plan.total,
        present_bytes: plan.finished + plan.partial,
    });

    let job = Job {
        repo_dir: &repo_dir,
        cache_dir,
        hub,
        repo: &req.repo,
        commit: &snapshot.commit,
        blobs_dir: &blobs_dir,
        cancel,
        progress: &progress,
        style,
        shared: shared_etags(&files),
        linked: &linked,
    };
    // Futures collected first: a closure inside the stream type makes the
    // whole download future fail the `Send` check (rust-lang/rust#102211).
    let fetches: Vec<_> = files.iter().map(|file| job.fetch(file)).collect();
    let results: Vec<Result<()>> = stream::iter(fetches)
        .buffer_unordered(file_concurrency.max(1))
        .collect()
        .await;
    progress.flush();
    if let Some(err) = first_error(results) {
        return Err(err);
    }
    place_all(style, &repo_dir, &snapshot.commit, &files, &linked)?;
    if moves_ref && req.ref_last {
        layout::write_ref(&repo_dir, &req.revision, &snapshot.commit)?;
    }
    let size_on_disk = scan_repo(cache_dir, &req.repo)?.map_or(0, |s| s.repo.size_on_disk);
    let outcome = DownloadOutcome {
        repo_id: req.repo.id(),
        commit_hash: snapshot.commit.to_string(),
        snapshot_path: repo_dir.join("snapshots").join(snapshot.commit.as_str()),
        size_on_disk,
    };
    progress.emit(DownloadEvent::Done {
        repo_id: outcome.repo_id.clone(),
        commit_hash: outcome.commit_hash.clone(),
        snapshot_path: outcome.snapshot_path.clone(),
        size_on_disk,
    });
    Ok(outcome)
}

/// Every file in its snapshot. Without symlinks, a blob two paths share
/// is copied for each but the last still to place, which gets the blob
/// (unless `linked`: then every path gets a copy).
fn place_all(
    style: SnapshotStyle,
    repo_dir: &Path,
    commit: &CommitHash,
    files: &[&RemoteFile],
    linked: &HashSet<BlobName>,
) -> Result<()> {
    for (i, file) in files.iter().enumerate() {
        let keep_blob = style == SnapshotStyle::Files
            && (linked.contains(file.etag())
                || files[i + 1..].iter().any(|later| {
                    later.etag() == file.etag()
                        && !placement::is_placed(repo_dir, commit, &later.path, later.size)
                }));
        placement::place(style, repo_dir, commit, &file.path, file.etag(), keep_blob)?;
    }
    Ok(())
}

/// Etags that more than one of `files` has (identical files at two paths).
fn shared_etags(files: &[&RemoteFile]) -> HashSet<BlobName> {
    let mut seen = HashSet::new();
    files
        .iter()
        .filter(|f| !seen.insert(f.etag().clone()))
        .map(|f| f.etag().clone())
        .collect()
}

/// The most telling error: a cancel or full disk says more than the
/// failures it caused in other files.
fn first_error(results: Vec<Result<()>>) -> Option<Error> {
    let mut errors: Vec<Error> = results.into_iter().filter_map(Result::err).collect();
    let rank = |e: &Error| match e.kind() {
        ErrorKind::Cancelled => 0,
        ErrorKind::DiskFull => 1,
        _ => 2,
    };
    errors.sort_by_key(rank);
    errors.into_iter().next()
}

/// Everything one file's fetch needs.
struct Job<'a> {
    repo_dir: &'a Path,
    cache_dir: &'a Path,
    hub: &'a Hub,
    repo: &'a RepoId,
    commit: &'a CommitHash,
    blobs_dir: &'a Path,
    cancel: &'a CancellationToken,
    progress: &'a Arc<ModelProgress>,
    style: SnapshotStyle,
    /// Placed only once all are fetched (see [`place_all`]): moving the
    /// blob for one path would make the other fetch it again.
    shared: HashSet<BlobName>,
    /// Blobs a snapshot symlink needs: copied, never moved.
    linked: &'a HashSet<BlobName>,
}

impl Job<'_> {
    async fn fetch(&self, file: &RemoteFile) -> Result<()> {
        let blob = self.blobs_dir.join(file.etag().as_str());
        let files = self.style == SnapshotStyle::Files;
        let placed =
            || files && placement::is_placed(self.repo_dir, self.commit, &file.path, file.size);
        if blob_is_there(&blob, file.size) || placed() {
            return Ok(());
        }
        let fp = self.progress.file(file.path.as_str(), file.size);
        let _lock = lock::acquire(self.cache_dir, self.repo, file.etag(), self.cancel, || {
            fp.waiting("another download (this app or another program) is writing this file; waiting for it")
        })
        .await?;
        // Whoever held the lock may have finished the blob (and, without
        // symlinks, moved it into this very snapshot); another revision's
        // snapshot may hold a copy.
        if placed() {
            fp.done();
            return Ok(());
        }
        let restored = || files && placement::restore_blob(self.repo_dir, file.etag(), file.size);
        if !blob_is_there(&blob, file.size) && !restored() {
            self.bring(file, &fp).await?;
        }
        // Linked at once (as huggingface_hub does): a download stopped later
        // leaves a usable, partial snapshot, not unreferenced blobs.
        if !(files && self.shared.contains(file.etag())) {
            placement::place(
                self.style,
                self.repo_dir,
                self.commit,
                &file.path,
                file.etag(),
                self.linked.contains(file.etag()),
            )?;
        }
        fp.done();
        Ok(())
    }

    /// Makes the blob of `file` exist: linked to the shared store's payload
    /// when that holds its bytes, else downloaded (and, a Xet file, published
    /// to the store). A reused file counts as already there: no byte of it
    /// is reported received, and its `file_done` moves it to the finished total.
    async fn bring(&self, file: &RemoteFile, fp: &progress::FileProgress) -> Result<()> {
        let store = StoreFile::of(
            &self.hub.config,
            self.style,
            self.cache_dir,
            self.blobs_dir,
            file,
        );
        if let Some(store) = &store {
            if store.reuse().await {
                return Ok(());
            }
        }
        let transfer = transfer::Transfer {
            hub: self.hub,
            repo: self.repo,
            commit: self.commit,
            file,
            blobs_dir: self.blobs_dir,
            cancel: self.cancel,
            progress: fp,
            xet: store.is_some(),
        };
        let xet = transfer.run().await?;
        match store {
            Some(store) => store.publish(xet).await,
            None => Ok(()),
        }
    }
}

fn blob_is_there(blob: &Path, size: u64) -> bool {
    std::fs::metadata(blob).is_ok_and(|m| m.is_file() && m.len() == size)
}
