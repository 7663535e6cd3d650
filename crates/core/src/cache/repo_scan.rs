//! Scans one repo folder (`models--org--name`). The cache-wide scan runs this
//! in parallel; the watcher runs it alone for the repo an event touched.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::fs::{self, FileType};
use std::path::{Path, PathBuf};

use super::paths::{link_target, unix_seconds, FileIdentity, OS_LITTER};
use super::repo::RepoId;
use super::report::{CachedRepo, CachedRevision, RepoState, ScanWarning};
use super::tree::TreeListing;

pub(crate) const INCOMPLETE_SUFFIX: &str = ".incomplete";

/// What scanning one repo gives: the repo, its warnings, and the identities
/// of its blobs (for the cache's physical total).
#[derive(Debug)]
pub struct RepoScan {
    pub repo: CachedRepo,
    pub warnings: Vec<ScanWarning>,
    pub(crate) blobs: Vec<(FileIdentity, u64)>,
}

#[derive(Debug, Clone)]
struct BlobStat {
    size: u64,
    accessed: i64,
    modified: i64,
    identity: FileIdentity,
}

enum Listing {
    Entries(Vec<(PathBuf, FileType)>),
    Missing,
    NotDir,
}

/// State of one repo scan. `cache_root` must be canonical: every path we
/// follow is checked to stay under it.
struct RepoScanner<'a> {
    cache_root: &'a Path,
    repo_path: PathBuf,
    /// Each blob once, by index; keyed by the raw path bytes (hashing a
    /// `Path` walks its components, which shows in a 100k-file scan).
    blob_index: HashMap<OsString, usize>,
    blobs: Vec<BlobStat>,
    warnings: Vec<ScanWarning>,
    corrupt: bool,
    partial: bool,
}

/// Scans the repo folder of `id` under the canonical `cache_root`.
/// `None` when the folder does not exist.
pub fn scan_repo_dir(cache_root: &Path, id: &RepoId) -> Option<RepoScan> {
    let repo_path = id.repo_dir(cache_root);
    let meta = fs::symlink_metadata(&repo_path).ok()?;
    let mut scanner = RepoScanner {
        cache_root,
        repo_path,
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
    let refs = scanner.read_refs();
    let incomplete = scanner.incomplete_size();
    let revisions = scanner.read_revisions(&refs, incomplete > 0);
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

    /// `refs/**` → ref name → commit hash. Whitespace around a hash is tolerated.
    fn read_refs(&mut self) -> BTreeMap<String, String> {
        let refs_dir = self.repo_path.join("refs");
        let mut refs = BTreeMap::new();
        let top = match self.try_list_dir(&refs_dir) {
            Listing::Entries(entries) => entries,
            Listing::Missing => return refs,
            Listing::NotDir => {
                self.corrupt(
                    refs_dir,
                    "refs is not a folder; delete the repo and download it again",
                );
                return refs;
            }
        };
        let mut pending = top;
        while let Some((path, file_type)) = pending.pop() {
            {
                if file_type.is_dir() {
                    pending.extend(self.list_dir(&path));
                } else if file_type.is_file() {
                    let name = relative_name(&refs_dir, &path);
                    match fs::read_to_string(&path) {
                        Ok(hash) => {
                            refs.insert(name, hash.trim().to_owned());
                        }
                        Err(e) => self.corrupt(path, format!("cannot read ref: {e}")),
                    }
                }
            }
        }
        refs
    }

    /// Sum of `blobs/*.incomplete`: downloads that have not finished.
    fn incomplete_size(&mut self) -> u64 {
        let Listing::Entries(entries) = self.try_list_dir(&self.repo_path.join("blobs")) else {
            return 0;
        };
        entries
            .into_iter()
            .filter(|(path, ft)| ft.is_file() && has_suffix(path, INCOMPLETE_SUFFIX))
            .filter_map(|(path, _)| fs::symlink_metadata(path).ok())
            .map(|m| m.len())
            .sum()
    }

    fn read_revisions(
        &mut self,
        refs: &BTreeMap<String, String>,
        downloading: bool,
    ) -> Vec<CachedRevision> {
        let snapshots = self.repo_path.join("snapshots");
        let trees = TreeListing::dir(&self.repo_path);
        // One stat per repo instead of a failed open per revision: most
        // caches (written before huggingface_hub 2.x) have no listings.
        let listed = trees.is_dir();
        let mut revisions = Vec::new();
        if let Listing::Entries(entries) = self.try_list_dir(&snapshots) {
            for (path, file_type) in entries {
                if file_type.is_dir() {
                    let trees = listed.then_some(trees.as_path());
                    revisions.push(self.read_revision(path, refs, trees));
                } else if file_type.is_symlink() {
                    self.corrupt(path, "a snapshot is a symlink; it is not followed");
                } else {
                    self.corrupt(path, "a file where a snapshot folder should be");
                }
            }
        } else if downloading || listed {
            // A download that has not finished its first file yet.
            self.partial = true;
        } else {
            self.corrupt(
                snapshots,
                "the snapshots folder is missing; delete the repo and download it again",
            );
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
        snapshot_path: PathBuf,
        refs: &BTreeMap<String, String>,
        trees: Option<&Path>,
    ) -> CachedRevision {
        let commit_hash = file_name(&snapshot_path);
        let listing =
            trees.and_then(|t| TreeListing::read(t, &commit_hash, &mut self.warnings));
        let mut blobs = Vec::new();
        let mut present = BTreeSet::new();
        let mut nb_files = 0;
        let mut stack = vec![snapshot_path.clone()];
        while let Some(dir) = stack.pop() {
            for (path, file_type) in self.list_dir(&dir) {
                if file_type.is_dir() {
                    stack.push(path);
                    continue;
                }
                if let Some(blob) = self.resolve_blob(&path, file_type) {
                    blobs.push(blob);
                    nb_files += 1;
                    if listing.is_some() {
                        present.insert(relative_name(&snapshot_path, &path));
                    }
                }
            }
        }
        let nb_missing_files = listing.as_ref().map_or(0, |l| {
            l.files.iter().filter(|f| !present.contains(*f)).count()
        });
        if nb_missing_files > 0 {
            self.partial = true;
        }
        blobs.sort_unstable();
        blobs.dedup();
        let stats: Vec<&BlobStat> = blobs.iter().map(|&b| &self.blobs[b]).collect();
        let last_modified = match stats.iter().map(|s| s.modified).max() {
            Some(t) => t,
            None => unix_seconds(fs::metadata(&snapshot_path).and_then(|m| m.modified())),
        };
        let mut rev_refs: Vec<String> = refs
            .iter()
            .filter(|(_, h)| **h == commit_hash)
            .map(|(n, _)| n.clone())
            .collect();
        rev_refs.sort();
        CachedRevision {
            commit_hash,
            refs: rev_refs,
            size_on_disk: stats.iter().map(|s| s.size).sum(),
            nb_files,
            last_modified,
            snapshot_path,
            nb_missing_files,
        }
    }

    /// The blob behind one snapshot file, stat'ed once per repo. `None` (with
    /// a warning) when it is dangling or lies outside the cache.
    fn resolve_blob(&mut self, file: &Path, file_type: FileType) -> Option<usize> {
        let blob = if file_type.is_symlink() {
            match link_target(file) {
                Ok(target) => target,
                Err(e) => {
                    self.corrupt(file.to_owned(), format!("cannot read symlink: {e}"));
                    return None;
                }
            }
        } else {
            file.to_owned()
        };
        if let Some(&known) = self.blob_index.get(blob.as_os_str()) {
            return Some(known);
        }
        if !blob.starts_with(self.cache_root) {
            self.warn(
                file.to_owned(),
                format!(
                    "points outside the cache to {}; not followed and not counted",
                    blob.display()
                ),
            );
            return None;
        }
        let meta = match fs::symlink_metadata(&blob) {
            Ok(m) if m.file_type().is_symlink() => self.follow_inside(file, &blob)?,
            Ok(m) => m,
            Err(_) => {
                self.corrupt(
                    file.to_owned(),
                    format!(
                        "dangling pointer: blob {} is missing; delete the repo and download it again",
                        blob.display()
                    ),
                );
                return None;
            }
        };
        if meta.is_dir() {
            self.warn(file.to_owned(), "points to a folder; not counted");
            return None;
        }
        self.blobs.push(BlobStat {
            size: meta.len(),
            accessed: unix_seconds(meta.accessed()),
            modified: unix_seconds(meta.modified()),
            identity: FileIdentity::of(&blob, &meta),
        });
        let index = self.blobs.len() - 1;
        self.blob_index.insert(blob.into_os_string(), index);
        Some(index)
    }

    /// A blob that is itself a symlink (huggingface_hub's shared store): follow
    /// it only if its final target is still inside the cache.
    fn follow_inside(&mut self, file: &Path, blob: &Path) -> Option<fs::Metadata> {
        match fs::canonicalize(blob) {
            Ok(real) if real.starts_with(self.cache_root) => fs::metadata(real).ok(),
            Ok(real) => {
                self.warn(
                    file.to_owned(),
                    format!(
                        "blob leads outside the cache to {}; not followed",
                        real.display()
                    ),
                );
                None
            }
            Err(_) => {
                self.corrupt(
                    file.to_owned(),
                    format!("dangling pointer: {} is missing", blob.display()),
                );
                None
            }
        }
    }

    /// Entries of a folder with their types (from the directory entry, so no
    /// extra stat). OS litter is skipped; an unreadable folder is corruption.
    fn list_dir(&mut self, dir: &Path) -> Vec<(PathBuf, FileType)> {
        match self.try_list_dir(dir) {
            Listing::Entries(entries) => entries,
            Listing::Missing | Listing::NotDir => {
                self.corrupt(dir.to_owned(), "cannot read folder");
                Vec::new()
            }
        }
    }

    /// Like `list_dir`, but says when the folder is absent or not a folder,
    /// which saves a stat before each read.
    fn try_list_dir(&mut self, dir: &Path) -> Listing {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Listing::Missing,
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Listing::NotDir,
            Err(e) => {
                self.corrupt(dir.to_owned(), format!("cannot read folder: {e}"));
                return Listing::Entries(Vec::new());
            }
        };
        let entries = entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name();
                !OS_LITTER.iter().any(|n| name == *n)
            })
            .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
            .collect();
        Listing::Entries(entries)
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
            _ => {
                let meta = fs::symlink_metadata(&self.repo_path);
                let accessed =
                    unix_seconds(meta.as_ref().map_err(clone_err).and_then(|m| m.accessed()));
                let modified =
                    unix_seconds(meta.as_ref().map_err(clone_err).and_then(|m| m.modified()));
                (accessed, modified)
            }
        };
        let size_on_disk = self.blobs.iter().map(|s| s.size).sum();
        let nb_files = self.blobs.len();
        let blobs = self.blobs.into_iter().map(|s| (s.identity, s.size)).collect();
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
            blobs,
        }
    }
}

fn clone_err(e: &std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), e.to_string())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn relative_name(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn has_suffix(path: &Path, suffix: &str) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(suffix))
}
