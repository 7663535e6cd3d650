//! The files of one snapshot and the blobs they point to, for delete, prune
//! and verify (the scan keeps only totals). Links are resolved without the
//! disk; a blob outside the cache is reported as such, never opened. A blob
//! that is a managed link into huggingface_hub 2.5's shared store is read
//! through to its payload; any other link from `blobs/` is not followed.

use std::fs;
use std::path::{Path, PathBuf};

use super::names::XetHash;
use super::paths::{is_under, resolve_link};
use super::shared_store::SharedStore;

/// One file of `snapshots/<commit>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// Path inside the repo, `/`-separated.
    pub path: String,
    /// The entry in the snapshot folder.
    pub entry: PathBuf,
    /// What it points to (itself for a plain file).
    pub blob: PathBuf,
    /// The size of the bytes behind the blob, when they are a regular file
    /// inside the cache (the shared payload's, for a shared blob).
    pub size: Option<u64>,
    /// The shared payload the blob links to, when it does.
    pub shared: Option<SharedPayload>,
}

/// Where a shared blob's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedPayload {
    /// The payload's Xet hash.
    pub hash: XetHash,
    /// `<cache>/blobs/<xx>/<hash>`.
    pub path: PathBuf,
}

impl SnapshotFile {
    /// The blob's name: the etag it was saved under.
    pub fn etag(&self) -> String {
        self.blob
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The file holding the bytes: the shared payload, or the blob itself.
    pub fn content(&self) -> &Path {
        self.shared.as_ref().map_or(&self.blob, |s| &s.path)
    }

    /// Whether the snapshot entry is the file itself (the no-symlink layout).
    pub fn is_plain(&self) -> bool {
        self.entry == self.blob
    }
}

/// Every file under `snapshot`, sorted by path. `root` is the canonical cache.
pub fn snapshot_files(root: &Path, snapshot: &Path) -> Vec<SnapshotFile> {
    let mut out = Vec::new();
    let store = snapshot
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .and_then(SharedStore::open);
    walk(root, store.as_ref(), snapshot, "", &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn walk(
    root: &Path,
    store: Option<&SharedStore>,
    dir: &Path,
    prefix: &str,
    out: &mut Vec<SnapshotFile>,
) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(ft) = entry.file_type() else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{prefix}{name}");
        let entry_path = entry.path();
        if ft.is_dir() {
            walk(root, store, &entry_path, &format!("{path}/"), out);
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
        let meta = is_under(&blob, root)
            .then(|| fs::symlink_metadata(&blob).ok())
            .flatten();
        let shared = meta
            .as_ref()
            .filter(|m| m.file_type().is_symlink())
            .and_then(|_| store?.linked_payload(&blob));
        let size = match &shared {
            Some(payload) => Some(payload.size),
            None => meta.filter(fs::Metadata::is_file).map(|m| m.len()),
        };
        out.push(SnapshotFile {
            path,
            entry: entry_path,
            blob,
            size,
            shared: shared.map(|p| SharedPayload {
                hash: p.hash,
                path: p.path,
            }),
        });
    }
}
