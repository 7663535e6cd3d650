//! Manifest × cache: each model's state, size and folder, grouped by type.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;
use ts_rs::TS;

use crate::cache::{
    readiness, CacheReport, CachedRepo, Readiness, Ready, RefName, RepoId, RepoState, RepoType,
    ScanWarning,
};
use crate::download::config::DEFAULT_ENDPOINT;
use crate::error::{Error, Result};
use crate::file_set::FileSet;
use crate::manifest::{Manifest, ManifestModel, RepoKey, OTHER_GROUP};

/// What a user sees next to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ModelState {
    /// Every file of its revision that the file set selects is on disk.
    Downloaded,
    /// Some files are there; a download was cut short or is unfinished.
    Partial,
    /// Nothing of it is in the cache.
    NotDownloaded,
    /// A download of it is queued or running (here, or by another program holding its locks).
    Downloading,
    /// Something no download explains is wrong with it; `scan` says what.
    Corrupt,
}

impl ModelState {
    /// What a manifest model's readiness shows as.
    pub fn of(ready: Ready) -> Self {
        match ready {
            Ready::Ready => Self::Downloaded,
            Ready::Partial => Self::Partial,
            Ready::Missing => Self::NotDownloaded,
            Ready::Corrupt => Self::Corrupt,
        }
    }

    /// The name, as `list --json` writes it.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ModelStatus {
    /// Its hub id.
    pub id: String,
    /// What the product calls it.
    pub name: String,
    /// Who made it.
    pub team: String,
    /// The size of its embeddings, for embedding models.
    pub dimensions: Option<u32>,
    /// Its download size as the manifest states it, in MB.
    pub size_mb: Option<u64>,
    /// Its page (the hub's, for a model no manifest names).
    pub link: Option<String>,
    /// Whether it is there to use.
    pub state: ModelState,
    /// Finished blobs plus unfinished downloads: what the model takes on disk.
    pub size_on_disk: u64,
    /// The snapshot to load the model from (`main`'s), or the repo folder
    /// while no snapshot exists; `null` when nothing is on disk.
    pub path: Option<PathBuf>,
    /// Last access of its files, Unix seconds.
    pub last_accessed: Option<i64>,
    /// Last change of its files, Unix seconds.
    pub last_modified: Option<i64>,
    /// The refs it has in the cache (`main`, …).
    pub refs: Vec<String>,
    /// The revision the manifest asks for (`main` for models it does not name).
    pub revision: String,
    /// The commit that revision is at in the cache, when it is known here.
    pub commit: Option<String>,
    /// Bytes still to download for it to be whole: 0 when it is, the
    /// listing's missing files when there is one, else the manifest's size
    /// less what is on disk; `None` when nothing says.
    pub to_get_bytes: Option<u64>,
}

/// The models of one type, as `list` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct StatusGroup {
    /// The manifest's key (`embedding`), or `other`.
    #[serde(rename = "type")]
    pub model_type: String,
    /// Its models, in the manifest's order.
    pub models: Vec<ModelStatus>,
}

/// The answer of `haid-models list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ModelList {
    /// The cache listed.
    pub cache_dir: PathBuf,
    /// Everything the cache holds: finished blobs, unfinished downloads, and
    /// what unfinished deletes left (shown in `warnings` too).
    pub size_on_disk: u64,
    /// The manifest's types in order, then `other`: cached models no manifest names.
    pub groups: Vec<StatusGroup>,
    /// What the scan found odd.
    pub warnings: Vec<ScanWarning>,
    /// How many of the manifest's models are ready ([`ModelList::summary`]).
    pub summary: ListSummary,
}

/// Joins the manifest with a scan. `downloading` names the repos with a
/// download in flight (the download manager's registry).
pub fn model_list(
    manifest: &Manifest,
    report: &CacheReport,
    downloading: &HashSet<RepoId>,
) -> ModelList {
    // Built once: a search per model made the join manifest × cache
    // (40,000 models × 2,000 repos took 1.2 s).
    let repos = RepoIndex::of(report);
    let downloading: HashSet<RepoKey> = downloading.iter().map(RepoKey::of).collect();
    let listed: HashSet<RepoKey> = manifest.models().map(|m| RepoKey::of(&m.id)).collect();
    let state_of = |id: &RepoId, repo: Option<&CachedRepo>| {
        if downloading.contains(&RepoKey::of(id)) {
            return ModelState::Downloading;
        }
        // A model no manifest names has no file set: the scan's verdict.
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
                    let repo = repos.find(&m.id);
                    let ready = readiness(repo, &m.revision, &m.files);
                    let state = match state_of(&m.id, repo) {
                        ModelState::Downloading => ModelState::Downloading,
                        _ => ModelState::of(ready.state),
                    };
                    status(m, repo, state, Some(&ready))
                })
                .collect(),
        })
        .collect();
    let others = report
        .repos
        .iter()
        .filter(|r| {
            r.repo.repo_type() == RepoType::Model && !listed.contains(&RepoKey::of(&r.repo))
        })
        .map(|r| {
            status(
                &unlisted(&r.repo),
                Some(r),
                state_of(&r.repo, Some(r)),
                None,
            )
        })
        .collect();
    groups.push(StatusGroup {
        model_type: OTHER_GROUP.to_owned(),
        models: others,
    });
    let size_on_disk =
        report.size_on_disk + report.incomplete_size_on_disk + report.trash_size_on_disk;
    ModelList {
        cache_dir: report.cache_dir.clone(),
        size_on_disk,
        summary: summary_of(&groups, size_on_disk),
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
        self.summary = summary_of(&self.groups, self.size_on_disk);
        Ok(self)
    }

    /// Every model of every group, `other` included, in order.
    pub fn models(&self) -> impl Iterator<Item = &ModelStatus> {
        self.groups.iter().flat_map(|g| g.models.iter())
    }

    /// How many of the manifest's models are ready, and what the cache
    /// takes: the tray's status line and the page's header. Models only in
    /// the cache (group `other`) are not counted: nobody asked for them.
    pub fn summary(&self) -> ListSummary {
        self.summary
    }
}

fn summary_of(groups: &[StatusGroup], size_on_disk: u64) -> ListSummary {
    let wanted = groups
        .iter()
        .filter(|g| g.model_type != OTHER_GROUP)
        .flat_map(|g| &g.models);
    let mut summary = ListSummary {
        ready: 0,
        wanted: 0,
        size_on_disk,
        to_get_bytes: 0,
    };
    for m in wanted {
        summary.wanted += 1;
        if m.state == ModelState::Downloaded {
            summary.ready += 1;
        } else {
            summary.to_get_bytes += m.to_get_bytes.unwrap_or(0);
        }
    }
    summary
}

/// A [`ModelList`] in three numbers; shown as `4 of 5 models ready · 2.7 GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct ListSummary {
    /// The manifest's models that are downloaded.
    pub ready: usize,
    /// The manifest's models.
    pub wanted: usize,
    /// The whole cache on disk, as [`ModelList::size_on_disk`].
    pub size_on_disk: u64,
    /// What the manifest's models that are not ready still need, as far as
    /// it is known (each model's `to_get_bytes`).
    pub to_get_bytes: u64,
}

impl std::fmt::Display for ListSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Decimal gigabytes, one decimal: what a file manager shows.
        let gb = self.size_on_disk as f64 / 1e9;
        write!(
            f,
            "{} of {} models ready · {gb:.1} GB",
            self.ready, self.wanted
        )
    }
}

/// The scan's repos by id: the exact id first, else the same id in
/// another case (the hub treats ids case-insensitively, as the manifest does).
struct RepoIndex<'a> {
    exact: HashMap<&'a RepoId, &'a CachedRepo>,
    folded: HashMap<RepoKey, &'a CachedRepo>,
}

impl<'a> RepoIndex<'a> {
    fn of(report: &'a CacheReport) -> Self {
        let mut folded = HashMap::with_capacity(report.repos.len());
        for r in &report.repos {
            folded.entry(RepoKey::of(&r.repo)).or_insert(r);
        }
        Self {
            exact: report.repos.iter().map(|r| (&r.repo, r)).collect(),
            folded,
        }
    }

    fn find(&self, id: &RepoId) -> Option<&'a CachedRepo> {
        self.exact
            .get(id)
            .or_else(|| self.folded.get(&RepoKey::of(id)))
            .copied()
    }
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
        revision: RefName::main(),
        files: FileSet::all(),
    }
}

/// A model's row. `ready` is its readiness for a manifest model (its
/// revision and file set), `None` for a model only the cache has.
fn status(
    model: &ManifestModel,
    repo: Option<&CachedRepo>,
    state: ModelState,
    ready: Option<&Readiness>,
) -> ModelStatus {
    let commit = ready.and_then(|r| r.commit.clone());
    // The snapshot of the manifest's revision when it is here (a pinned
    // commit is not `main`'s), else `main`'s, else the repo folder.
    let pinned = repo.zip(commit.as_ref()).and_then(|(r, c)| {
        r.revisions
            .iter()
            .find(|rev| &rev.commit_hash == c)
            .map(|rev| rev.snapshot_path.clone())
    });
    let path = pinned.or_else(|| {
        repo.map(|r| {
            r.current_revision()
                .map_or_else(|| r.repo_path.clone(), |rev| rev.snapshot_path.clone())
        })
    });
    let size_on_disk = repo.map_or(0, CachedRepo::total_size_on_disk);
    let to_get_bytes = match ready {
        Some(r) if r.is_ready() => Some(0),
        Some(Readiness {
            missing_bytes: Some(bytes),
            ..
        }) => Some(*bytes),
        _ if state == ModelState::Downloaded => Some(0),
        _ => model
            .size_mb
            .map(|mb| (mb * 1_000_000).saturating_sub(size_on_disk)),
    };
    ModelStatus {
        id: model.id.id(),
        name: model.name.clone(),
        team: model.team.clone(),
        dimensions: model.dimensions,
        size_mb: model.size_mb,
        link: model.link.clone(),
        state,
        size_on_disk,
        path,
        last_accessed: repo.map(|r| r.last_accessed),
        last_modified: repo.map(|r| r.last_modified),
        refs: repo
            .map(|r| r.refs.keys().cloned().collect())
            .unwrap_or_default(),
        revision: model.revision.to_string(),
        commit,
        to_get_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A complete one-file repo in `root` under `folder`.
    fn cached(root: &Path, folder: &str) {
        let commit = "c".repeat(40);
        let dir = root.join(folder);
        let blob = "0".repeat(40);
        std::fs::create_dir_all(dir.join("blobs")).unwrap();
        std::fs::create_dir_all(dir.join("refs")).unwrap();
        std::fs::create_dir_all(dir.join("snapshots").join(&commit)).unwrap();
        std::fs::write(dir.join("blobs").join(&blob), "x").unwrap();
        std::fs::write(dir.join("refs/main"), &commit).unwrap();
        crate::test_fs::symlink(
            format!("../../blobs/{blob}"),
            dir.join("snapshots").join(&commit).join("f.txt"),
        )
        .unwrap();
    }

    #[test]
    fn models_are_matched_by_id_in_any_case_and_the_rest_is_other() {
        let tmp = tempfile::tempdir().unwrap();
        cached(tmp.path(), "models--Org--Model");
        cached(tmp.path(), "models--org--stray");
        let manifest = Manifest::parse(
            r#"{"embedding": [{"id": "org/model", "name": "m", "team": "org"},
                              {"id": "org/absent", "name": "a", "team": "org"},
                              {"id": "org/busy", "name": "b", "team": "org"}]}"#,
            Path::new("test.json"),
        )
        .unwrap();
        let report = crate::cache::scan_cache(tmp.path()).unwrap();
        let busy = HashSet::from([RepoId::model("ORG/Busy").unwrap()]);
        let list = model_list(&manifest, &report, &busy);
        let states: Vec<(String, ModelState)> =
            list.models().map(|m| (m.id.clone(), m.state)).collect();
        assert_eq!(
            states,
            [
                ("org/model".to_owned(), ModelState::Downloaded),
                ("org/absent".to_owned(), ModelState::NotDownloaded),
                ("org/busy".to_owned(), ModelState::Downloading),
                ("org/stray".to_owned(), ModelState::Downloaded),
            ]
        );
        assert_eq!(list.groups.last().unwrap().model_type, OTHER_GROUP);
        assert_eq!(list.groups.last().unwrap().models.len(), 1);
    }

    #[test]
    fn the_summary_counts_the_manifest_models_that_are_ready() {
        let tmp = tempfile::tempdir().unwrap();
        cached(tmp.path(), "models--org--model");
        cached(tmp.path(), "models--org--stray");
        let manifest = Manifest::parse(
            r#"{"embedding": [{"id": "org/model", "name": "m", "team": "org"}],
                "caption": [{"id": "org/absent", "name": "a", "team": "org"}]}"#,
            Path::new("test.json"),
        )
        .unwrap();
        let report = crate::cache::scan_cache(tmp.path()).unwrap();
        let mut list = model_list(&manifest, &report, &HashSet::new());
        let summary = list.summary();
        // The stray model (group other) is on disk but not wanted.
        assert_eq!((summary.ready, summary.wanted), (1, 2));
        assert_eq!(summary.size_on_disk, list.size_on_disk);
        // The page reads it from the list's JSON.
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json["summary"]["ready"], 1);
        assert_eq!(json["summary"]["wanted"], 2);
        // `--type` keeps one group, and the summary counts what is left.
        list = list.only_type("caption").unwrap();
        assert_eq!((list.summary().ready, list.summary().wanted), (0, 1));
        let shown = |ready, wanted, size_on_disk| {
            ListSummary {
                ready,
                wanted,
                size_on_disk,
                to_get_bytes: 0,
            }
            .to_string()
        };
        assert_eq!(shown(1, 2, 2_700_000_000), "1 of 2 models ready · 2.7 GB");
        assert_eq!(shown(0, 0, 0), "0 of 0 models ready · 0.0 GB");
    }
}
