//! Where the space goes (`haid-models space`, the app's disk picture): each
//! repo's size with its manifest type, unfinished downloads, what prune
//! would free, the disk's free space, and the rest of the HF home — above
//! all `$HF_HOME/xet`, huggingface_hub's chunk cache, which nothing else
//! cleans (users have found 30 GB there). That one can be cleared here: it
//! is only a cache, refilled on the next Xet download.

use std::path::{Path, PathBuf};

use serde::Serialize;
use ts_rs::TS;

use super::prune::plan_prune_from;
use super::report::CacheReport;
use super::safe_fs::{remove_inside, size_of};
use super::scan::scan_cache;
use super::shared_store::{repo_of_blob, SharedStore};
use crate::error::Result;
use crate::location::CacheLocation;
use crate::manifest::{Manifest, RepoKey, OTHER_GROUP};

/// The answer of `haid-models space`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SpaceReport {
    /// The cache.
    pub cache_dir: PathBuf,
    /// Everything the cache takes (blobs, unfinished downloads, unfinished deletes).
    pub cache_bytes: u64,
    /// Free bytes on its file system, when the system says.
    pub free_bytes: Option<u64>,
    /// Unfinished downloads (`.incomplete` files).
    pub incomplete_bytes: u64,
    /// What `prune` would free now.
    pub prunable_bytes: u64,
    /// Every repo, biggest first.
    pub repos: Vec<RepoSpace>,
    /// The payloads of huggingface_hub 2.5's shared store, each once with
    /// the repos that share it, biggest first.
    pub shared: Vec<SharedSpace>,
    /// The HF home, where the token and the other caches live.
    pub hf_home: PathBuf,
    /// Its folders besides the cache, biggest first.
    pub home: Vec<HomeFolder>,
}

/// One repo's share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct RepoSpace {
    /// `org/name`.
    pub id: String,
    /// The manifest's type, or `other` (also for datasets and spaces).
    #[serde(rename = "type")]
    pub model_type: String,
    /// A manifest names it.
    pub in_manifest: bool,
    /// What it takes, unfinished downloads included (a shared payload
    /// counted in full for each repo that links to it, as `scan` counts it).
    pub size_on_disk: u64,
    /// The part of it that lies in the shared store.
    pub shared_bytes: u64,
}

/// One payload of the shared store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SharedSpace {
    /// Its Xet hash.
    pub hash: String,
    /// Its size: on disk once, whoever shares it.
    pub bytes: u64,
    /// The repos that link to it (`org/name`); empty when none does and
    /// `prune` would free it.
    pub repos: Vec<String>,
}

/// A folder of the HF home besides the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct HomeFolder {
    /// Its name (`xet`).
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
    /// What its files take (links not followed).
    pub bytes: u64,
    /// Only a cache: `clear-xet` (and the app) may empty it.
    pub clearable: bool,
}

/// The xet chunk cache's folder name in the HF home.
pub const XET: &str = "xet";

/// Reads where the space goes. Reads only.
pub fn space(location: &CacheLocation, manifest: &Manifest) -> Result<SpaceReport> {
    space_from(location, manifest, &scan_cache(&location.cache_dir)?)
}

/// The same, from a scan already made (the app's live one): the picture
/// then costs no scan of the cache, which the page asks for with every list.
pub fn space_from(
    location: &CacheLocation,
    manifest: &Manifest,
    report: &CacheReport,
) -> Result<SpaceReport> {
    let prune = plan_prune_from(report)?;
    let types: std::collections::HashMap<RepoKey, &str> = manifest
        .groups
        .iter()
        .flat_map(|g| {
            g.models
                .iter()
                .map(|m| (RepoKey::of(&m.id), g.model_type.as_str()))
        })
        .collect();
    let mut repos: Vec<RepoSpace> = report
        .repos
        .iter()
        .map(|r| {
            let listed = types.get(&RepoKey::of(&r.repo));
            RepoSpace {
                id: r.repo.id(),
                model_type: listed.map_or(OTHER_GROUP, |t| *t).to_owned(),
                in_manifest: listed.is_some(),
                size_on_disk: r.total_size_on_disk(),
                shared_bytes: 0,
            }
        })
        .collect();
    repos.sort_by(|a, b| b.size_on_disk.cmp(&a.size_on_disk).then(a.id.cmp(&b.id)));
    let shared = shared_space(&report.cache_dir);
    for payload in &shared {
        for repo in repos.iter_mut().filter(|r| payload.repos.contains(&r.id)) {
            repo.shared_bytes += payload.bytes;
        }
    }
    Ok(SpaceReport {
        cache_dir: location.cache_dir.clone(),
        cache_bytes: report.size_on_disk
            + report.incomplete_size_on_disk
            + report.trash_size_on_disk,
        free_bytes: crate::download::free_space(&location.cache_dir),
        incomplete_bytes: report.incomplete_size_on_disk,
        prunable_bytes: prune.freed_bytes,
        repos,
        shared,
        hf_home: location.hf_home.clone(),
        home: home_folders(&location.hf_home, &location.cache_dir),
    })
}

/// Each payload of the store with the repos its valid references name:
/// read from the `.refs` lists, so no repo is walked.
fn shared_space(cache_dir: &Path) -> Vec<SharedSpace> {
    let Some(store) = SharedStore::open(cache_dir) else {
        return Vec::new();
    };
    let mut out: Vec<SharedSpace> = store
        .payloads()
        .into_iter()
        .map(|p| {
            let mut repos: Vec<String> = store
                .references(&p.hash)
                .unwrap_or_default()
                .iter()
                .filter_map(|blob| repo_of_blob(blob))
                .map(|id| id.id())
                .collect();
            repos.dedup();
            SharedSpace {
                hash: p.hash.to_string(),
                bytes: p.size,
                repos,
            }
        })
        .collect();
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.hash.cmp(&b.hash)));
    out
}

/// The HF home's folders, the cache (and any folder holding it) left out.
fn home_folders(hf_home: &Path, cache_dir: &Path) -> Vec<HomeFolder> {
    let Ok(entries) = std::fs::read_dir(hf_home) else {
        return Vec::new();
    };
    let mut folders: Vec<HomeFolder> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| !cache_dir.starts_with(p))
        .map(|path| HomeFolder {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes: size_of(&path),
            clearable: path.file_name().is_some_and(|n| n == XET),
            path,
        })
        .collect();
    folders.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    folders
}

/// Empties `$HF_HOME/xet` (a real folder; a link there is removed, its
/// target never touched). Returns the bytes freed.
pub fn clear_xet(hf_home: &Path) -> Result<u64> {
    // Canonical, as the containment check compares resolved paths.
    let Ok(home) = dunce::canonicalize(hf_home) else {
        return Ok(0); // no HF home: nothing to clear
    };
    let xet = home.join(XET);
    let freed = size_of(&xet);
    remove_inside(&home, &xet)?;
    Ok(freed)
}
