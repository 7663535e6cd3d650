//! Deleting a repo, or chosen revisions of it, with the semantics of
//! huggingface_hub's `DeleteCacheStrategy`: a blob goes only when no
//! remaining snapshot points to it, refs to a deleted revision go, and the
//! whole repo goes when no revision is left. Plan first (the dry run), then
//! execute; only a parsed [`RepoId`] ever becomes a path.
//!
//! A blob that links into huggingface_hub 2.5's shared store goes as 2.5
//! removes it: the link first, then, under the payload's lock, the payload's
//! `.refs` is rewritten and the payload removed only when no valid
//! reference is left. Its bytes count as freed only then
//! ([`SharedStore::freed_by`], 2.5's `expected_freed_size`).
//!
//! A whole repo is renamed to `.trash-…` and then removed. When the removal
//! fails halfway (a permission), the rest stays in the trash, the scan lists
//! it with its size, and the error says how to finish: `delete` again (which
//! plans the leftovers of the repo) or `prune`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use ts_rs::TS;

use super::repo::RepoId;
use super::report::TrashLeft;
use super::safe_fs::{
    finish_advice, finish_trash, move_to_trash, remove_inside, shown_size, size_of, trash_dirs,
};
use super::scan::{canonical_root, scan_repo};
use super::shared_store::{SharedLinks, SharedStore};
use super::snapshot::snapshot_files;
use crate::download::lock;
use crate::error::{Error, Result, UnfinishedDelete};

/// What a delete will remove, and the bytes it frees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DeletePlan {
    /// The repo the plan is for.
    #[serde(flatten)]
    pub repo: RepoId,
    /// The whole repo goes (no revision was named, or every one was).
    pub whole_repo: bool,
    /// Commit hashes of the revisions that go.
    pub revisions: Vec<String>,
    /// Every file or folder that will be removed, in order.
    pub deleted: Vec<PathBuf>,
    /// What the delete frees on disk.
    pub freed_bytes: u64,
    /// The links into the shared store that go; their payloads are
    /// collected after them when nothing else references them.
    #[serde(skip)]
    #[ts(skip)]
    pub(crate) shared: SharedLinks,
    /// The part of `freed_bytes` that is payloads of the store.
    #[serde(skip)]
    #[ts(skip)]
    pub(crate) shared_bytes: u64,
    #[serde(skip)]
    steps: Vec<Step>,
}

/// One removal. Order: refs first (a revision without refs is merely
/// detached, a healthy state), then snapshots, then blobs, so a crash at any
/// point never leaves a ref or link pointing at nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// The whole repo: renamed to trash, then removed.
    Repo(PathBuf),
    /// What an earlier delete of the repo could not remove.
    Trash(PathBuf),
    Remove(PathBuf),
}

/// Plans the deletion of `repo` (all of it when `revisions` is empty).
/// Revisions may be given by a unique prefix of their hash.
pub fn plan_delete(cache_dir: &Path, repo: &RepoId, revisions: &[String]) -> Result<DeletePlan> {
    let not_cached = || Error::NotFound {
        what: format!("{} in the cache {}", repo, cache_dir.display()),
    };
    let root = canonical_root(cache_dir)?.ok_or_else(not_cached)?;
    // Asked for the whole repo: what an earlier delete left goes too.
    let leftovers = if revisions.is_empty() {
        trash_dirs(&root, Some(&repo.folder_name()))
    } else {
        Vec::new()
    };
    let Some(scan) = scan_repo(&root, repo)? else {
        if leftovers.is_empty() {
            return Err(not_cached());
        }
        return Ok(leftovers_plan(repo, leftovers, Vec::new()));
    };
    let cached = &scan.repo;
    let chosen = resolve_revisions(
        cached.revisions.iter().map(|r| r.commit_hash.as_str()),
        revisions,
        repo,
    )?;
    let keep: Vec<_> = cached
        .revisions
        .iter()
        .filter(|r| !chosen.contains(&r.commit_hash))
        .collect();
    if revisions.is_empty() || keep.is_empty() {
        let path = cached.repo_path.clone();
        // Blobs (finished, orphaned or partial) and plain snapshot files: what
        // huggingface_hub counts too, leaving out refs, listings and links.
        let plain: u64 = cached
            .revisions
            .iter()
            .flat_map(|r| {
                snapshot_files(&root, &r.snapshot_path)
                    .into_iter()
                    .filter(move |f| f.blob.starts_with(&r.snapshot_path))
            })
            .filter_map(|f| f.size)
            .sum();
        let revisions = cached
            .revisions
            .iter()
            .map(|r| r.commit_hash.clone())
            .collect();
        let mut plan = leftovers_plan(repo, leftovers, revisions);
        plan.deleted.insert(0, path.clone());
        plan.steps.insert(0, Step::Repo(path.clone()));
        plan.shared = shared_links_in(&root, &path.join("blobs"));
        plan.shared_bytes = shared_freed(&root, &plan.shared);
        plan.freed_bytes += size_of(&path.join("blobs")) + plain + plan.shared_bytes;
        return Ok(plan);
    }
    let kept_blobs: BTreeSet<PathBuf> = keep
        .iter()
        .flat_map(|r| snapshot_files(&root, &r.snapshot_path))
        .map(|f| f.blob)
        .collect();
    let mut refs = Vec::new();
    let mut snapshots = Vec::new();
    let mut blobs = BTreeMap::new();
    let mut shared = SharedLinks::new();
    for rev in cached
        .revisions
        .iter()
        .filter(|r| chosen.contains(&r.commit_hash))
    {
        refs.extend(
            rev.refs
                .iter()
                .map(|name| cached.repo_path.join("refs").join(name)),
        );
        snapshots.push(rev.snapshot_path.clone());
        for file in snapshot_files(&root, &rev.snapshot_path) {
            if kept_blobs.contains(&file.blob) {
                continue;
            }
            match (file.shared, file.size) {
                (Some(payload), _) => {
                    shared
                        .entry(payload.hash)
                        .or_default()
                        .insert(file.blob.clone());
                    blobs.insert(file.blob, 0);
                }
                (None, Some(size)) => {
                    blobs.insert(file.blob, size);
                }
                (None, None) => {}
            }
        }
    }
    let shared_bytes = shared_freed(&root, &shared);
    let freed_bytes = blobs.values().sum::<u64>() + shared_bytes;
    // Plain files inside a deleted snapshot go with its folder.
    let blob_paths: Vec<PathBuf> = blobs
        .into_keys()
        .filter(|b| !snapshots.iter().any(|s| b.starts_with(s)))
        .collect();
    let steps: Vec<Step> = refs
        .into_iter()
        .chain(snapshots)
        .chain(blob_paths)
        .map(Step::Remove)
        .collect();
    Ok(DeletePlan {
        repo: repo.clone(),
        whole_repo: false,
        revisions: chosen.into_iter().collect(),
        deleted: steps.iter().map(step_path).collect(),
        freed_bytes,
        shared,
        shared_bytes,
        steps,
    })
}

/// The links into the shared store among the entries of a repo's `blobs/`.
fn shared_links_in(root: &Path, blobs: &Path) -> SharedLinks {
    let mut links = SharedLinks::new();
    let (Some(store), Ok(entries)) = (SharedStore::open(root), std::fs::read_dir(blobs)) else {
        return links;
    };
    for entry in entries.flatten() {
        if let Some(hash) = store.link_target(&entry.path()) {
            links.entry(hash).or_default().insert(entry.path());
        }
    }
    links
}

/// What the store frees when `links` go (nothing without a store).
pub(crate) fn shared_freed(root: &Path, links: &SharedLinks) -> u64 {
    if links.is_empty() {
        return 0;
    }
    SharedStore::open(root).map_or(0, |store| store.freed_by(links))
}

/// A whole-repo plan of `leftovers` (trash folders of the repo), to which the
/// repo folder itself may be added.
fn leftovers_plan(repo: &RepoId, leftovers: Vec<PathBuf>, revisions: Vec<String>) -> DeletePlan {
    DeletePlan {
        repo: repo.clone(),
        whole_repo: true,
        revisions,
        freed_bytes: leftovers.iter().map(|t| size_of(t)).sum(),
        shared: SharedLinks::new(),
        shared_bytes: 0,
        deleted: leftovers.clone(),
        steps: leftovers.into_iter().map(Step::Trash).collect(),
    }
}

/// Carries out a plan. Refuses while any blob lock of the repo is held (a
/// download by us or by Python is writing into it).
pub fn execute_delete(cache_dir: &Path, plan: &DeletePlan) -> Result<()> {
    let root = canonical_root(cache_dir)?.ok_or_else(|| Error::NotFound {
        what: cache_dir.display().to_string(),
    })?;
    refuse_while_downloading(&root, &plan.repo)?;
    for step in &plan.steps {
        match step {
            Step::Repo(path) => {
                let trash = move_to_trash(&root, path)?;
                finish_trash_or_fail(&root, &trash)?;
                let _ = remove_inside(&root, &lock::lock_dir(&root, &plan.repo));
            }
            Step::Trash(path) => finish_trash_or_fail(&root, path)?,
            Step::Remove(path) => remove_inside(&root, path)?,
        }
    }
    // The links are gone: now each payload they named is collected if
    // nothing else references it (its `.refs` rewritten otherwise).
    if let (Some(store), false) = (SharedStore::open(&root), plan.shared.is_empty()) {
        super::shared_store::crash::step();
        store.sweep_all(&plan.shared);
    }
    Ok(())
}

pub(crate) fn refuse_while_downloading(root: &Path, repo: &RepoId) -> Result<()> {
    if lock::is_downloading(root, repo) {
        return Err(Error::InvalidArgument {
            what: "delete of",
            value: repo.id(),
            reason: "it is being downloaded right now (by this app, haid-models or a Python program such as `hf download`); cancel or let that download finish first".into(),
        });
    }
    Ok(())
}

impl DeletePlan {
    /// What the plan frees outside the shared store.
    pub(crate) fn local_bytes(&self) -> u64 {
        self.freed_bytes - self.shared_bytes
    }
}

/// The links of all `plans` together, by payload: a payload shared by two
/// repos is freed when both go, which neither plan alone can see.
pub(crate) fn merged_links<'a>(plans: impl IntoIterator<Item = &'a DeletePlan>) -> SharedLinks {
    let mut all = SharedLinks::new();
    for plan in plans {
        add_links(&mut all, &plan.shared);
    }
    all
}

/// Adds `more` to `links`.
pub(crate) fn add_links(links: &mut SharedLinks, more: &SharedLinks) {
    for (hash, paths) in more {
        links
            .entry(hash.clone())
            .or_default()
            .extend(paths.iter().cloned());
    }
}

fn step_path(step: &Step) -> PathBuf {
    match step {
        Step::Repo(p) | Step::Trash(p) | Step::Remove(p) => p.clone(),
    }
}

/// Removes a trash folder, or says what is left and how to finish.
pub(crate) fn finish_trash_or_fail(root: &Path, trash: &Path) -> Result<()> {
    match finish_trash(root, trash) {
        None => Ok(()),
        Some((left, cause)) => Err(unfinished(&left, cause)),
    }
}

fn unfinished(left: &TrashLeft, cause: String) -> Error {
    let what =
        RepoId::from_folder_name(&left.folder).map_or_else(|_| left.folder.clone(), |id| id.id());
    Error::DeleteUnfinished(Box::new(UnfinishedDelete {
        what,
        trash: left.path.clone(),
        left: shown_size(left.size_on_disk),
        cause,
        again: finish_advice(&left.folder),
    }))
}

/// Full hashes for the given hashes or unique prefixes (at least 4 characters).
fn resolve_revisions<'a>(
    cached: impl Iterator<Item = &'a str> + Clone,
    wanted: &[String],
    repo: &RepoId,
) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for want in wanted {
        let bad = |reason: String| Error::InvalidArgument {
            what: "revision",
            value: want.clone(),
            reason,
        };
        if want.len() < 4 || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("give a commit hash (or its first 4+ characters), as `haid-models scan --revisions` shows".into()));
        }
        let hits: Vec<&str> = cached
            .clone()
            .filter(|h| h.starts_with(want.as_str()))
            .collect();
        match hits.as_slice() {
            [one] => out.insert((*one).to_owned()),
            [] => return Err(bad(format!("{repo} has no cached revision starting with it; see `haid-models scan --revisions`"))),
            _ => return Err(bad(format!("it matches {} revisions of {repo}; give more characters", hits.len()))),
        };
    }
    Ok(out)
}
