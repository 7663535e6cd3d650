//! File operations of a migration: hashing, placing a verified blob (by
//! rename or by copy), and removing what was migrated. Written here because
//! each step must be checked and resumable in a way no copy crate offers:
//! a blob appears under its final name only once its bytes match that name.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::cache::blob_hash::{BlobHashKind, BlobHasher};
use crate::error::{Error, Result};

const CHUNK: usize = 1 << 20;

/// (number of regular files, their bytes) under `dir`; links are not followed.
pub(crate) fn tally(dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    walk(dir, &mut |_, meta| {
        files += 1;
        bytes += meta.len();
    });
    (files, bytes)
}

/// Regular files under `dir`: (`/`-joined path relative to `dir`, path, size).
pub(crate) fn files_under(dir: &Path) -> Vec<(String, PathBuf, u64)> {
    let mut out = Vec::new();
    walk(dir, &mut |path, meta| {
        if let Ok(rel) = path.strip_prefix(dir) {
            let parts: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            out.push((parts.join("/"), path.to_owned(), meta.len()));
        }
    });
    out
}

/// Whether anything but folders is under `dir` (files or links).
pub(crate) fn holds_files(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries
        .filter_map(|e| e.ok())
        .any(|e| !e.file_type().is_ok_and(|t| t.is_dir()) || holds_files(&e.path()))
}

/// Calls `f` with each regular file under `dir` (no symlinks followed).
pub(crate) fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &fs::Metadata)) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, f);
        } else if meta.is_file() {
            f(&path, &meta);
        }
    }
}

/// Whether a rename can take `source` into `cache_dir` (which may not exist
/// yet: its nearest existing ancestor decides).
pub(crate) fn same_file_system(source: &Path, cache_dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let dev = |p: &Path| fs::metadata(p).ok().map(|m| m.dev());
        let target = cache_dir.ancestors().find_map(dev);
        dev(source).is_some() && dev(source) == target
    }
    #[cfg(not(unix))]
    {
        let root = |p: &Path| p.components().next().map(|c| c.as_os_str().to_owned());
        root(source) == root(cache_dir)
    }
}

/// The content hash of `path` in the kind `kind` (sha256, or git blob sha1).
pub(crate) fn hash_file(path: &Path, kind: BlobHashKind) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io("read", path, e))?;
    let size = file
        .metadata()
        .map_err(|e| Error::io("read", path, e))?
        .len();
    let mut hasher = BlobHasher::new(kind, size);
    let mut buf = vec![0; CHUNK];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            return Ok(hasher.finish_hex());
        }
        hasher.update(&buf[..n]);
    }
}

/// Puts a source file whose hash is already checked at `blob` (its final
/// name in the cache). A blob already there that matches its name is kept
/// (a damaged one is replaced). Moving renames (the same bytes, already
/// checked); copying writes a temporary file, checks its hash as it goes,
/// then renames it.
pub(crate) fn place_blob(source: &Path, blob: &Path, etag: &str, copy: bool) -> Result<()> {
    let size = fs::metadata(source)
        .map_err(|e| Error::io("read", source, e))?
        .len();
    if blob_is_sound(blob, etag, size) {
        return Ok(());
    }
    if let Some(dir) = blob.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    if !copy {
        return fs::rename(source, blob).map_err(|e| Error::io("move", source, e));
    }
    let tmp = temp_beside(blob);
    let copied = copy_hashing(source, &tmp, etag);
    match copied {
        Ok(()) => fs::rename(&tmp, blob).map_err(|e| Error::io("move", &tmp, e)),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A blob of the expected size whose bytes match its name (when the name is a hash).
pub(crate) fn blob_is_sound(blob: &Path, etag: &str, size: u64) -> bool {
    if !fs::metadata(blob).is_ok_and(|m| m.is_file() && m.len() == size) {
        return false;
    }
    match BlobHashKind::of_etag(etag) {
        Some(kind) => hash_file(blob, kind).is_ok_and(|h| h == etag),
        None => true,
    }
}

fn temp_beside(blob: &Path) -> PathBuf {
    let name = blob
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    blob.with_file_name(format!("{name}.migrating"))
}

/// Copies `from` to `to`, hashing the bytes written; fails if they do not
/// match `etag` (when it is a hash) or the source's size.
fn copy_hashing(from: &Path, to: &Path, etag: &str) -> Result<()> {
    let mut src = File::open(from).map_err(|e| Error::io("read", from, e))?;
    let size = src
        .metadata()
        .map_err(|e| Error::io("read", from, e))?
        .len();
    let mut dst = File::create(to).map_err(|e| Error::io("write", to, e))?;
    let mut hasher = BlobHashKind::of_etag(etag).map(|k| BlobHasher::new(k, size));
    let mut buf = vec![0; CHUNK];
    let mut written = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(|e| Error::io("read", from, e))?;
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n])
            .map_err(|e| Error::io("write", to, e))?;
        if let Some(h) = hasher.as_mut() {
            h.update(&buf[..n]);
        }
        written += n as u64;
    }
    // The copy is the only one once the source goes: make it durable first.
    dst.sync_all().map_err(|e| Error::io("write", to, e))?;
    let actual = hasher.map(BlobHasher::finish_hex);
    if written != size || actual.as_deref().is_some_and(|a| a != etag) {
        return Err(Error::Checksum {
            path: from.display().to_string(),
            expected: etag.to_owned(),
            actual: actual.unwrap_or_else(|| format!("{written} bytes")),
        });
    }
    Ok(())
}

/// Removes `dir` and the folders above it, up to (not including) `stop`,
/// as long as each is empty. Never removes a file.
pub(crate) fn remove_empty_dirs(dir: &Path, stop: &Path) {
    let mut current = Some(dir);
    while let Some(d) = current {
        if d == stop || !d.starts_with(stop) || fs::remove_dir(d).is_err() {
            return;
        }
        current = d.parent();
    }
}

/// Removes every empty folder under `dir` (deepest first), then `dir` if empty.
pub(crate) fn prune_empty_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.filter_map(|e| e.ok()) {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                prune_empty_tree(&entry.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_that_does_not_match_its_name_is_not_placed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let src = tmp.path().join("f");
        fs::write(&src, b"hello").expect("write");
        let good = hash_file(&src, BlobHashKind::Sha256).expect("hash");
        let blob = tmp.path().join("blobs").join(&good);
        place_blob(&src, &blob, &good, true).expect("placed");
        assert_eq!(fs::read(&blob).expect("blob"), b"hello");
        assert!(src.exists(), "a copy leaves the source for the caller");

        let wrong = "0".repeat(64);
        let bad = tmp.path().join("blobs").join(&wrong);
        assert!(place_blob(&src, &bad, &wrong, true).is_err());
        assert!(!bad.exists());
        assert!(!temp_beside(&bad).exists(), "no temporary file left");
    }

    #[test]
    fn empty_folders_go_up_to_the_stop_and_files_stay() {
        let tmp = tempfile::tempdir().expect("tmp");
        let deep = tmp.path().join("a/b/c");
        fs::create_dir_all(&deep).expect("mkdir");
        fs::write(tmp.path().join("a/keep"), b"x").expect("write");
        remove_empty_dirs(&deep, tmp.path());
        assert!(!tmp.path().join("a/b").exists());
        assert!(tmp.path().join("a/keep").exists());
    }
}
