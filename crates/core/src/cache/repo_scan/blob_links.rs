//! The blobs behind a snapshot's files: a plain file is its own blob, a
//! symlink is followed one hop (as huggingface_hub does), and only inside
//! the cache. Each blob is stat'ed once per repo.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::RepoScanner;
use crate::cache::dir_handle::{DirHandle, FileStat, Kind};
use crate::cache::paths::{is_under, resolve_link};
use crate::cache::shared_store::SharedStore;

impl RepoScanner<'_> {
    /// A snapshot file that is the blob itself (caches written without symlinks).
    pub(super) fn plain_blob(&mut self, dir: &DirHandle, name: &OsStr) -> Option<usize> {
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
    pub(super) fn linked_blob(&mut self, dir: &DirHandle, name: &OsStr) -> Option<usize> {
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
        // The usual case, a managed link to a payload, is read as the
        // store's rules read it: without resolving every folder of the path
        // (canonicalize costs a readlink per component, per shared blob).
        let store = self
            .store
            .get_or_init(|| SharedStore::open(self.cache_root));
        if let Some(payload) = store.as_ref().and_then(|s| s.linked_payload(blob)) {
            return fs::symlink_metadata(&payload.path)
                .ok()
                .map(|m| FileStat::from_metadata(&payload.path, &m));
        }
        match dunce::canonicalize(blob) {
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
}
