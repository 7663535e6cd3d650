//! Finds the old layouts under a folder and plans their migration. Reads
//! only: a dry run is this and nothing else. The CLI and the app both start
//! from [`plan`], so a missing folder means the same to both.

use std::fs;
use std::path::{Path, PathBuf};

use super::files::{holds_files, same_file_system, tally};
use super::journal::Journal;
use super::{Layout, Method, MigrationPlan, PlanItem};
use crate::cache::paths::file_name;
use crate::cache::shared_store::SharedStore;
use crate::cache::{RepoId, ScanWarning};
use crate::error::{Error, Result};

/// Where the embedding service kept its plain model folders.
pub(crate) const FOLDER_LAYOUT: [&str; 2] = ["embedding", "models"];
/// Where the caption service kept its private caches.
pub(crate) const HF_CACHE_LAYOUT: &str = "image-caption";

/// Where the old folders are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldFolder<'a> {
    /// A folder the user named (`migrate --from DIR`): one that is not
    /// there is a mistake (a typo), said as an error.
    Named(&'a Path),
    /// The usual place (`HAID_DATA_DIR`, else the platform's data folder),
    /// which the app and a plain `migrate` look in: most machines never had
    /// the old services, so no folder there means nothing to migrate.
    Usual(&'a Path),
}

/// Plans the migration of every model found in the old folder into
/// `cache_dir`. Reads only: a dry run is this and nothing else.
pub fn plan(from: OldFolder<'_>, cache_dir: &Path) -> Result<MigrationPlan> {
    match from {
        OldFolder::Usual(dir) if !dir.is_dir() => Ok(MigrationPlan {
            from: dir.to_owned(),
            from_exists: false,
            cache_dir: cache_dir.to_owned(),
            models: Vec::new(),
            warnings: Vec::new(),
        }),
        OldFolder::Usual(dir) | OldFolder::Named(dir) => detect(dir, cache_dir),
    }
}

/// Plans the migration of every model found under `from` into `cache_dir`.
fn detect(from: &Path, cache_dir: &Path) -> Result<MigrationPlan> {
    if !from.is_dir() {
        return Err(Error::InvalidArgument {
            what: "folder to migrate from",
            value: from.display().to_string(),
            reason: "it is not a folder; pass the old data folder, the one that holds \
                     embedding/ and image-caption/ (HAID_DATA_DIR)"
                .into(),
        });
    }
    let mut plan = MigrationPlan {
        from: from.to_owned(),
        from_exists: true,
        cache_dir: cache_dir.to_owned(),
        models: Vec::new(),
        warnings: Vec::new(),
    };
    let folders = FOLDER_LAYOUT.iter().fold(from.to_owned(), |p, s| p.join(s));
    // A folder whose files a cut-short run already moved is still to finish.
    let journal = Journal::open(cache_dir).ok();
    let unfinished = |dir: &Path| journal.as_ref().is_some_and(|j| j.folder(dir).is_some());
    for (dir, id) in plain_folders(&folders, &unfinished, &mut plan.warnings) {
        plan.models
            .push(item(id, Layout::Folder, dir.clone(), dir, cache_dir));
    }
    for (repo_dir, container, id) in private_caches(&from.join(HF_CACHE_LAYOUT), &mut plan.warnings)
    {
        plan.models
            .push(item(id, Layout::HfCache, repo_dir, container, cache_dir));
    }
    plan.models.sort_by_key(|m| m.repo.id());
    Ok(plan)
}

fn item(
    repo: RepoId,
    layout: Layout,
    source: PathBuf,
    container: PathBuf,
    cache_dir: &Path,
) -> PlanItem {
    let (mut files, mut bytes) = tally(&source);
    if layout == Layout::HfCache {
        let (n, shared) = shared_payloads(&source);
        files += n;
        bytes += shared;
    }
    let method = if same_file_system(&source, cache_dir) {
        Method::Move
    } else {
        Method::Copy
    };
    PlanItem {
        target: repo.repo_dir(cache_dir),
        repo,
        layout,
        source,
        bytes,
        files,
        method,
        container,
    }
}

/// The payloads of huggingface_hub 2.5's store that a private cache's repo
/// links to: migrated as copies of their bytes, so counted in the plan.
fn shared_payloads(repo_dir: &Path) -> (usize, u64) {
    let Ok(entries) = std::fs::read_dir(repo_dir.join("blobs")) else {
        return (0, 0);
    };
    let Some(store) = repo_dir.parent().and_then(SharedStore::open) else {
        return (0, 0);
    };
    entries
        .flatten()
        .filter_map(|e| store.linked_payload(&e.path()))
        .fold((0, 0), |(n, bytes), p| (n + 1, bytes + p.size))
}

/// `embedding/models/{org}/{model}/` folders that hold at least one file.
fn plain_folders(
    root: &Path,
    unfinished: &dyn Fn(&Path) -> bool,
    warnings: &mut Vec<ScanWarning>,
) -> Vec<(PathBuf, RepoId)> {
    let mut out = Vec::new();
    for org in subfolders(root) {
        for model in subfolders(&org) {
            let id = format!("{}/{}", file_name(&org), file_name(&model));
            match RepoId::model(&id) {
                Ok(id) if tally(&model).0 > 0 || unfinished(&model) => out.push((model, id)),
                Ok(_) => {} // an empty folder: nothing to migrate
                Err(e) => warnings.push(ScanWarning {
                    path: model,
                    message: format!("not a model folder we can name ({e}); left alone"),
                }),
            }
        }
    }
    out
}

/// `image-caption/{Org}--{model}/models--Org--model/` repos: (repo, its private cache, id).
fn private_caches(root: &Path, warnings: &mut Vec<ScanWarning>) -> Vec<(PathBuf, PathBuf, RepoId)> {
    let mut out = Vec::new();
    for cache in subfolders(root) {
        let repos: Vec<_> = subfolders(&cache)
            .into_iter()
            .filter(|d| file_name(d).contains("--"))
            .collect();
        if repos.is_empty() {
            warnings.push(ScanWarning {
                path: cache.clone(),
                message: "no models--org--name folder inside; left alone".into(),
            });
        }
        for repo in repos {
            match RepoId::from_folder_name(&file_name(&repo)) {
                // Blobs, or (after a cut-short run moved them all) the
                // snapshot links and refs still to merge and clean up.
                Ok(_) if !holds_files(&repo) => warnings.push(ScanWarning {
                    path: repo,
                    message: "holds no downloaded file; left alone".into(),
                }),
                Ok(id) => out.push((repo, cache.clone(), id)),
                Err(e) => warnings.push(ScanWarning {
                    path: repo,
                    message: format!("not a cache repo folder ({e}); left alone"),
                }),
            }
        }
    }
    out
}

/// Real sub-folders (a symlink is not followed: it may lead anywhere).
fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| !file_name(p).starts_with('.'))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_usual_folder_is_nothing_to_migrate_and_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        let (gone, cache) = (tmp.path().join("haid"), tmp.path().join("hub"));
        let plan = plan(OldFolder::Usual(&gone), &cache).unwrap();
        assert!(plan.models.is_empty() && plan.warnings.is_empty());
        assert!(!plan.from_exists);
        let said = plan.nothing_to_migrate().unwrap();
        assert!(said.contains("there is no old data folder"), "{said}");
        assert!(said.contains(&gone.display().to_string()), "{said}");
        // A file where the folder would be is no old data folder either.
        std::fs::write(&gone, "").unwrap();
        assert!(
            !super::plan(OldFolder::Usual(&gone), &cache)
                .unwrap()
                .from_exists
        );
        assert!(!cache.exists(), "a plan writes nothing");
    }

    #[test]
    fn a_named_folder_that_is_not_there_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let gone = tmp.path().join("typo");
        let err = plan(OldFolder::Named(&gone), &tmp.path().join("hub")).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("not a folder"), "{err}");
    }

    #[test]
    fn an_empty_folder_is_nothing_to_migrate_under_it() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("hub");
        for from in [OldFolder::Usual(tmp.path()), OldFolder::Named(tmp.path())] {
            let plan = plan(from, &cache).unwrap();
            assert!(plan.from_exists);
            assert_eq!(
                plan.nothing_to_migrate().unwrap(),
                format!("Nothing to migrate under {}.", tmp.path().display())
            );
        }
    }
}
