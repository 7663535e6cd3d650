//! Manifest × cache: each model's state, size and folder, grouped by type.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::cache::{CacheReport, CachedRepo, RepoId, RepoState, RepoType, ScanWarning};
use crate::download::config::DEFAULT_ENDPOINT;
use crate::error::{Error, Result};
use crate::manifest::{same_repo, Manifest, ManifestModel, OTHER_GROUP};

/// What a user sees next to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelState {
    Downloaded,
    Partial,
    NotDownloaded,
    Downloading,
    Corrupt,
}

impl ModelState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Downloaded => "downloaded",
            Self::Partial => "partial",
            Self::NotDownloaded => "not_downloaded",
            Self::Downloading => "downloading",
            Self::Corrupt => "corrupt",
        }
    }
}

/// One row of `haid-models list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelStatus {
    pub id: String,
    pub name: String,
    pub team: String,
    pub dimensions: Option<u32>,
    pub size_mb: Option<u64>,
    pub link: Option<String>,
    pub state: ModelState,
    /// Finished blobs plus unfinished downloads: what the model takes on disk.
    pub size_on_disk: u64,
    /// The snapshot to load the model from (`main`'s), or the repo folder
    /// while no snapshot exists; `null` when nothing is on disk.
    pub path: Option<PathBuf>,
    pub last_accessed: Option<i64>,
    pub last_modified: Option<i64>,
    pub refs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusGroup {
    #[serde(rename = "type")]
    pub model_type: String,
    pub models: Vec<ModelStatus>,
}

/// The answer of `haid-models list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelList {
    pub cache_dir: PathBuf,
    /// Everything the cache holds: finished blobs, unfinished downloads, and
    /// what unfinished deletes left (shown in `warnings` too).
    pub size_on_disk: u64,
    pub groups: Vec<StatusGroup>,
    pub warnings: Vec<ScanWarning>,
}

/// Joins the manifest with a scan. `downloading` names the repos with a
/// download in flight (the download manager's registry).
pub fn model_list(
    manifest: &Manifest,
    report: &CacheReport,
    downloading: &HashSet<RepoId>,
) -> ModelList {
    let state_of = |id: &RepoId, repo: Option<&CachedRepo>| {
        if downloading.iter().any(|d| same_repo(d, id)) {
            return ModelState::Downloading;
        }
        match repo.map(|r| r.state) {
            // Folders without a file (a killed migration's skeleton) are no model.
            None | Some(RepoState::Empty) => ModelState::NotDownloaded,
            Some(RepoState::Complete) => ModelState::Downloaded,
            Some(RepoState::Partial) => ModelState::Partial,
            Some(RepoState::Corrupt) => ModelState::Corrupt,
        }
    };
    let mut groups: Vec<StatusGroup> = manifest
        .groups
        .iter()
        .map(|g| StatusGroup {
            model_type: g.model_type.clone(),
            models: g
                .models
                .iter()
                .map(|m| {
                    let repo = find_repo(report, &m.id);
                    status(m, repo, state_of(&m.id, repo))
                })
                .collect(),
        })
        .collect();
    let others = report
        .repos
        .iter()
        .filter(|r| r.repo.repo_type() == RepoType::Model && !manifest.contains(&r.repo))
        .map(|r| status(&unlisted(&r.repo), Some(r), state_of(&r.repo, Some(r))))
        .collect();
    groups.push(StatusGroup {
        model_type: OTHER_GROUP.to_owned(),
        models: others,
    });
    ModelList {
        cache_dir: report.cache_dir.clone(),
        size_on_disk: report.size_on_disk
            + report.incomplete_size_on_disk
            + report.trash_size_on_disk,
        groups,
        warnings: report.warnings.clone(),
    }
}

impl ModelList {
    /// Keeps only the group of `model_type`; an unknown type is an error that
    /// lists the known ones.
    pub fn only_type(mut self, model_type: &str) -> Result<Self> {
        if !self.groups.iter().any(|g| g.model_type == model_type) {
            let known: Vec<&str> = self.groups.iter().map(|g| g.model_type.as_str()).collect();
            return Err(Error::UnknownModelType {
                name: model_type.to_owned(),
                known: known.join(", "),
            });
        }
        self.groups.retain(|g| g.model_type == model_type);
        Ok(self)
    }

    pub fn models(&self) -> impl Iterator<Item = &ModelStatus> {
        self.groups.iter().flat_map(|g| g.models.iter())
    }
}

fn find_repo<'a>(report: &'a CacheReport, id: &RepoId) -> Option<&'a CachedRepo> {
    report
        .repos
        .iter()
        .find(|r| &r.repo == id)
        .or_else(|| report.repos.iter().find(|r| same_repo(&r.repo, id)))
}

/// A manifest-like entry for a cached model no manifest names.
fn unlisted(id: &RepoId) -> ManifestModel {
    ManifestModel {
        id: id.clone(),
        name: id.name().to_owned(),
        team: id.org().unwrap_or_default().to_owned(),
        dimensions: None,
        size_mb: None,
        link: Some(id.hub_url(DEFAULT_ENDPOINT)),
    }
}

fn status(model: &ManifestModel, repo: Option<&CachedRepo>, state: ModelState) -> ModelStatus {
    let path = repo.map(|r| {
        r.current_revision()
            .map_or_else(|| r.repo_path.clone(), |rev| rev.snapshot_path.clone())
    });
    ModelStatus {
        id: model.id.id(),
        name: model.name.clone(),
        team: model.team.clone(),
        dimensions: model.dimensions,
        size_mb: model.size_mb,
        link: model.link.clone(),
        state,
        size_on_disk: repo.map_or(0, CachedRepo::total_size_on_disk),
        path,
        last_accessed: repo.map(|r| r.last_accessed),
        last_modified: repo.map(|r| r.last_modified),
        refs: repo
            .map(|r| r.refs.keys().cloned().collect())
            .unwrap_or_default(),
    }
}
