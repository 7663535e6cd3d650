//! The cache as a long-running program (the desktop app) keeps it: one full
//! scan at first, then only the repos the watcher says changed are scanned
//! again. A list of 2,000 repos then costs no disk access per change, and a
//! download's progress events do not rescan the whole cache four times a second.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::repo::RepoId;
use super::repo_scan::{scan_repo_dir, RepoScan};
use super::report::CacheReport;
use super::scan::{assemble, canonical_root, scan_entries, Entry};
use crate::error::Result;
use crate::watch::RepoChange;

/// The last known state of the cache, updated one repo at a time.
#[derive(Debug)]
pub struct LiveCache {
    cache_dir: PathBuf,
    known: Mutex<Option<Known>>,
}

#[derive(Debug)]
struct Known {
    root: PathBuf,
    repos: BTreeMap<RepoId, RepoScan>,
    others: Vec<Entry>,
}

impl LiveCache {
    pub fn new(cache_dir: &Path) -> Self {
        Self {
            cache_dir: cache_dir.to_owned(),
            known: Mutex::new(None),
        }
    }

    /// The report as it is now: a full scan the first time (or after
    /// [`LiveCache::invalidate`]), the kept state afterwards.
    pub fn report(&self) -> Result<CacheReport> {
        let mut known = self.lock();
        if known.is_none() {
            *known = self.full_scan()?;
        }
        Ok(match known.as_ref() {
            Some(k) => assemble(&k.root, k.repos.values(), &k.others),
            None => assemble(&self.cache_dir, std::iter::empty(), &[]), // no cache folder yet
        })
    }

    /// Scans one repo again (the watcher saw it change).
    pub fn repo_changed(&self, id: &RepoId) {
        let mut known = self.lock();
        let Some(k) = known.as_mut() else {
            return; // nothing kept yet: the next report scans everything
        };
        match scan_repo_dir(&k.root, id) {
            Some(scan) => k.repos.insert(id.clone(), scan),
            None => k.repos.remove(id),
        };
    }

    /// Takes in a change the watcher reported: the scan it carries, so the
    /// repo is not scanned twice (once by the watcher, once here); a change
    /// without one (a repo gone, a full rescan's) is checked on disk.
    pub fn apply(&self, change: &RepoChange) {
        let Some(scan) = &change.scan else {
            return self.repo_changed(&change.repo);
        };
        if let Some(k) = self.lock().as_mut() {
            k.repos.insert(change.repo.clone(), RepoScan::clone(scan));
        }
    }

    /// Forgets everything: the next report scans the whole cache (the cache
    /// folder itself came or went, or the watcher lost events).
    pub fn invalidate(&self) {
        *self.lock() = None;
    }

    fn full_scan(&self) -> Result<Option<Known>> {
        let Some(root) = canonical_root(&self.cache_dir)? else {
            return Ok(None);
        };
        let (repos, others) = scan_entries(&root)?;
        let repos = repos
            .into_iter()
            .map(|s| (s.repo.repo.clone(), s))
            .collect();
        Ok(Some(Known {
            root,
            repos,
            others,
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Known>> {
        // A panic while holding it cannot leave half an update: each update
        // is one insert or remove.
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::scan_cache;
    use std::fs;

    fn repo(root: &Path, name: &str, bytes: &[u8]) -> RepoId {
        let id = RepoId::model(name).expect("valid id");
        let dir = id.repo_dir(root);
        let commit = "a".repeat(40);
        fs::create_dir_all(dir.join("blobs")).expect("blobs");
        fs::create_dir_all(dir.join("refs")).expect("refs");
        fs::create_dir_all(dir.join("snapshots").join(&commit)).expect("snapshot");
        fs::write(dir.join("refs/main"), &commit).expect("ref");
        fs::write(dir.join("blobs/b1"), bytes).expect("blob");
        std::os::unix::fs::symlink(
            "../../blobs/b1",
            dir.join("snapshots").join(&commit).join("f.bin"),
        )
        .expect("link");
        id
    }

    #[test]
    fn follows_changes_one_repo_at_a_time_and_matches_a_full_scan() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        let a = repo(root, "org/a", b"12345");
        let live = LiveCache::new(root);
        assert_eq!(live.report().expect("report").size_on_disk, 5);

        // A change the live cache was not told of is not seen: it keeps state.
        let b = repo(root, "org/b", b"1234567");
        assert_eq!(live.report().expect("report").repos.len(), 1);

        live.repo_changed(&b);
        let now = live.report().expect("report");
        assert_eq!(now.size_on_disk, 12);
        assert_eq!(now, scan_cache(root).expect("scan"));

        fs::remove_dir_all(a.repo_dir(root)).expect("rm");
        live.repo_changed(&a);
        let now = live.report().expect("report");
        assert_eq!(now.repos.len(), 1);
        assert_eq!(now, scan_cache(root).expect("scan"));
    }

    #[test]
    fn a_watched_change_brings_its_scan_and_a_removal_is_checked_on_disk() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        let live = LiveCache::new(root);
        assert!(live.report().expect("report").repos.is_empty());
        let a = repo(root, "org/a", b"12345");
        let scan = crate::cache::scan_repo(root, &a)
            .expect("scan")
            .expect("repo");
        let change = RepoChange::scanned(scan);
        // The repo changes again before the change is applied: the carried
        // scan is what is kept, which shows no second scan was made.
        fs::write(a.repo_dir(root).join("blobs/b1"), b"123456789").expect("grow");
        live.apply(&change);
        assert_eq!(live.report().expect("report").size_on_disk, 5);

        fs::remove_dir_all(a.repo_dir(root)).expect("rm");
        live.apply(&RepoChange::removed(a.clone(), a.repo_dir(root)));
        let now = live.report().expect("report");
        assert!(now.repos.is_empty());
        assert_eq!(now, scan_cache(root).expect("scan"));
    }

    #[test]
    fn a_missing_cache_is_empty_until_it_appears() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("hub");
        let live = LiveCache::new(&root);
        assert!(live.report().expect("report").repos.is_empty());
        fs::create_dir_all(&root).expect("mkdir");
        repo(&root, "org/a", b"xy");
        live.invalidate();
        assert_eq!(live.report().expect("report").size_on_disk, 2);
    }
}
