//! How a snapshot file reaches its blob: a relative symlink where the
//! cache folder allows one, else the blob itself, as huggingface_hub writes
//! it on Windows without developer mode or with `HF_HUB_DISABLE_SYMLINKS=1`
//! (`_create_symlink` in its `file_download.py`): a new blob is *moved* into
//! the snapshot, and a path that shares it gets a *copy*, so `blobs/` ends
//! up empty and every snapshot file is a plain file.
//!
//! Whether symlinks can be made is asked of the cache folder itself, once
//! per folder and process (as `are_symlinks_supported` does): a FAT or SMB
//! drive refuses them on Linux too, and Windows grants them per account.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::layout::{link_snapshot, real_folders};
use crate::cache::snapshot::snapshot_files;
use crate::cache::tree::TreeListing;
use crate::cache::{BlobName, CommitHash, RepoFilePath};
use crate::error::{Error, Result};
use crate::fs_retry::rename;

/// How snapshot files are written in a cache folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotStyle {
    /// `snapshots/<commit>/<path>` → `../../blobs/<etag>` (the standard layout).
    Symlinks,
    /// The snapshot file is the blob's bytes (no symlink anywhere).
    Files,
}

impl SnapshotStyle {
    /// `Files` when the user disabled symlinks (`HF_HUB_DISABLE_SYMLINKS`)
    /// or the folder refuses them; the probe's answer is kept per folder.
    pub fn for_cache(cache_dir: &Path, symlinks_disabled: bool) -> Self {
        if symlinks_disabled || !symlinks_supported(cache_dir) {
            Self::Files
        } else {
            Self::Symlinks
        }
    }
}

/// Puts `path` of `commit` in place from `blobs/<etag>`. With `Files`,
/// the blob is moved there unless `keep_blob` (another path still needs
/// it: that one gets it later, and this one a copy). A plain file already
/// there is kept: it is what an earlier run of the same placement left.
pub fn place(
    style: SnapshotStyle,
    repo_dir: &Path,
    commit: &CommitHash,
    path: &RepoFilePath,
    etag: &BlobName,
    keep_blob: bool,
) -> Result<PathBuf> {
    if style == SnapshotStyle::Symlinks {
        return link_snapshot(repo_dir, commit, path, etag);
    }
    let snapshot = repo_dir.join("snapshots").join(commit.as_str());
    let dest = path.join_to(&snapshot);
    if std::fs::symlink_metadata(&dest).is_ok_and(|m| m.is_file() || m.is_symlink()) {
        return Ok(dest);
    }
    real_folders(&snapshot, path)?;
    let blob = repo_dir.join("blobs").join(etag.as_str());
    if keep_blob {
        copy_in(&blob, &dest, etag)?;
    } else {
        rename(&blob, &dest)?;
    }
    super::crash::reached(super::crash::Step::Link);
    Ok(dest)
}

/// One snapshot file to put in place from `blobs/<etag>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotEntry {
    /// The snapshot.
    pub commit: CommitHash,
    /// The file in it.
    pub path: RepoFilePath,
    /// The blob it gets.
    pub etag: BlobName,
}

/// Places many snapshot files of one repo, for the writers that bring
/// blobs in bulk (migrate, import). Without symlinks, a blob several of
/// them share is copied for each but the last one still to place, which
/// gets the blob; and a blob a snapshot symlink points to is only copied.
#[derive(Debug)]
pub struct Placer<'a> {
    style: SnapshotStyle,
    repo_dir: &'a Path,
    linked: HashSet<BlobName>,
}

impl<'a> Placer<'a> {
    /// Reads which blobs the repo's snapshot symlinks point to, without symlinks.
    pub fn new(style: SnapshotStyle, repo_dir: &'a Path) -> Self {
        let linked = match style {
            SnapshotStyle::Files => linked_blobs(repo_dir),
            SnapshotStyle::Symlinks => HashSet::new(),
        };
        Self {
            style,
            repo_dir,
            linked,
        }
    }

    /// Puts `files[i]` in place (see [`place`]).
    pub fn place(&self, files: &[SnapshotEntry], i: usize) -> Result<PathBuf> {
        let f = &files[i];
        let keep = self.keeps_blob(files, i);
        place(self.style, self.repo_dir, &f.commit, &f.path, &f.etag, keep)
    }

    /// Every one of `files`, in order. A blob in `brought` (put in `blobs/`
    /// by the caller's run) that is left there because each of its paths
    /// was in place already (a rerun after a kill) is removed: nothing
    /// needs it. Without symlinks only: with them, the links need it.
    pub fn place_each(&self, files: &[SnapshotEntry], brought: &HashSet<BlobName>) -> Result<()> {
        for i in 0..files.len() {
            self.place(files, i)?;
        }
        if self.style == SnapshotStyle::Files {
            let left: HashSet<&BlobName> = files
                .iter()
                .map(|f| &f.etag)
                .filter(|e| brought.contains(*e) && !self.linked.contains(*e))
                .collect();
            for etag in left {
                let blob = self.repo_dir.join("blobs").join(etag.as_str());
                if std::fs::symlink_metadata(&blob).is_ok_and(|m| m.is_file()) {
                    std::fs::remove_file(&blob).map_err(|e| Error::io("remove", &blob, e))?;
                }
            }
        }
        Ok(())
    }

    /// Whether placing `files[i]` must leave its blob in `blobs/`: a later
    /// one of `files` not yet in place shares it, or a symlink needs it.
    fn keeps_blob(&self, files: &[SnapshotEntry], i: usize) -> bool {
        let f = &files[i];
        self.style == SnapshotStyle::Files
            && (self.linked.contains(&f.etag)
                || files[i + 1..].iter().any(|later| {
                    later.etag == f.etag && !is_plain(self.repo_dir, &later.commit, &later.path)
                }))
    }
}

/// Blobs a snapshot symlink of the repo points to. In a cache that had
/// symlinks before (one the user has since told not to make them), moving
/// such a blob into a snapshot would break that link: it is copied, as
/// huggingface_hub copies every blob it did not just download.
pub fn linked_blobs(repo_dir: &Path) -> HashSet<BlobName> {
    let blobs = repo_dir.join("blobs");
    let Ok(commits) = std::fs::read_dir(repo_dir.join("snapshots")) else {
        return HashSet::new();
    };
    commits
        .flatten()
        .flat_map(|c| snapshot_files(repo_dir, &c.path()))
        .filter(|f| f.blob != f.entry && f.blob.parent() == Some(blobs.as_path()))
        .filter_map(|f| BlobName::parse(&f.etag()).ok())
        .collect()
}

/// The snapshot file of `path` is there as a plain file (any size: it was
/// renamed into place whole).
pub fn is_plain(repo_dir: &Path, commit: &CommitHash, path: &RepoFilePath) -> bool {
    let dest = path.join_to(&repo_dir.join("snapshots").join(commit.as_str()));
    std::fs::symlink_metadata(dest).is_ok_and(|m| m.is_file())
}

/// The snapshot file of `path` is there as a plain file of `size` bytes.
pub fn is_placed(repo_dir: &Path, commit: &CommitHash, path: &RepoFilePath, size: u64) -> bool {
    let dest = path.join_to(&repo_dir.join("snapshots").join(commit.as_str()));
    std::fs::symlink_metadata(dest).is_ok_and(|m| m.is_file() && m.len() == size)
}

/// Brings `etag` back into `blobs/` from a plain snapshot file of another
/// revision that holds it (its listing says so, and the copy hashes to the
/// etag), so a second revision gets a copy instead of a download. `false`
/// when no snapshot has it.
pub fn restore_blob(repo_dir: &Path, etag: &BlobName, size: u64) -> bool {
    let blob = repo_dir.join("blobs").join(etag.as_str());
    for donor in donors(repo_dir, etag, size) {
        if copy_in(&donor, &blob, etag).is_ok()
            && crate::cache::verify::hash_matches(&blob, etag.as_str(), size)
        {
            return true;
        }
        let _ = std::fs::remove_file(&blob);
    }
    false
}

/// Plain snapshot files whose listing names `etag`, of `size` bytes.
fn donors(repo_dir: &Path, etag: &BlobName, size: u64) -> Vec<PathBuf> {
    let trees = TreeListing::dir(repo_dir);
    let Ok(entries) = std::fs::read_dir(&trees) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(commit) = name
            .strip_suffix(".json")
            .and_then(|c| CommitHash::parse(c).ok())
        else {
            continue;
        };
        let Some(listing) = TreeListing::entries(&trees, commit.as_str()) else {
            continue;
        };
        for (file, entry) in &listing {
            let Ok(file) = RepoFilePath::parse(file) else {
                continue;
            };
            if entry.etag() == etag.as_str() && is_placed(repo_dir, &commit, &file, size) {
                out.push(file.join_to(&repo_dir.join("snapshots").join(commit.as_str())));
            }
        }
    }
    out
}

/// Copies `from` to `to` through a temp beside `to`, so a kill leaves
/// no half file under the final name.
fn copy_in(from: &Path, to: &Path, etag: &BlobName) -> Result<()> {
    let parent = to.parent().unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{etag}.{}.tmp", std::process::id()));
    let copied = std::fs::copy(from, &tmp)
        .map_err(|e| Error::io("copy", from, e))
        .and_then(|_| rename(&tmp, to));
    if copied.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    copied
}

/// Whether a relative symlink can be made in `cache_dir`, probed once per
/// folder as huggingface_hub's `are_symlinks_supported` does (a temp folder
/// with a file and a link to it, then removed), and read back.
pub fn symlinks_supported(cache_dir: &Path) -> bool {
    static ANSWERS: OnceLock<Mutex<HashMap<PathBuf, bool>>> = OnceLock::new();
    let key = dunce::canonicalize(cache_dir).unwrap_or_else(|_| cache_dir.to_owned());
    // Held across the probe: two downloads of one process probing at once
    // would share its folder, and one's clean-up would fail the other's
    // probe (a cache then taken for one without symlinks).
    let mut answers = match ANSWERS.get_or_init(Default::default).lock() {
        Ok(a) => a,
        Err(poisoned) => poisoned.into_inner(),
    };
    *answers.entry(key).or_insert_with(|| probe(cache_dir))
}

/// The probe's folder is named `<PROBE_PREFIX><pid>`.
pub(crate) const PROBE_PREFIX: &str = ".symlink-probe.";

fn probe(cache_dir: &Path) -> bool {
    let dir = cache_dir.join(format!("{PROBE_PREFIX}{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        // A folder we cannot write: nothing will be linked in it anyway.
        return true;
    }
    // Made *and* read back through: Wine 8 answers CreateSymbolicLinkW
    // with success and makes nothing, and some network mounts do the same.
    let made = std::fs::write(dir.join("src"), b"probe").is_ok()
        && super::layout::symlink(Path::new("src"), &dir.join("dst")).is_ok()
        && std::fs::symlink_metadata(dir.join("dst")).is_ok_and(|m| m.is_symlink())
        && std::fs::read(dir.join("dst")).is_ok_and(|b| b == b"probe");
    let _ = std::fs::remove_dir_all(&dir);
    made
}

#[cfg(test)]
mod tests;
