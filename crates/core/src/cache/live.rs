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
use super::safe_fs::trash_dirs;
use super::scan::{assemble, canonical_root, scan_entries, trash_entry, Entry};
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

impl Known {
    fn refresh_trash(&mut self) {
        self.others.retain(|e| !matches!(e, Entry::Trash(..)));
        for trash in trash_dirs(&self.root, None) {
            let entry = trash_entry(&self.root, &trash);
            if matches!(entry, Entry::Trash(..)) {
                self.others.push(entry);
            }
        }
    }
}

impl LiveCache {
    /// Knows nothing yet: the first [`LiveCache::report`] scans the whole cache.
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
        Ok(self.shown(&known))
    }

    /// Scans one repo again (the watcher saw it change). A repo that is gone
    /// may have gone to the trash and stayed there (a delete that could not
    /// finish): the trash is looked at again, so its bytes stay shown.
    pub fn repo_changed(&self, id: &RepoId) {
        let mut known = self.lock();
        let Some(k) = known.as_mut() else {
            return; // nothing kept yet: the next report scans everything
        };
        match scan_repo_dir(&k.root, id) {
            Some(scan) => {
                k.repos.insert(id.clone(), scan);
            }
            None => {
                k.repos.remove(id);
                k.refresh_trash();
            }
        }
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

    /// Scans the whole cache again and keeps that, and says whether the
    /// report changed. For the watcher's (re)start or lost events, after
    /// which anything may have changed but most often nothing did: then no
    /// one needs to hear of it (telling the page made it list 2,000 repos
    /// again a second after it had, on the UI's thread).
    pub fn rescan(&self) -> Result<bool> {
        let before = self.shown(&self.lock());
        // Scanned without the lock: reports asked for meanwhile are served
        // from the state kept (the caller is the watcher, whose events wait).
        let fresh = self.full_scan()?;
        let mut known = self.lock();
        *known = fresh;
        Ok(self.shown(&known) != before)
    }

    /// What [`LiveCache::report`] gives for this state.
    fn shown(&self, known: &Option<Known>) -> CacheReport {
        match known {
            Some(k) => assemble(&k.root, k.repos.values(), &k.others),
            None => assemble(&self.cache_dir, std::iter::empty(), &[]), // no cache folder yet
        }
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
        crate::test_fs::symlink(
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
    fn a_rescan_says_whether_the_report_changed_and_keeps_what_it_found() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        repo(root, "org/a", b"12345");
        let live = LiveCache::new(root);
        live.report().expect("report");
        assert!(!live.rescan().expect("rescan"), "nothing changed on disk");

        // Changed behind its back (events lost): the rescan sees and keeps it.
        repo(root, "org/b", b"1234567");
        assert!(live.rescan().expect("rescan"));
        let now = live.report().expect("report");
        assert_eq!(now.size_on_disk, 12);
        assert_eq!(now, scan_cache(root).expect("scan"));
        assert!(!live.rescan().expect("rescan"));
    }

    #[test]
    fn a_rescan_before_any_report_counts_repos_found_as_a_change() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        let missing = root.join("hub");
        let live = LiveCache::new(&missing);
        assert!(!live.rescan().expect("rescan"), "still no cache folder");
        repo(&missing, "org/a", b"12345");
        assert!(live.rescan().expect("rescan"), "a cache appeared");
        assert_eq!(live.report().expect("report").size_on_disk, 5);
    }

    /// Makes `file` undeletable, or deletable again: `chattr +i` (root
    /// ignores permissions), else a read-only folder, which stops only
    /// others than root. `false` when neither works here.
    #[cfg(unix)]
    fn pin(file: &Path, on: bool) -> bool {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let chattr = std::process::Command::new("chattr")
            .arg(if on { "+i" } else { "-i" })
            .arg(file)
            .stderr(std::process::Stdio::null())
            .status();
        if chattr.is_ok_and(|s| s.success()) {
            return true;
        }
        let parent = file.parent().expect("parent");
        let is_root = fs::metadata(parent).is_ok_and(|m| m.uid() == 0);
        let mode = if on { 0o555 } else { 0o755 };
        !is_root && fs::set_permissions(parent, fs::Permissions::from_mode(mode)).is_ok()
    }

    #[cfg(unix)]
    #[test]
    fn a_delete_that_cannot_finish_stays_in_the_live_report() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = dunce::canonicalize(tmp.path()).expect("root");
        let a = repo(&root, "org/a", b"12345");
        let live = LiveCache::new(&root);
        assert_eq!(live.report().expect("report").size_on_disk, 5);
        let blob = a.repo_dir(&root).join("blobs/b1");
        if !pin(&blob, true) {
            eprintln!("cannot make a file undeletable here; see safe_fs's injected failure");
            return;
        }
        let plan = crate::cache::delete::plan_delete(&root, &a, &[]).expect("plan");
        let failed = crate::cache::delete::execute_delete(&root, &plan);
        let trash = crate::cache::safe_fs::trash_dirs(&root, None);
        assert_eq!(trash.len(), 1, "{failed:?}");
        assert!(failed.is_err());
        // What the app does after a delete, failed or not.
        live.repo_changed(&a);
        let now = live.report().expect("report");
        assert!(now.repos.is_empty());
        assert_eq!(now.trash_size_on_disk, 5, "{now:?}");
        assert_eq!(now, scan_cache(&root).expect("scan"));

        assert!(pin(&trash[0].join("blobs/b1"), false));
        live.repo_changed(&a);
        assert_eq!(live.report().expect("report").trash_size_on_disk, 0);
        assert!(!trash[0].exists());
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
