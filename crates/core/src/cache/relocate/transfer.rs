//! Placing one folder of the old cache (a repo, or a file such as
//! `CACHEDIR.TAG`) at the same place in the new one, never removing from
//! the old: folders made, files hard-linked (same file system) or copied
//! and checked, links made again.
//!
//! Written here, not with a copy crate (fs_extra, copy_dir), because each
//! file must be checked against its name before it gets that name, keep its
//! access time (the budget's "last used"), and be skipped when the new cache
//! has it already: none of them does all three.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::crash;
use super::entries::{self, Entry, Kind};
use super::plain::{LinkedBlob, PlainLayout};
use super::plan::has_same_size;
use super::MoveMethod;
use crate::cache::blob_hash::{BlobHashKind, BlobHasher};
use crate::cache::paths::is_under;
use crate::cache::shared_store::{SharedStore, STORE_DIR};
use crate::error::{Error, Result};

const CHUNK: usize = 1 << 20;

/// The suffix of a file being placed; a kill can leave one, which the next
/// run overwrites.
const PLACING: &str = ".haid-moving";

/// Where the files go, and how.
pub(super) struct Placer<'a> {
    pub from: &'a Path,
    pub to: &'a Path,
    pub method: MoveMethod,
    /// DEST refuses symlinks: each snapshot link is placed as a copy of
    /// its blob (`plain`).
    pub plain: bool,
    /// Called with each number of bytes placed.
    pub on_bytes: &'a mut dyn FnMut(u64),
    /// Bytes written by copying.
    pub copied: u64,
}

impl Placer<'_> {
    /// Places everything under `from/name` at `to/name`.
    pub fn place(&mut self, name: &str) -> Result<()> {
        let store = (name == STORE_DIR)
            .then(|| SharedStore::open(self.from))
            .flatten();
        if let Some(store) = store {
            // Without symlinks there is no store (huggingface_hub keeps none
            // there): its payloads reach DEST as the snapshot files that
            // link to them (`plain`), and the store itself stays behind.
            return if self.plain {
                Ok(())
            } else {
                self.place_store(&store)
            };
        }
        let (src_root, dst_root) = (self.from.join(name), self.to.join(name));
        let walked = entries::walk(&src_root)?;
        let plain = if self.plain {
            PlainLayout::of(&src_root, &walked)
        } else {
            PlainLayout::default()
        };
        for entry in walked {
            // The top itself has an empty relative path: joined, it would
            // gain a trailing `/` that a file refuses.
            let (src, dst) = if entry.rel.as_os_str().is_empty() {
                (src_root.clone(), dst_root.clone())
            } else {
                (src_root.join(&entry.rel), dst_root.join(&entry.rel))
            };
            match &entry.kind {
                Kind::Dir => fs::create_dir_all(&dst).map_err(|e| Error::io("create", &dst, e))?,
                Kind::File { .. } if plain.is_linked_blob(&src) => {}
                Kind::File { size } => self.place_file(&entry, &src, &dst, *size)?,
                Kind::Link { .. } if self.plain => {
                    if let Some(blob) = plain.links.get(&entry.rel) {
                        self.place_blob_copy(blob, &dst)?;
                    }
                }
                Kind::Link { target } => self.place_link(target, &dst)?,
            }
        }
        Ok(())
    }

    pub(super) fn place_file(
        &mut self,
        entry: &Entry,
        src: &Path,
        dst: &Path,
        size: u64,
    ) -> Result<()> {
        if already_there(entry, src, dst, size) {
            (self.on_bytes)(size);
            return Ok(());
        }
        self.put(src, dst, blob_hash(entry, size), size, None)
    }

    /// A snapshot link, where DEST refuses links: a checked copy of its blob.
    fn place_blob_copy(&mut self, blob: &LinkedBlob, dst: &Path) -> Result<()> {
        if has_same_size(dst, blob.size) {
            (self.on_bytes)(blob.size);
            return Ok(());
        }
        self.put(
            &blob.source,
            dst,
            named_hash(&blob.name, blob.size),
            blob.size,
            None,
        )
    }

    /// Puts `src`'s bytes at `dst` through a temporary name: a hard link on
    /// one file system, else a copy checked against `hash`, given `mode`
    /// when one is asked (a shared payload stays read-only).
    pub(super) fn put(
        &mut self,
        src: &Path,
        dst: &Path,
        hash: Option<(BlobHashKind, String, u64)>,
        size: u64,
        mode: Option<fs::Permissions>,
    ) -> Result<()> {
        let tmp = placing(dst);
        let linked = self.method == MoveMethod::Rename && fs::hard_link(src, &tmp).is_ok();
        if linked {
            (self.on_bytes)(size);
        } else {
            let _ = fs::remove_file(&tmp);
            copy_checked(src, &tmp, hash, self.on_bytes)?;
            if let Some(mode) = mode {
                fs::set_permissions(&tmp, mode).map_err(|e| Error::io("write", &tmp, e))?;
            }
            self.copied += size;
        }
        fs::rename(&tmp, dst).map_err(|e| Error::io("move", &tmp, e))?;
        crash::step();
        Ok(())
    }

    /// Makes the link again; one that pointed by absolute path into the old
    /// cache points to the same place in the new one. The new cache's own
    /// entry, when it has one, is kept.
    pub(super) fn place_link(&self, target: &Path, dst: &Path) -> Result<()> {
        if fs::symlink_metadata(dst).is_ok() {
            return Ok(());
        }
        let target = match target.strip_prefix(self.from) {
            Ok(rest) if target.is_absolute() && is_under(target, self.from) => self.to.join(rest),
            _ => target.to_owned(),
        };
        make_link(&target, dst)?;
        crash::step();
        Ok(())
    }
}

/// Whether DEST holds this file already: the same size (blobs are named by
/// their content), or for a ref the same content (every commit hash is 40
/// characters, and the old cache's refs are what the user has).
fn already_there(entry: &Entry, src: &Path, dst: &Path, size: u64) -> bool {
    if !has_same_size(dst, size) {
        return false;
    }
    let is_ref = entry
        .rel
        .components()
        .next()
        .is_some_and(|c| c.as_os_str() == "refs");
    !is_ref || fs::read(src).ok() == fs::read(dst).ok()
}

/// The hash a blob's name says its content has; `None` for any other file.
fn blob_hash(entry: &Entry, size: u64) -> Option<(BlobHashKind, String, u64)> {
    let mut parts = entry.rel.components().map(|c| c.as_os_str().to_str());
    let (Some(Some("blobs")), Some(Some(name)), None) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    named_hash(name, size)
}

/// The hash a blob named `name` must have, when its name is a hash.
pub(super) fn named_hash(name: &str, size: u64) -> Option<(BlobHashKind, String, u64)> {
    BlobHashKind::of_etag(name).map(|kind| (kind, name.to_owned(), size))
}

pub(super) fn placing(dst: &Path) -> PathBuf {
    let mut name = dst.file_name().unwrap_or_default().to_owned();
    name.push(PLACING);
    dst.with_file_name(name)
}

/// Copies `from` to `to`, durably, with `from`'s access and modification
/// times; fails, removing `to`, when the bytes do not match `hash`.
fn copy_checked(
    from: &Path,
    to: &Path,
    hash: Option<(BlobHashKind, String, u64)>,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<()> {
    let result = copy_into(from, to, hash, on_bytes);
    if result.is_err() {
        let _ = fs::remove_file(to);
    }
    result
}

fn copy_into(
    from: &Path,
    to: &Path,
    hash: Option<(BlobHashKind, String, u64)>,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut src = File::open(from).map_err(|e| Error::io("read", from, e))?;
    let meta = src.metadata().map_err(|e| Error::io("read", from, e))?;
    let mut dst = File::create(to).map_err(|e| Error::io("write", to, e))?;
    let mut hasher = hash
        .as_ref()
        .map(|(kind, _, size)| BlobHasher::new(*kind, *size));
    let mut buf = vec![0; CHUNK];
    let mut written = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(|e| Error::io("read", from, e))?;
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n]).map_err(|e| write_error(to, e))?;
        if let Some(h) = hasher.as_mut() {
            h.update(&buf[..n]);
        }
        written += n as u64;
        on_bytes(n as u64);
    }
    if let (Some(h), Some((_, name, _))) = (hasher, hash) {
        let actual = h.finish_hex();
        if actual != name {
            return Err(Error::Checksum {
                path: from.display().to_string(),
                expected: name,
                actual,
            });
        }
    }
    if written != meta.len() {
        return Err(Error::io(
            "copy",
            from,
            std::io::Error::other(format!("read {written} bytes of {}", meta.len())),
        ));
    }
    keep_times(&dst, &meta);
    // The copy is the only one once the old cache goes: durable first.
    dst.sync_all().map_err(|e| write_error(to, e))
}

/// The budget's "last used" is a blob's access time: a copy keeps it.
fn keep_times(dst: &File, meta: &fs::Metadata) {
    let mut times = fs::FileTimes::new();
    if let Ok(t) = meta.accessed() {
        times = times.set_accessed(t);
    }
    if let Ok(t) = meta.modified() {
        times = times.set_modified(t);
    }
    let _ = dst.set_times(times);
}

fn write_error(to: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::StorageFull {
        return Error::CacheDir {
            path: to.parent().unwrap_or(to).to_owned(),
            message: "the disk filled during the move; the old cache is whole and still the one in use: free up space here, then run the same move again to go on".into(),
        };
    }
    Error::io("write", to, e)
}

fn make_link(target: &Path, link: &Path) -> Result<()> {
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(target, link);
    #[cfg(windows)]
    let made = std::os::windows::fs::symlink_file(target, link);
    made.map_err(|e| Error::io("link", link, e))
}

#[cfg(test)]
mod tests;
