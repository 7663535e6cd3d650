//! The files of one snapshot and the blobs they point to, for delete, prune
//! and verify (the scan keeps only totals). Links are resolved without the
//! disk; a blob outside the cache is reported as such, never opened.

use std::fs;
use std::path::{Path, PathBuf};

use super::paths::{is_under, resolve_link};

/// One file of `snapshots/<commit>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// Path inside the repo, `/`-separated.
    pub path: String,
    /// The entry in the snapshot folder.
    pub entry: PathBuf,
    /// What it points to (itself for a plain file).
    pub blob: PathBuf,
    /// The blob's size when it is a regular file inside the cache.
    pub size: Option<u64>,
}

impl SnapshotFile {
    /// The blob's name: the etag it was saved under.
    pub fn etag(&self) -> String {
        self.blob
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Every file under `snapshot`, sorted by path. `root` is the canonical cache.
pub fn snapshot_files(root: &Path, snapshot: &Path) -> Vec<SnapshotFile> {
    let mut out = Vec::new();
    walk(root, snapshot, "", &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn walk(root: &Path, dir: &Path, prefix: &str, out: &mut Vec<SnapshotFile>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(ft) = entry.file_type() else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{prefix}{name}");
        let entry_path = entry.path();
        if ft.is_dir() {
            walk(root, &entry_path, &format!("{path}/"), out);
            continue;
        }
        let blob = if ft.is_symlink() {
            match fs::read_link(&entry_path) {
                Ok(target) => resolve_link(dir, &target),
                Err(_) => continue,
            }
        } else {
            entry_path.clone()
        };
        let size = is_under(&blob, root)
            .then(|| fs::symlink_metadata(&blob).ok())
            .flatten()
            .filter(fs::Metadata::is_file)
            .map(|m| m.len());
        out.push(SnapshotFile {
            path,
            entry: entry_path,
            blob,
            size,
        });
    }
}
