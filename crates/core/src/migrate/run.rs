//! Carries a plan out, one model after the other, with events for progress.
//! A model that fails does not stop the others; its sources stay.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use ts_rs::TS;

use super::folder::{self, Placed};
use super::hf_cache;
use super::journal::{FolderRecord, Journal};
use super::run_lock;
use super::{Layout, MigrationPlan, ModelOutcome, PlanItem};
use crate::cache::scan_repo;
use crate::download::placement::SnapshotStyle;
use crate::download::{Hub, HubConfig};
use crate::error::{Error, Result};

/// What `migrate` reports as it goes (NDJSON with `--json`).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum MigrateEvent {
    /// A model's migration begins.
    Started {
        /// The model.
        repo_id: String,
        /// What its files take.
        bytes: u64,
        /// How many files it has.
        files: usize,
    },
    /// A file (or blob) is in the cache, checked.
    File {
        /// The model.
        repo_id: String,
        /// The file's path in the repo (or the blob's name).
        path: String,
        /// Its size.
        bytes: u64,
    },
    /// A model is done (or failed: `error`).
    Model {
        /// What happened to it.
        #[serde(flatten)]
        outcome: ModelOutcome,
        /// Why it failed, if it did; its files then stay where they were.
        error: Option<String>,
    },
}

/// Where events go; called from the migration's tasks.
pub type MigrateSink = Arc<dyn Fn(MigrateEvent) + Send + Sync>;

/// The hub to check plain folders against; `None` works offline.
#[derive(Debug, Clone, Default)]
pub struct MigrateOptions {
    /// The hub that plain folders' files are checked against.
    pub hub: Option<Hub>,
    /// Why there is no hub (shown in the advice), when `hub` is `None`.
    pub offline_reason: Option<String>,
    /// `HF_HUB_DISABLE_SYMLINKS`: snapshots get plain files, as a download
    /// writes them then (and where the cache folder refuses symlinks).
    pub disable_symlinks: bool,
}

impl MigrateOptions {
    /// The hub as configured, or none when `HF_HUB_OFFLINE` is set.
    pub fn from_config(config: HubConfig, cache_dir: &Path) -> Result<Self> {
        if config.offline {
            return Ok(Self {
                hub: None,
                offline_reason: Some("HF_HUB_OFFLINE is set".into()),
                disable_symlinks: config.disable_symlinks,
            });
        }
        Ok(Self {
            disable_symlinks: config.disable_symlinks,
            hub: Some(Hub::new(config, cache_dir)?),
            offline_reason: None,
        })
    }
}

/// Migrates every model of `plan`; the outcomes, in plan order. Fails at
/// once, touching nothing, while another migration into the cache runs.
pub async fn run(
    plan: &MigrationPlan,
    opts: &MigrateOptions,
    sink: MigrateSink,
) -> Result<Vec<ModelOutcome>> {
    let _lock = run_lock::acquire(&plan.cache_dir)?;
    let mut outcomes = Vec::new();
    for item in &plan.models {
        sink(MigrateEvent::Started {
            repo_id: item.repo.id(),
            bytes: item.bytes,
            files: item.files,
        });
        let result = migrate_one(item, &plan.cache_dir, opts, sink.clone()).await;
        let (outcome, error) = match result {
            Ok(outcome) => (outcome, None),
            Err(e) => (failed(item), Some(e.to_string())),
        };
        sink(MigrateEvent::Model {
            outcome: outcome.clone(),
            error,
        });
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

async fn migrate_one(
    item: &PlanItem,
    cache_dir: &Path,
    opts: &MigrateOptions,
    sink: MigrateSink,
) -> Result<ModelOutcome> {
    let record = match item.layout {
        Layout::Folder => Some(folder_record(item, cache_dir, opts).await?),
        Layout::HfCache => None,
    };
    let (item, cache_dir) = (item.clone(), cache_dir.to_owned());
    let disable_symlinks = opts.disable_symlinks;
    blocking(move || {
        let style = SnapshotStyle::for_cache(&cache_dir, disable_symlinks);
        place_and_clean(&item, &cache_dir, style, record.as_ref(), &sink)
    })
    .await
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::InvalidArgument {
            what: "migration",
            value: e.to_string(),
            reason: "the migration's file work stopped".into(),
        })?
}

/// The folder's record: from the journal when an earlier run was cut short
/// (its moved files are known only there), else resolved now and journaled
/// before any file moves.
async fn folder_record(
    item: &PlanItem,
    cache_dir: &Path,
    opts: &MigrateOptions,
) -> Result<FolderRecord> {
    if let Some(record) = Journal::open(cache_dir)?.folder(&item.source) {
        return Ok(record.clone());
    }
    let remote = match &opts.hub {
        Some(hub) => hub
            .snapshot(&item.repo, &crate::cache::RefName::main())
            .await
            .map_err(|e| e.to_string()),
        None => Err(opts
            .offline_reason
            .clone()
            .unwrap_or_else(|| "offline".into())),
    };
    let (item, dir) = (item.clone(), cache_dir.to_owned());
    blocking(move || {
        let record = folder::resolve(&item, remote)?;
        Journal::open(&dir)?.record(&item.source, record.clone())?;
        Ok(record)
    })
    .await
}

fn place_and_clean(
    item: &PlanItem,
    cache_dir: &Path,
    style: SnapshotStyle,
    record: Option<&FolderRecord>,
    sink: &MigrateSink,
) -> Result<ModelOutcome> {
    let repo_id = item.repo.id();
    let mut on_file = |path: &str, bytes: u64| {
        sink(MigrateEvent::File {
            repo_id: repo_id.clone(),
            path: path.to_owned(),
            bytes,
        })
    };
    let placed = match record {
        Some(r) => folder::place(item, cache_dir, style, r, &mut on_file)?,
        None => hf_cache::place(item, cache_dir, style, &mut on_file)?,
    };
    check_target(item, cache_dir)?;
    match record {
        Some(r) => {
            folder::remove_source(item, r);
            Journal::open(cache_dir)?.finish(&item.source)?;
        }
        None => hf_cache::remove_source(item, &placed)?,
    }
    Ok(outcome(item, cache_dir, record, placed))
}

/// The cache's scan of the new entry must find it readable: a repo it calls
/// corrupt means something went wrong, and the sources stay.
fn check_target(item: &PlanItem, cache_dir: &Path) -> Result<()> {
    let scan = scan_repo(cache_dir, &item.repo)?;
    match scan {
        Some(s) if s.repo.state == crate::cache::RepoState::Empty => Err(Error::CacheDir {
            path: s.repo.repo_path,
            message: "after migrating, the repo holds no file; the source folder was kept".into(),
        }),
        Some(s) if s.repo.state != crate::cache::RepoState::Corrupt => Ok(()),
        Some(s) => Err(Error::CacheDir {
            path: s.repo.repo_path,
            message: format!(
                "after migrating, the scan finds it damaged ({}); the source folder was kept",
                s.warnings
                    .first()
                    .map_or("no detail", |w| w.message.as_str())
            ),
        }),
        None => Err(Error::CacheDir {
            path: item.target.clone(),
            message: "after migrating, the repo is not in the cache; the source folder was kept"
                .into(),
        }),
    }
}

fn outcome(
    item: &PlanItem,
    cache_dir: &Path,
    record: Option<&FolderRecord>,
    placed: Placed,
) -> ModelOutcome {
    let commit = record
        .map(|r| r.commit.clone())
        .or_else(|| main_commit(&item.repo.repo_dir(cache_dir)));
    ModelOutcome {
        repo: item.repo.clone(),
        layout: item.layout,
        method: item.method,
        commit,
        local_commit: record.is_some_and(|r| r.local_commit),
        checked_with_hub: record.is_some_and(|r| r.checked_with_hub),
        files: placed.files,
        bytes: placed.bytes,
        problems: placed.problems,
        source_removed: !item.source.exists(),
        advice: record.and_then(|r| r.advice.clone()),
    }
}

fn main_commit(repo_dir: &Path) -> Option<String> {
    std::fs::read_to_string(repo_dir.join("refs/main"))
        .ok()
        .map(|c| c.trim().to_owned())
}

fn failed(item: &PlanItem) -> ModelOutcome {
    ModelOutcome {
        repo: item.repo.clone(),
        layout: item.layout,
        method: item.method,
        commit: None,
        local_commit: false,
        checked_with_hub: false,
        files: 0,
        bytes: 0,
        problems: Vec::new(),
        source_removed: false,
        advice: None,
    }
}
