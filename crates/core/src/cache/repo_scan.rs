//! Scans one repo folder (`models--org--name`). The cache-wide scan runs this
//! in parallel; the watcher runs it alone for the repo an event touched.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::dir_handle::{DirHandle, FileStat, Kind};
use super::paths::{file_name, is_under, resolve_link, unix_seconds, FileIdentity, OS_LITTER};
use super::repo::RepoId;
use super::report::{CachedRepo, CachedRevision, RepoState, ScanWarning};
use super::tree::TreeListing;

pub(crate) const INCOMPLETE_SUFFIX: &str = ".incomplete";

/// What scanning one repo gives: the repo, its warnings, and the identities
/// of its blobs (for the cache's physical total).
#[derive(Debug, Clone)]
pub struct RepoScan {
    pub repo: CachedRepo,
    pub warnings: Vec<ScanWarning>,
    pub(crate) blobs: Vec<(FileIdentity, u64)>,
}

/// State of one repo scan. `cache_root` must be canonical: every path we
/// follow is checked to stay under it.
struct RepoScanner<'a> {
    cache_root: &'a Path,
    repo_path: PathBuf,
    blobs_dir: Option<DirHandle>,
    /// Each blob once, by index; keyed by the raw path bytes (hashing a
    /// `Path` walks its components, which shows in a 100k-file scan).
    blob_index: HashMap<OsString, usize>,
    blobs: Vec<FileStat>,
    warnings: Vec<ScanWarning>,
    corrupt: bool,
    partial: bool,
}

/// Opening a sub-folder: there, absent, or something else in its place.
enum Child {
    Dir(DirHandle),
    Missing,
    NotDir,
}

/// Scans the repo folder of `id` under the canonical `cache_root`.
/// `None` when the folder does not exist.
pub fn scan_repo_dir(cache_root: &Path, id: &RepoId) -> Option<RepoScan> {
    let repo_path = id.repo_dir(cache_root);
    let meta = fs::symlink_metadata(&repo_path).ok()?;
    let mut scanner = RepoScanner {
        cache_root,
        repo_path,
        blobs_dir: None,
        blob_index: HashMap::new(),
        blobs: Vec::new(),
        warnings: Vec::new(),
        corrupt: false,
        partial: false,
    };
    if meta.file_type().is_symlink() {
        scanner.corrupt(
            scanner.repo_path.clone(),
            "the repo folder is a symlink; it is not followed, so the cache never reaches \
             outside itself. Move the real folder into the cache instead",
        );
        return Some(scanner.finish(id.clone(), Vec::new(), BTreeMap::new(), 0));
    }
    let repo = match DirHandle::open(&scanner.repo_path) {
        Ok(repo) => repo,
        Err(e) => {
            scanner.corrupt(scanner.repo_path.clone(), format!("cannot open: {e}"));
            return Some(scanner.finish(id.clone(), Vec::new(), BTreeMap::new(), 0));
        }
    };
    let refs = scanner.read_refs(&repo);
    let incomplete = scanner.open_blobs(&repo);
    let revisions = scanner.read_revisions(&repo, &refs, incomplete > 0);
    Some(scanner.finish(id.clone(), revisions, refs, incomplete))
}

impl RepoScanner<'_> {
    fn warn(&mut self, path: PathBuf, message: impl Into<String>) {
        self.warnings.push(ScanWarning {
            path,
            message: message.into(),
        });
    }

    fn corrupt(&mut self, path: PathBuf, message: impl Into<String>) {
        self.corrupt = true;
        self.warn(path, message);
    }

    fn child(&mut self, parent: &DirHandle, name: &str) -> Child {
        match parent.open_child(OsStr::new(name)) {
            Ok(dir) => Child::Dir(dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Child::Missing,
            Err(_) => Child::NotDir,
        }
    }

    /// Entries without OS litter; an unreadable folder is corruption.
    fn entries(&mut self, dir: &DirHandle) -> Vec<(OsString, Kind)> {
        match dir.entries() {
            Ok(mut entries) => {
                entries.retain(|(name, _)| !OS_LITTER.iter().any(|n| name == n));
                entries
            }
            Err(e) => {
                self.corrupt(dir.path().to_owned(), format!("cannot read folder: {e}"));
                Vec::new()
            }
        }
    }

    /// `refs/**` → ref name → commit hash. Whitespace around a hash is tolerated.
    fn read_refs(&mut self, repo: &DirHandle) -> BTreeMap<String, String> {
        let mut refs = BTreeMap::new();
        let mut pending = match self.child(repo, "refs") {
            Child::Dir(dir) => vec![(dir, String::new())],
            Child::Missing => return refs,
            Child::NotDir => {
                let path = self.repo_path.join("refs");
                self.corrupt(
                    path,
                    "refs is not a folder; delete the repo and download it again",
                );
                return refs;
            }
        };
        while let Some((dir, prefix)) = pending.pop() {
            for (name, kind) in self.entries(&dir) {
                let ref_name = format!("{prefix}{}", name.to_string_lossy());
                match kind {
                    Kind::Dir => match dir.open_child(&name) {
                        Ok(sub) => pending.push((sub, format!("{ref_name}/"))),
                        Err(e) => self.corrupt(dir.path().join(&name), format!("cannot open: {e}")),
                    },
                    Kind::File => match fs::read_to_string(dir.path().join(&name)) {
                        Ok(hash) => {
                            refs.insert(ref_name, hash.trim().to_owned());
                        }
                        Err(e) => {
                            self.corrupt(dir.path().join(&name), format!("cannot read ref: {e}"))
                        }
                    },
                    Kind::Symlink | Kind::Other => {}
                }
            }
        }
        refs
    }

    /// Opens `blobs/` for the lookups to come and sums `*.incomplete` in it:
    /// downloads that have not finished.
    fn open_blobs(&mut self, repo: &DirHandle) -> u64 {
        let Child::Dir(blobs) = self.child(repo, "blobs") else {
            return 0;
        };
        let incomplete = self
            .entries(&blobs)
            .into_iter()
            .filter(|(name, kind)| {
                *kind == Kind::File && name.to_string_lossy().ends_with(INCOMPLETE_SUFFIX)
            })
            .filter_map(|(name, _)| blobs.lstat(&name).ok())
            .map(|s| s.size)
            .sum();
        self.blobs_dir = Some(blobs);
        incomplete
    }

    fn read_revisions(
        &mut self,
        repo: &DirHandle,
        refs: &BTreeMap<String, String>,
        downloading: bool,
    ) -> Vec<CachedRevision> {
        let trees = TreeListing::dir(&self.repo_path);
        // One stat per repo instead of a failed open per revision: most
        // caches (written before huggingface_hub 2.x) have no listings.
        let listed = trees.is_dir();
        let mut revisions = Vec::new();
        match self.child(repo, "snapshots") {
            Child::Dir(snapshots) => {
                for (name, kind) in self.entries(&snapshots) {
                    let path = snapshots.path().join(&name);
                    match kind {
                        Kind::Dir => match snapshots.open_child(&name) {
                            Ok(snapshot) => {
                                let trees = listed.then_some(trees.as_path());
                                revisions.push(self.read_revision(snapshot, refs, trees));
                            }
                            Err(e) => self.corrupt(path, format!("cannot open snapshot: {e}")),
                        },
                        Kind::Symlink => {
                            self.corrupt(path, "a snapshot is a symlink; it is not followed")
                        }
                        _ => self.corrupt(path, "a file where a snapshot folder should be"),
                    }
                }
            }
            // A download that has not finished its first file yet.
            Child::Missing if downloading || listed => self.partial = true,
            _ => {
                let path = self.repo_path.join("snapshots");
                self.corrupt(
                    path,
                    "the snapshots folder is missing; delete the repo and download it again",
                );
            }
        }
        self.check_refs_resolve(refs, &revisions, &trees, downloading);
        revisions.sort_by(|a, b| a.commit_hash.cmp(&b.commit_hash));
        revisions
    }

    /// A ref to a commit with no snapshot is a download that has not placed a
    /// file yet (listing written, or blobs arriving), or else corruption.
    fn check_refs_resolve(
        &mut self,
        refs: &BTreeMap<String, String>,
        revisions: &[CachedRevision],
        trees: &Path,
        downloading: bool,
    ) {
        for (name, hash) in refs {
            if revisions.iter().any(|r| &r.commit_hash == hash) {
                continue;
            }
            if downloading || TreeListing::path(trees, hash).is_file() {
                self.partial = true;
            } else {
                let path = self.repo_path.join("refs").join(name);
                self.corrupt(
                    path,
                    format!("ref {name:?} points to commit {hash} which is not in snapshots/; download the model again"),
                );
            }
        }
    }

    fn read_revision(
        &mut self,
        snapshot: DirHandle,
        refs: &BTreeMap<String, String>,
        trees: Option<&Path>,
    ) -> CachedRevision {
        let snapshot_path = snapshot.path().to_owned();
        let commit_hash = file_name(&snapshot_path);
        let listing = trees.and_then(|t| TreeListing::read(t, &commit_hash, &mut self.warnings));
        let mut blobs = Vec::new();
        let mut present = BTreeMap::new();
        let mut nb_files = 0;
        let mut pending = vec![(snapshot, String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            for (name, kind) in self.entries(&dir) {
                let blob =
                    match kind {
                        Kind::Dir => {
                            match dir.open_child(&name) {
                                Ok(sub) => pending
                                    .push((sub, format!("{prefix}{}/", name.to_string_lossy()))),
                                Err(e) => self
                                    .corrupt(dir.path().join(&name), format!("cannot open: {e}")),
                            }
                            continue;
                        }
                        Kind::Symlink => self.linked_blob(&dir, &name),
                        _ => self.plain_blob(&dir, &name),
                    };
                if let Some(blob) = blob {
                    blobs.push(blob);
                    nb_files += 1;
                    if listing.is_some() {
                        present.insert(format!("{prefix}{}", name.to_string_lossy()), blob);
                    }
                }
            }
        }
        let nb_missing_files = match &listing {
            Some(l) => self.check_listing(&snapshot_path, l, &present),
            None => 0,
        };
        blobs.sort_unstable();
        blobs.dedup();
        let stats: Vec<&FileStat> = blobs.iter().map(|&b| &self.blobs[b]).collect();
        let last_modified = match stats.iter().map(|s| s.modified).max() {
            Some(t) => t,
            None => unix_seconds(fs::metadata(&snapshot_path).and_then(|m| m.modified())),
        };
        CachedRevision {
            refs: refs
                .iter()
                .filter(|(_, h)| **h == commit_hash)
                .map(|(n, _)| n.clone())
                .collect(),
            commit_hash,
            size_on_disk: stats.iter().map(|s| s.size).sum(),
            nb_files,
            last_modified,
            snapshot_path,
            nb_missing_files,
        }
    }

    /// Compares a snapshot with its listing: missing files make it partial;
    /// a blob of the wrong size is corrupt (a write cut short, e.g. by a power
    /// loss before the disk caught up). Returns the number of missing files.
    fn check_listing(
        &mut self,
        snapshot: &Path,
        listing: &TreeListing,
        present: &BTreeMap<String, usize>,
    ) -> usize {
        let mut missing = 0;
        for (path, size) in &listing.files {
            match present.get(path) {
                None => missing += 1,
                Some(&blob) if self.blobs[blob].size != *size => {
                    let msg = format!(
                        "has {} bytes but its listing says {size}: the file was cut short; download the model again",
                        self.blobs[blob].size
                    );
                    self.corrupt(snapshot.join(path), msg);
                }
                Some(_) => {}
            }
        }
        if missing > 0 {
            self.partial = true;
        }
        missing
    }

    /// A snapshot file that is the blob itself (caches written without symlinks).
    fn plain_blob(&mut self, dir: &DirHandle, name: &OsStr) -> Option<usize> {
        let path = dir.path().join(name);
        if let Some(&known) = self.blob_index.get(path.as_os_str()) {
            return Some(known);
        }
        match dir.lstat(name) {
            Ok(stat) => Some(self.register(path, stat)),
            Err(e) => {
                self.corrupt(path, format!("cannot read: {e}"));
                None
            }
        }
    }

    /// The blob a snapshot symlink points to (first hop, like huggingface_hub),
    /// stat'ed once per repo. `None`, with a warning, when it is dangling or
    /// lies outside the cache.
    fn linked_blob(&mut self, dir: &DirHandle, name: &OsStr) -> Option<usize> {
        let target = match dir.read_link(name) {
            Ok(target) => resolve_link(dir.path(), &target),
            Err(e) => {
                self.corrupt(dir.path().join(name), format!("cannot read symlink: {e}"));
                return None;
            }
        };
        if let Some(&known) = self.blob_index.get(target.as_os_str()) {
            return Some(known);
        }
        let file = || dir.path().join(name);
        if !is_under(&target, self.cache_root) {
            let msg = format!(
                "points outside the cache to {}; not followed and not counted",
                target.display()
            );
            self.warn(file(), msg);
            return None;
        }
        let stat = match self.stat_blob(&target) {
            Ok(stat) if stat.kind == Kind::Symlink => self.follow_inside(&file(), &target)?,
            Ok(stat) => stat,
            Err(_) => {
                let msg = format!(
                    "dangling pointer: blob {} is missing; delete the repo and download it again",
                    target.display()
                );
                self.corrupt(file(), msg);
                return None;
            }
        };
        if stat.kind == Kind::Dir {
            self.warn(file(), "points to a folder; not counted");
            return None;
        }
        Some(self.register(target, stat))
    }

    /// `lstat` of a blob: relative to the open `blobs/` when it lies there.
    fn stat_blob(&self, blob: &Path) -> io::Result<FileStat> {
        match (&self.blobs_dir, blob.parent(), blob.file_name()) {
            (Some(dir), Some(parent), Some(name))
                if parent.as_os_str() == dir.path().as_os_str() =>
            {
                dir.lstat(name)
            }
            _ => DirHandle::lstat_path(blob),
        }
    }

    fn register(&mut self, path: PathBuf, stat: FileStat) -> usize {
        self.blobs.push(stat);
        let index = self.blobs.len() - 1;
        self.blob_index.insert(path.into_os_string(), index);
        index
    }

    /// A blob that is itself a symlink (huggingface_hub's shared store): follow
    /// it only if its final target is still inside the cache.
    fn follow_inside(&mut self, file: &Path, blob: &Path) -> Option<FileStat> {
        match fs::canonicalize(blob) {
            Ok(real) if real.starts_with(self.cache_root) => fs::metadata(&real)
                .ok()
                .map(|m| FileStat::from_metadata(&real, &m)),
            Ok(real) => {
                let msg = format!(
                    "blob leads outside the cache to {}; not followed",
                    real.display()
                );
                self.warn(file.to_owned(), msg);
                None
            }
            Err(_) => {
                let msg = format!("dangling pointer: {} is missing", blob.display());
                self.corrupt(file.to_owned(), msg);
                None
            }
        }
    }

    fn finish(
        mut self,
        repo: RepoId,
        revisions: Vec<CachedRevision>,
        refs: BTreeMap<String, String>,
        incomplete: u64,
    ) -> RepoScan {
        if incomplete > 0 {
            self.partial = true;
        }
        let state = if self.corrupt {
            RepoState::Corrupt
        } else if self.partial {
            RepoState::Partial
        } else {
            RepoState::Complete
        };
        let (last_accessed, last_modified) = match (
            self.blobs.iter().map(|s| s.accessed).max(),
            self.blobs.iter().map(|s| s.modified).max(),
        ) {
            (Some(a), Some(m)) => (a, m),
            _ => match fs::symlink_metadata(&self.repo_path) {
                Ok(meta) => (unix_seconds(meta.accessed()), unix_seconds(meta.modified())),
                Err(_) => (0, 0),
            },
        };
        let size_on_disk = self.blobs.iter().map(|s| s.size).sum();
        let nb_files = self.blobs.len();
        RepoScan {
            repo: CachedRepo {
                repo,
                repo_path: self.repo_path,
                state,
                size_on_disk,
                nb_files,
                incomplete_size_on_disk: incomplete,
                last_accessed,
                last_modified,
                refs,
                revisions,
            },
            warnings: self.warnings,
            blobs: self
                .blobs
                .into_iter()
                .map(|s| (s.identity, s.size))
                .collect(),
        }
    }
}
