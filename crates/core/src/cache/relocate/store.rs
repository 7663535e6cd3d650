//! huggingface_hub 2.5's shared store (`<cache>/blobs/`) in a move. It goes
//! with the cache: the marker, the prefix folders, each payload (checked,
//! read-only as 2.5 keeps it) and each `.refs` list. Repo blobs link to it
//! relatively (`../../blobs/<xx>/<hash>`), so the links made again at DEST
//! land in DEST's store. Lock files stay, as `.locks/` does: a lock belongs
//! to its place.
//!
//! A payload is named by its Xet hash, which we cannot compute; a copy is
//! checked against the etag of a repo blob that links to it (its sha256,
//! the name the hub gave those bytes). A payload no repo links to has no
//! such name: it is copied with its length checked, as any other file.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::entries::{self, Kind};
use super::transfer::{named_hash, placing, Placer};
use crate::cache::blob_hash::BlobHashKind;
use crate::cache::names::XetHash;
use crate::cache::shared_store::{SharedStore, STORE_DIR};
use crate::cache::RepoId;
use crate::error::{Error, Result};

/// Whether the entry `rel` under the top-level entry `top` moves: all but
/// the store's lock files (`<hash>.lock`, and filelock's `.lock.soft`).
pub(super) fn moves(top: &str, rel: &Path) -> bool {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    top != STORE_DIR || !(name.ends_with(".lock") || name.ends_with(".lock.soft"))
}

impl Placer<'_> {
    /// Places `store`, the old cache's, at DEST.
    pub(super) fn place_store(&mut self, store: &SharedStore) -> Result<()> {
        let etags = payload_etags(self.from, store);
        let dst_root = self.to.join(STORE_DIR);
        // Parents before children, and the marker (`.h…`) before the prefix
        // folders: DEST's store is marked before it holds a payload.
        for entry in entries::walk(store.dir())? {
            if !moves(STORE_DIR, &entry.rel) {
                continue;
            }
            let (src, dst) = if entry.rel.as_os_str().is_empty() {
                (store.dir().to_owned(), dst_root.clone())
            } else {
                (store.dir().join(&entry.rel), dst_root.join(&entry.rel))
            };
            match &entry.kind {
                Kind::Dir => fs::create_dir_all(&dst).map_err(|e| Error::io("create", &dst, e))?,
                Kind::File { size } => {
                    if let Some(hash) = store.hash_of_payload_path(&src) {
                        self.place_payload(&src, &dst, *size, etags.get(&hash))?;
                    } else if let Some(hash) = refs_of(store, &src) {
                        self.merge_refs(&src, &dst, &hash, *size)?;
                    } else {
                        self.place_file(&entry, &src, &dst, *size)?;
                    }
                }
                Kind::Link { target } => self.place_link(target, &dst)?,
            }
        }
        Ok(())
    }

    /// A payload: skipped when DEST's store has it (named by content, so the
    /// same size is the same file), else linked or copied and checked, and
    /// left as read-only as it was.
    fn place_payload(
        &mut self,
        src: &Path,
        dst: &Path,
        size: u64,
        etag: Option<&String>,
    ) -> Result<()> {
        if super::plan::has_same_size(dst, size) {
            (self.on_bytes)(size);
            return Ok(());
        }
        let mode = fs::symlink_metadata(src)
            .map_err(|e| Error::io("read", src, e))?
            .permissions();
        let hash = etag.and_then(|e| named_hash(e, size));
        self.put(src, dst, hash, size, Some(mode))
    }

    /// A `.refs` list. Into a store that has one already (a merge), the
    /// lines it lacks are added, under the payload's lock at DEST (Python
    /// may be appending to that very list): both caches' repos then count
    /// as references. The lock file is made at DEST, as 2.5 makes its own.
    fn merge_refs(&mut self, src: &Path, dst: &Path, hash: &XetHash, size: u64) -> Result<()> {
        let theirs = fs::read_to_string(src).map_err(|e| Error::io("read", src, e))?;
        let dest_store = SharedStore::open(self.to);
        let _lock = match &dest_store {
            Some(store) => Some(store.lock(hash).map_err(|e| Error::io("lock", dst, e))?),
            None => None,
        };
        let ours = match fs::symlink_metadata(dst) {
            Ok(meta) if meta.is_file() => {
                Some(fs::read_to_string(dst).map_err(|e| Error::io("read", dst, e))?)
            }
            _ => None,
        };
        let mut text = ours.clone().unwrap_or_default();
        let missing: Vec<&str> = theirs
            .lines()
            .filter(|l| !l.is_empty() && !text.lines().any(|o| o == *l))
            .collect();
        (self.on_bytes)(size);
        if ours.is_some() && missing.is_empty() {
            return Ok(());
        }
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        for line in missing {
            text.push_str(line);
            text.push('\n');
        }
        let mode = fs::symlink_metadata(src).ok().map(|m| m.permissions());
        write_replacing(dst, text.as_bytes(), mode)?;
        super::crash::step();
        Ok(())
    }
}

/// The Xet hash whose `.refs` list `path` is, or `None`.
fn refs_of(store: &SharedStore, path: &Path) -> Option<XetHash> {
    let name = path.file_name()?.to_str()?;
    let payload = path.with_file_name(name.strip_suffix(".refs")?);
    store.hash_of_payload_path(&payload)
}

/// For each payload, the name of a repo blob of `cache` that links to it:
/// the hash its bytes must have. A sha256 name is preferred (the hub's
/// name for an LFS file), then the smallest, so the choice is the same on
/// every run.
fn payload_etags(cache: &Path, store: &SharedStore) -> HashMap<XetHash, String> {
    let mut out: HashMap<XetHash, String> = HashMap::new();
    for blob in repo_blobs(cache) {
        let Some(hash) = store.link_target(&blob) else {
            continue;
        };
        let Some(name) = blob.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if BlobHashKind::of_etag(name).is_none() {
            continue;
        }
        let rank = |n: &str| (n.len() != 64, n.to_owned());
        out.entry(hash)
            .and_modify(|e| {
                if rank(name) < rank(e) {
                    *e = name.to_owned();
                }
            })
            .or_insert_with(|| name.to_owned());
    }
    out
}

/// Every `<repo>/blobs/<name>` entry of `cache` (repo folders only, no link
/// followed).
fn repo_blobs(cache: &Path) -> Vec<PathBuf> {
    let Ok(repos) = fs::read_dir(cache) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for repo in repos.flatten() {
        let name = repo.file_name().to_string_lossy().into_owned();
        if !repo.file_type().is_ok_and(|t| t.is_dir()) || RepoId::from_folder_name(&name).is_err() {
            continue;
        }
        let Ok(blobs) = fs::read_dir(repo.path().join("blobs")) else {
            continue;
        };
        out.extend(blobs.flatten().map(|b| b.path()));
    }
    out
}

/// Writes `bytes` to `dst` through a temporary name, durably.
fn write_replacing(dst: &Path, bytes: &[u8], mode: Option<fs::Permissions>) -> Result<()> {
    let tmp = placing(dst);
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        if let Some(mode) = mode {
            file.set_permissions(mode)?;
        }
        file.sync_all()?;
        fs::rename(&tmp, dst)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(|e| Error::io("write", dst, e))
}

#[cfg(test)]
mod tests;
