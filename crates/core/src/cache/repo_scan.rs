//! Scans one repo folder (`models--org--name`). The cache-wide scan runs this
//! in parallel; the watcher runs it alone for the repo an event touched.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::dir_handle::{DirHandle, FileStat, Kind};
use super::paths::{file_name, unix_seconds, FileIdentity, OS_LITTER};
use super::refs_scan::{read_refs, RefsRead};
use super::repo::RepoId;
use super::report::{BrokenRef, CachedRepo, CachedRevision, RepoState, ScanWarning};
use super::shared_store::SharedStore;
use super::tree::TreeListing;

mod blob_links;

pub(crate) const INCOMPLETE_SUFFIX: &str = ".incomplete";

/// The `*.incomplete` files of a repo's `blobs/`.
#[derive(Debug, Default, Clone, Copy)]
struct Incomplete {
    files: usize,
    bytes: u64,
}

/// What scanning one repo gives: the repo, its warnings, and the identities
/// of its blobs (for the cache's physical total).
#[derive(Debug, Clone)]
pub struct RepoScan {
    /// The repo as the scan saw it.
    pub repo: CachedRepo,
    /// What was odd in it (the scan went on).
    pub warnings: Vec<ScanWarning>,
    pub(crate) blobs: Vec<(FileIdentity, u64)>,
}

/// State of one repo scan. `cache_root` must be canonical: every path we
/// follow is checked to stay under it.
struct RepoScanner<'a> {
    cache_root: &'a Path,
    id: &'a RepoId,
    repo_path: PathBuf,
    blobs_dir: Option<DirHandle>,
    /// The cache's shared store, opened at the first blob that is a link.
    store: std::cell::OnceCell<Option<SharedStore>>,
    /// Each blob once, by index; keyed by the raw path bytes (hashing a
    /// `Path` walks its components, which shows in a 100k-file scan).
    blob_index: HashMap<OsString, usize>,
    blobs: Vec<FileStat>,
    warnings: Vec<ScanWarning>,
    broken_refs: Vec<BrokenRef>,
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
        id,
        repo_path,
        blobs_dir: None,
        store: std::cell::OnceCell::new(),
        blob_index: HashMap::new(),
        blobs: Vec::new(),
        warnings: Vec::new(),
        broken_refs: Vec::new(),
        corrupt: false,
        partial: false,
    };
    if meta.file_type().is_symlink() {
        scanner.corrupt(
            scanner.repo_path.clone(),
            "the repo folder is a symlink; it is not followed, so the cache never reaches \
             outside itself. Move the real folder into the cache instead",
        );
        return Some(scanner.finish(Vec::new(), BTreeMap::new(), Incomplete::default()));
    }
    let repo = match DirHandle::open(&scanner.repo_path) {
        Ok(repo) => repo,
        Err(e) => {
            scanner.corrupt(scanner.repo_path.clone(), format!("cannot open: {e}"));
            return Some(scanner.finish(Vec::new(), BTreeMap::new(), Incomplete::default()));
        }
    };
    let refs = scanner.read_refs(&repo);
    let incomplete = scanner.open_blobs(&repo);
    let revisions = scanner.read_revisions(&repo, &refs, incomplete.files > 0);
    Some(scanner.finish(revisions, refs, incomplete))
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

    /// `refs/**` → ref name → commit hash; what is not a commit is a
    /// [`BrokenRef`], and temps a dead writer left are litter.
    fn read_refs(&mut self, repo: &DirHandle) -> BTreeMap<String, String> {
        let read = match self.child(repo, "refs") {
            Child::Dir(dir) => read_refs(dir),
            Child::Missing => return BTreeMap::new(),
            Child::NotDir => RefsRead {
                broken: vec![BrokenRef {
                    name: String::new(),
                    path: self.repo_path.join("refs"),
                    problem: "is not a folder".into(),
                }],
                ..RefsRead::default()
            },
        };
        for temp in read.stale_temps {
            self.warn(
                temp,
                "a temporary file an interrupted write left, not a ref; huggingface_hub \
                 reads it as one (and skips the repo unless it names a cached commit): \
                 run `haid-models prune` to remove it",
            );
        }
        for broken in read.broken {
            self.broken_ref(broken);
        }
        read.refs
    }

    fn broken_ref(&mut self, broken: BrokenRef) {
        self.corrupt(broken.path.clone(), broken.describe(self.id));
        self.broken_refs.push(broken);
    }

    /// Opens `blobs/` for the lookups to come and counts `*.incomplete` in
    /// it: downloads that have not finished.
    fn open_blobs(&mut self, repo: &DirHandle) -> Incomplete {
        let Child::Dir(blobs) = self.child(repo, "blobs") else {
            return Incomplete::default();
        };
        let mut incomplete = Incomplete::default();
        for (name, kind) in self.entries(&blobs) {
            if kind == Kind::File && name.to_string_lossy().ends_with(INCOMPLETE_SUFFIX) {
                incomplete.files += 1;
                incomplete.bytes += blobs.lstat(&name).map_or(0, |s| s.size);
            }
        }
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
                self.broken_ref(BrokenRef {
                    name: name.clone(),
                    path: self.repo_path.join("refs").join(name),
                    problem: format!("points to commit {hash}, which is not in snapshots/"),
                });
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

    fn finish(
        mut self,
        revisions: Vec<CachedRevision>,
        refs: BTreeMap<String, String>,
        incomplete: Incomplete,
    ) -> RepoScan {
        // By count, not bytes: a download's `.incomplete` is empty before
        // its first byte, and a partial being rewritten is empty for an
        // instant; neither is a complete model.
        if incomplete.files > 0 {
            self.partial = true;
        }
        let state = if self.corrupt {
            RepoState::Corrupt
        } else if self.partial {
            RepoState::Partial
        } else if self.blobs.is_empty() {
            // Folders without a file are no model, whatever the refs say.
            RepoState::Empty
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
                repo: self.id.clone(),
                repo_path: self.repo_path,
                state,
                size_on_disk,
                nb_files,
                incomplete_size_on_disk: incomplete.bytes,
                last_accessed,
                last_modified,
                refs,
                broken_refs: self.broken_refs,
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
