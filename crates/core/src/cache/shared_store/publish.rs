//! Joining the store, as huggingface_hub 2.5 does at the end of a download:
//! [`try_link`] makes a repo blob a link to a payload already there, and
//! [`publish`] moves a fresh, Xet-verified download into the store and links
//! to it. In both, the `.refs` line is written and flushed before the link
//! becomes visible, so a collector never sees a link it was not told of.
//! Both are best effort: on failure the repo blob stays a regular file.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::crash::step;
use super::lock::open_shared_file;
use super::sweep::{set_mode, temporary_beside};
use super::{is_marked, SharedStore, LAYOUT, MARKER, STORE_DIR};
use crate::cache::names::XetHash;
use crate::cache::paths::symlink;

/// How a download ended up in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The file was moved into the store; the repo blob now links to it.
    Moved,
    /// The store already held it; the download was dropped for a link.
    AlreadyThere,
}

/// Links `blob` (a repo's `blobs/<etag>`, not yet there) to the payload of
/// `hash` when the store holds one of `size` bytes. `verify` is asked before
/// anything is written (we check the payload's sha256 against the blob's
/// name; huggingface_hub checks only the size). Returns whether it linked.
pub fn try_link(
    cache: &Path,
    blob: &Path,
    hash: &XetHash,
    size: u64,
    verify: impl FnOnce(&Path) -> bool,
) -> bool {
    let Some(store) = SharedStore::open(cache) else {
        return false;
    };
    let Some(line) = store.repo_blob_name(blob) else {
        return false;
    };
    let Ok(_lock) = store.lock(hash) else {
        return false;
    };
    let Some(payload) = store.payload(hash).filter(|p| p.size == size) else {
        return false;
    };
    if !verify(&payload.path) {
        return false;
    }
    link_with_reference(&store, blob, hash, &line).is_ok()
}

/// Moves the finished download `blob` into the store as `hash`'s payload
/// (read-only) and leaves a link in its place, creating and marking the
/// store if the cache has none. When the store already holds a payload of
/// `size` bytes, the download is dropped for a link to it. `None`, with
/// `blob` still a regular file, when the store cannot be used.
pub fn publish(
    cache: &Path,
    blob: &Path,
    hash: &XetHash,
    size: u64,
) -> io::Result<Option<Published>> {
    publish_verified(cache, blob, hash, size, |_| true)
}

/// [`publish`], where a payload the store already holds is taken instead of
/// the download only if `accept_existing` vouches for it (asked under the
/// payload's lock): a payload of the right size but other bytes must not
/// replace a verified download. Refused, `blob` stays a regular file.
pub fn publish_verified(
    cache: &Path,
    blob: &Path,
    hash: &XetHash,
    size: u64,
    accept_existing: impl FnOnce(&Path) -> bool,
) -> io::Result<Option<Published>> {
    let Some(store) = ensure_store(cache) else {
        return Ok(None);
    };
    let (Some(_prefix), Some(line)) = (ensure_prefix(&store, hash), store.repo_blob_name(blob))
    else {
        return Ok(None);
    };
    let Ok(_lock) = store.lock(hash) else {
        return Ok(None);
    };
    let target = store.payload_path(hash);
    let there = store.payload(hash).is_some_and(|p| p.size == size);
    if there && !accept_existing(&target) {
        return Ok(None);
    }
    let tmp_link = make_temporary_link(blob, &target)?;
    step();
    let result = (|| {
        append_reference(&store.refs_path(hash), &line)?;
        step();
        if !there {
            set_mode(blob, payload_mode(cache));
            fs::rename(blob, &target)?;
            step();
        }
        if let Err(e) = fs::rename(&tmp_link, blob) {
            if !there {
                // Put the bytes back under the lock, before any collector can run.
                fs::copy(&target, blob)?;
            }
            return Err(e);
        }
        step();
        Ok(if there {
            Published::AlreadyThere
        } else {
            Published::Moved
        })
    })();
    let _ = fs::remove_file(&tmp_link);
    match result {
        Ok(done) => Ok(Some(done)),
        Err(_) if fs::symlink_metadata(blob).is_ok_and(|m| m.is_file()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The reference first, flushed, then the link made visible by a rename.
fn link_with_reference(
    store: &SharedStore,
    blob: &Path,
    hash: &XetHash,
    line: &str,
) -> io::Result<()> {
    let tmp_link = make_temporary_link(blob, &store.payload_path(hash))?;
    step();
    let done = append_reference(&store.refs_path(hash), line).and_then(|()| {
        step();
        fs::rename(&tmp_link, blob)?;
        step();
        Ok(())
    });
    let _ = fs::remove_file(&tmp_link);
    done
}

/// `.<etag>.<8 hex>.shared` beside `blob`, linking relatively to `target`.
fn make_temporary_link(blob: &Path, target: &Path) -> io::Result<PathBuf> {
    let name = blob.file_name().unwrap_or_default().to_string_lossy();
    let tmp = temporary_beside(&blob.with_file_name(format!(".{name}")), "shared");
    let hash = target.file_name().unwrap_or_default().to_string_lossy();
    let prefix = &hash[..2.min(hash.len())];
    // `<cache>/<repo>/blobs/<etag>` → `../../blobs/<xx>/<hash>`, always relative,
    // so the cache can move as one.
    let relative = Path::new("..")
        .join("..")
        .join(STORE_DIR)
        .join(prefix)
        .join(&*hash);
    symlink(&relative, &tmp)?;
    Ok(tmp)
}

/// Appends one line to `.refs` (never through a symlink) and flushes it.
fn append_reference(list: &Path, line: &str) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    let mut file = open_shared_file(list, &mut options)?;
    file.write_all(format!("{line}\n").as_bytes())?;
    file.sync_all()
}

/// The store of `cache`, created and marked when `blobs/` is absent or holds
/// only the temporaries of an interrupted marking. An unmarked folder with
/// anything else in it is not ours to adopt.
pub(crate) fn ensure_store(cache: &Path) -> Option<SharedStore> {
    let dir = cache.join(STORE_DIR);
    match fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    if let Some(store) = SharedStore::open(cache) {
        return Some(store);
    }
    if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) || !only_marker_temporaries(&dir) {
        return None;
    }
    set_mode(&dir, dir_mode(cache));
    let marker = dir.join(MARKER);
    let tmp = temporary_beside(&marker, "tmp");
    let written = fs::write(&tmp, LAYOUT).and_then(|()| {
        set_mode(&tmp, payload_mode(cache));
        fs::rename(&tmp, &marker)
    });
    let _ = fs::remove_file(&tmp);
    written.ok()?;
    is_marked(&dir).then(|| SharedStore::open(cache)).flatten()
}

/// Removes leftover marker temporaries; whether `dir` is then empty.
fn only_marker_temporaries(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    let entries: Vec<_> = entries.flatten().collect();
    let all_temps = entries.iter().all(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let hex = name
            .strip_prefix(&format!("{MARKER}."))
            .and_then(|r| r.strip_suffix(".tmp"))
            .is_some_and(|h| h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        hex && e.file_type().is_ok_and(|t| t.is_file())
            && fs::read(e.path()).is_ok_and(|b| LAYOUT.as_bytes().starts_with(&b))
    });
    if !all_temps {
        return false;
    }
    entries.iter().for_each(|e| {
        let _ = fs::remove_file(e.path());
    });
    fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// `blobs/<xx>/`, created with the cache's permissions; `None` when it is
/// not a real folder.
fn ensure_prefix(store: &SharedStore, hash: &XetHash) -> Option<PathBuf> {
    let prefix = store.dir().join(hash.prefix());
    match fs::create_dir(&prefix) {
        Ok(()) => set_mode(&prefix, dir_mode(store.cache())),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    fs::symlink_metadata(&prefix)
        .is_ok_and(|m| m.is_dir())
        .then_some(prefix)
}

/// A payload's mode: read-only, readable by whoever can traverse the cache
/// (`_shared_blob_mode`). Windows keeps it writable: its read-only attribute
/// would block the collector.
fn payload_mode(cache: &Path) -> u32 {
    let Some(mode) = cache_mode(cache) else {
        return 0o400;
    };
    0o400 | if mode & 0o010 != 0 { 0o040 } else { 0 } | if mode & 0o001 != 0 { 0o004 } else { 0 }
}

/// A store folder's mode: the cache's own access and inheritance bits.
fn dir_mode(cache: &Path) -> u32 {
    cache_mode(cache).map_or(0o700, |m| m & 0o3777)
}

#[cfg(unix)]
fn cache_mode(cache: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(cache).ok().map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn cache_mode(_cache: &Path) -> Option<u32> {
    None
}

/// A publish or link cut short (a kill, ours or Python's) after its
/// temporary link `.<etag>.<8 hex>.shared` and its reference were written,
/// but before the link took the blob's place: the payload holds the bytes,
/// and only the rename is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// The temporary link.
    pub temporary: PathBuf,
    /// The repo blob it is to become.
    pub blob: PathBuf,
}

impl SharedStore {
    /// The interrupted publishes in a repo's `blobs/` that can be finished:
    /// the blob is missing, the temporary link is a managed link to a
    /// payload that is there, and the payload's `.refs` names the blob.
    pub fn interrupted_in(&self, repo_blobs: &Path) -> Vec<Interrupted> {
        let Ok(entries) = fs::read_dir(repo_blobs) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_owned();
                let etag = temporary_link_etag(&name)?;
                let temporary = e.path();
                let blob = repo_blobs.join(etag);
                let hash = self.link_target(&temporary)?;
                let listed = fs::read_to_string(self.refs_path(&hash))
                    .ok()?
                    .lines()
                    .any(|l| Some(l) == self.repo_blob_name(&blob).as_deref());
                let missing = fs::symlink_metadata(&blob).is_err();
                (missing && listed && self.payload(&hash).is_some())
                    .then_some(Interrupted { temporary, blob })
            })
            .collect()
    }

    /// Finishes one, under its payload's lock (checked again there).
    pub fn finish(&self, cut: &Interrupted) -> io::Result<()> {
        let Some(hash) = self.link_target(&cut.temporary) else {
            return Ok(());
        };
        let _lock = self.lock(&hash)?;
        if fs::symlink_metadata(&cut.blob).is_ok() || self.payload(&hash).is_none() {
            return Ok(());
        }
        fs::rename(&cut.temporary, &cut.blob)
    }
}

/// The etag of a temporary link's name, `.<etag>.<8 hex>.shared`.
fn temporary_link_etag(name: &str) -> Option<&str> {
    let rest = name.strip_prefix('.')?.strip_suffix(".shared")?;
    let (etag, hex) = rest.rsplit_once('.')?;
    (hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && !etag.is_empty())
        .then_some(etag)
}
