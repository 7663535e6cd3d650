//! The manifest as a contract: `sync` brings every model it names to its
//! revision and file set, `sync --check` says offline whether they are
//! there, and `outdated` / `update` follow branches that moved upstream
//! ([`outdated`]).
//!
//! A pinned commit that is whole on disk needs no request at all, and no
//! model needs a byte it already has: the download reuses every blob by its
//! name (etag), Python's too.

pub mod outdated;
mod progress;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::cache::{readiness, scan_repo, RepoId};
use crate::download::{DownloadEvent, DownloadManager, DownloadRequest, EventSink};
use crate::error::{ErrorKind, Result};
use crate::manifest::{Manifest, ManifestModel};
use crate::ErrorReport;
pub use progress::SyncProgress;

/// One manifest model, as `sync --check` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ModelCheck {
    /// Its hub id.
    pub id: String,
    /// Its manifest type.
    #[serde(rename = "type")]
    pub model_type: String,
    /// The revision the manifest asks for.
    pub revision: String,
    /// Whether its file set of that revision is whole on disk.
    pub ready: bool,
    /// `downloaded`, `partial`, `not_downloaded` or `corrupt`.
    pub state: crate::status::ModelState,
    /// The commit of that revision here, when known.
    pub commit: Option<String>,
    /// Selected files missing (0 when it is not known which).
    pub missing_files: usize,
    /// Their bytes, when the cache's listing says.
    pub missing_bytes: Option<u64>,
}

/// The manifest's models of `model_type` (all types when `None`), with their type.
pub fn wanted<'m>(
    manifest: &'m Manifest,
    model_type: Option<&str>,
) -> Result<Vec<(&'m str, &'m ManifestModel)>> {
    if let Some(t) = model_type {
        if !manifest.types().any(|known| known == t) {
            return Err(crate::Error::UnknownModelType {
                name: t.to_owned(),
                known: manifest.types().collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(manifest
        .groups
        .iter()
        .filter(|g| model_type.is_none_or(|t| g.model_type == t))
        .flat_map(|g| g.models.iter().map(|m| (g.model_type.as_str(), m)))
        .collect())
}

/// Each model's readiness, read from the disk alone: no request, no write.
pub fn check(cache_dir: &Path, models: &[(&str, &ManifestModel)]) -> Result<Vec<ModelCheck>> {
    models
        .iter()
        .map(|(model_type, m)| check_one(cache_dir, model_type, m))
        .collect()
}

fn check_one(cache_dir: &Path, model_type: &str, m: &ManifestModel) -> Result<ModelCheck> {
    let repo = scan_repo(cache_dir, &m.id)?.map(|s| s.repo);
    let ready = readiness(repo.as_ref(), &m.revision, &m.files);
    Ok(ModelCheck {
        id: m.id.id(),
        model_type: model_type.to_owned(),
        revision: m.revision.to_string(),
        ready: ready.is_ready(),
        state: crate::status::ModelState::of(ready.state),
        commit: ready.commit,
        missing_files: ready.missing_files,
        missing_bytes: ready.missing_bytes,
    })
}

/// What `sync` reports besides each model's download events (NDJSON with `--json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SyncEvent {
    /// The whole set, summed over its models.
    SyncProgress(SyncProgress),
    /// A model is whole at its revision.
    ModelReady {
        /// The model.
        repo_id: String,
        /// The commit it is at.
        commit_hash: String,
        /// Whether the hub was asked (not for a whole pinned commit, or offline).
        asked_hub: bool,
    },
    /// A model could not be brought; the others go on.
    ModelFailed {
        /// The model.
        repo_id: String,
        /// Why, as the error kinds say it.
        kind: ErrorKind,
        /// What happened and what to do.
        message: String,
    },
}

/// The last line of `sync --json`: every model and whether it is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SyncReport {
    /// Models whole at their revision.
    pub ready: usize,
    /// Models that are not.
    pub not_ready: usize,
    /// Each model, in the manifest's order.
    pub models: Vec<SyncOutcome>,
}

/// One model of a `sync`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SyncOutcome {
    /// The model.
    pub id: String,
    /// The revision the manifest asks for.
    pub revision: String,
    /// The commit it is at, when it is ready.
    pub commit: Option<String>,
    /// Why it is not ready.
    pub error: Option<ErrorReport>,
}

/// Where `sync` reports: each model's download events, and its own.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // two closures
pub struct SyncSinks {
    /// Every model's [`DownloadEvent`]s.
    pub download: EventSink,
    /// The [`SyncEvent`]s.
    pub sync: Arc<dyn Fn(SyncEvent) + Send + Sync>,
}

/// Brings every model of `models` to its revision and file set through
/// `manager` (its limit on models at once applies). A model that fails does
/// not stop the others. Cancelling `cancel` cancels every download; what is
/// downloaded stays for the next run.
pub async fn sync(
    manager: &DownloadManager,
    cache_dir: &Path,
    models: &[(&str, &ManifestModel)],
    sinks: SyncSinks,
    cancel: &CancellationToken,
) -> Result<SyncReport> {
    let offline = manager.hub_config().is_some_and(|c| c.offline);
    let checks = check(cache_dir, models)?;
    let progress = SyncProgress::tracker(sinks.sync.clone(), models.len());
    let mut jobs = Vec::new();
    for ((_, model), checked) in models.iter().zip(&checks) {
        // A whole pinned commit cannot have moved; offline, the disk is all we have.
        if checked.ready && (model.is_pinned() || offline) {
            progress.ready(
                &model.id.id(),
                checked.commit.clone().unwrap_or_default(),
                false,
            );
            continue;
        }
        // A model already here stays whole at its old commit until the new one is.
        let req = DownloadRequest::for_model(model, checked.commit.is_some());
        let forward = sinks.download.clone();
        let tracked = progress.clone();
        let sink: EventSink = Arc::new(move |e: DownloadEvent| {
            tracked.observe(&e);
            forward(e);
        });
        jobs.push((model.id.clone(), manager.start(req, sink)));
    }
    let stop = cancel.clone();
    let canceller = {
        let manager = manager.clone();
        tokio::spawn(async move {
            stop.cancelled().await;
            manager.cancel_all();
        })
    };
    let mut failures: Vec<(RepoId, ErrorReport)> = Vec::new();
    for (repo, job) in jobs {
        let result = match job {
            Ok(handle) => match handle.await {
                Ok(done) => done.map_err(ErrorReport::from),
                // A download task that panicked: a bug, said as one.
                Err(e) => Err(ErrorReport::internal(e.to_string())),
            },
            Err(e) => Err(ErrorReport::from(e)),
        };
        match result {
            Ok(outcome) => progress.ready(&repo.id(), outcome.commit_hash, true),
            Err(report) => {
                progress.failed(&repo.id(), &report);
                failures.push((repo, report));
            }
        }
    }
    canceller.abort();
    progress.flush();
    report(cache_dir, models, failures)
}

/// The final state of every model, read again from the disk.
fn report(
    cache_dir: &Path,
    models: &[(&str, &ManifestModel)],
    failures: Vec<(RepoId, ErrorReport)>,
) -> Result<SyncReport> {
    let checks = check(cache_dir, models)?;
    let outcomes: Vec<SyncOutcome> = checks
        .into_iter()
        .map(|c| {
            let failed = failures.iter().find(|(r, _)| r.id() == c.id);
            let error = match (failed, c.ready) {
                (Some((_, e)), _) => Some(e.clone()),
                (None, true) => None,
                (None, false) => Some(not_ready(&c)),
            };
            SyncOutcome {
                id: c.id,
                revision: c.revision,
                commit: c.ready.then_some(c.commit).flatten(),
                error,
            }
        })
        .collect();
    let ready = outcomes.iter().filter(|o| o.error.is_none()).count();
    Ok(SyncReport {
        ready,
        not_ready: outcomes.len() - ready,
        models: outcomes,
    })
}

/// Why a model that did not fail is still not ready (damage, or files that
/// went missing while it ran).
fn not_ready(c: &ModelCheck) -> ErrorReport {
    let what = match c.state {
        crate::status::ModelState::Corrupt => "is damaged; `haid-models scan` says what is wrong",
        _ => "is not whole on disk; run `haid-models sync` again",
    };
    ErrorReport {
        kind: if c.state == crate::status::ModelState::Corrupt {
            ErrorKind::DamagedFiles
        } else {
            ErrorKind::NotFound
        },
        message: format!("{} at {} {what}", c.id, c.revision),
    }
}
