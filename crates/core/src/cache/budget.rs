//! A cache kept under a budget (`prune --keep-under SIZE`): after the usual
//! prune, whole repos that no manifest names go, least recently used first
//! (`last_accessed`, as `scan` reports it), until the cache fits. A manifest
//! model and a repo being downloaded (its locks held, by us or Python) are
//! never removed. A payload of the shared store counts once, when the last
//! repo that links to it goes.

use std::path::Path;

use serde::Serialize;
use ts_rs::TS;

use super::delete::{
    add_links, execute_delete, merged_links, plan_delete, shared_freed, DeletePlan,
};
use super::paths::is_under;
use super::prune::{execute_prune, plan_prune, PrunePlan};
use super::safe_fs::size_of;
use super::scan::scan_cache;
use super::RepoId;
use crate::download::lock;
use crate::error::Result;
use crate::manifest::{Manifest, RepoKey};

/// What `prune --keep-under` removes, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct BudgetPlan {
    /// The budget, in bytes.
    pub keep_under: u64,
    /// What the cache takes now.
    pub size_before: u64,
    /// What it takes after the plan.
    pub size_after: u64,
    /// Whether it then fits (not when what is left is all manifest models,
    /// or downloads running).
    pub fits: bool,
    /// The usual prune, done first.
    #[serde(skip)]
    #[ts(skip)]
    pub prune: PrunePlan,
    /// The repos that go, least recently used first.
    pub repos: Vec<BudgetedRepo>,
}

/// One repo the budget removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct BudgetedRepo {
    /// The repo.
    #[serde(flatten)]
    pub repo: RepoId,
    /// Its last use, Unix seconds (`scan`'s `last_accessed`).
    pub last_accessed: i64,
    /// What removing it frees, beyond what the prune before it frees.
    pub size_on_disk: u64,
    /// Its whole-repo delete.
    #[serde(skip)]
    #[ts(skip)]
    pub delete: DeletePlan,
}

/// Plans the prune, then the repos to remove until the cache is under
/// `keep_under` bytes. Reads only.
pub fn plan_budget(cache_dir: &Path, manifest: &Manifest, keep_under: u64) -> Result<BudgetPlan> {
    let prune = plan_prune(cache_dir)?;
    let report = scan_cache(cache_dir)?;
    let size_before =
        report.size_on_disk + report.incomplete_size_on_disk + report.trash_size_on_disk;
    let mut size = size_before.saturating_sub(prune.freed_bytes);
    let wanted: std::collections::HashSet<RepoKey> =
        manifest.models().map(|m| RepoKey::of(&m.id)).collect();
    let downloading = lock::downloading_repos(cache_dir);
    let mut candidates: Vec<_> = report
        .repos
        .iter()
        .filter(|r| !wanted.contains(&RepoKey::of(&r.repo)) && !downloading.contains(&r.repo))
        .collect();
    candidates.sort_by_key(|r| (r.last_accessed, r.repo.id()));
    let root = report.cache_dir.as_path();
    // The store links removed so far, and what their payloads free.
    let mut gone = merged_links(&prune.revisions);
    let mut store_freed = shared_freed(root, &gone);
    let mut repos = Vec::new();
    for repo in candidates {
        if size <= keep_under {
            break;
        }
        // What the prune frees in this repo is counted there already.
        let pruned: u64 = prune
            .deleted
            .iter()
            .filter(|p| is_under(p, &repo.repo_path))
            .map(|p| size_of(p))
            .sum();
        let delete = plan_delete(cache_dir, &repo.repo, &[])?;
        add_links(&mut gone, &delete.shared);
        let store_now = shared_freed(root, &gone);
        let frees = delete.local_bytes().saturating_sub(pruned) + (store_now - store_freed);
        store_freed = store_now;
        repos.push(BudgetedRepo {
            repo: repo.repo.clone(),
            last_accessed: repo.last_accessed,
            size_on_disk: frees,
            delete,
        });
        size = size.saturating_sub(frees);
    }
    Ok(BudgetPlan {
        keep_under,
        size_before,
        size_after: size,
        fits: size <= keep_under,
        prune,
        repos,
    })
}

/// Runs the plan: the prune, then each repo's delete, in order.
pub fn execute_budget(cache_dir: &Path, plan: &BudgetPlan) -> Result<()> {
    execute_prune(cache_dir, &plan.prune)?;
    for repo in &plan.repos {
        execute_delete(cache_dir, &repo.delete)?;
    }
    Ok(())
}
