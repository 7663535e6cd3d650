//! huggingface_hub 2.5's shared blob store: `<cache>/blobs/<xx>/<xet hash>`,
//! one read-only payload per Xet file, which every repo holding that file
//! links to (`models--…/blobs/<etag>` → `../../blobs/<xx>/<hash>`). Beside each
//! payload, `<hash>.refs` lists the repo blob paths that link to it and
//! `<hash>.lock` is the lock Python takes for it.
//!
//! Everything here is untrusted: another program writes the store. Like
//! huggingface_hub (`utils/_shared_blobs.py`), the store is owned only when
//! `blobs/.huggingface-shared-blobs` holds layout `1`; a link counts only
//! when its target, read without the disk, is exactly a payload's canonical
//! path; a `.refs` line counts only when it names a repo blob that links to
//! that very payload. Anything unclear leaks a payload rather than deletes it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::names::XetHash;
use super::paths::{normalize_lexically, resolve_link};
use super::repo::RepoId;

pub mod crash;
mod lock;
mod publish;
mod sweep;
#[cfg(test)]
mod tests;

pub use lock::PayloadLock;
pub use publish::{publish, publish_verified, try_link, Interrupted, Published};

/// The store's folder, at the cache's top (where repo folders are).
pub const STORE_DIR: &str = "blobs";
/// The file that makes `blobs/` a store huggingface_hub owns.
pub const MARKER: &str = ".huggingface-shared-blobs";
/// The marker's content: the store layout version this code reads.
pub const LAYOUT: &str = "1\n";
const REFS_SUFFIX: &str = ".refs";
const LOCK_SUFFIX: &str = ".lock";

/// Repo blob links that a deletion removes, by the payload they link to.
pub type SharedLinks = BTreeMap<XetHash, BTreeSet<PathBuf>>;

/// The shared store of one cache, opened only when it is marked as owned.
#[derive(Debug, Clone)]
pub struct SharedStore {
    cache: PathBuf,
    dir: PathBuf,
}

/// A payload: the file holding a shared blob's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Its Xet hash, its name in the store.
    pub hash: XetHash,
    /// `<cache>/blobs/<xx>/<hash>`.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

impl SharedStore {
    /// The store of `cache` (a normalised path), or `None` when `blobs/` is
    /// absent, not a real folder, or lacks the layout-1 marker: an unmarked
    /// folder is somebody else's and never adopted.
    pub fn open(cache: &Path) -> Option<Self> {
        let dir = cache.join(STORE_DIR);
        is_marked(&dir).then(|| Self {
            cache: cache.to_owned(),
            dir,
        })
    }

    /// The cache the store belongs to.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    /// `<cache>/blobs`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<cache>/blobs/<xx>/<hash>`: where the payload of `hash` lives.
    pub fn payload_path(&self, hash: &XetHash) -> PathBuf {
        self.dir.join(hash.prefix()).join(hash.as_str())
    }

    fn beside(&self, hash: &XetHash, suffix: &str) -> PathBuf {
        self.dir
            .join(hash.prefix())
            .join(format!("{}{suffix}", hash.as_str()))
    }

    /// `<hash>.refs`: the repo blobs that link to the payload.
    pub fn refs_path(&self, hash: &XetHash) -> PathBuf {
        self.beside(hash, REFS_SUFFIX)
    }

    /// `<hash>.lock`: the lock huggingface_hub takes for the payload.
    pub fn lock_path(&self, hash: &XetHash) -> PathBuf {
        self.beside(hash, LOCK_SUFFIX)
    }

    /// The payload of `hash` when it is a regular file.
    pub fn payload(&self, hash: &XetHash) -> Option<Payload> {
        let path = self.payload_path(hash);
        let meta = fs::symlink_metadata(&path).ok()?;
        meta.is_file().then(|| Payload {
            hash: hash.clone(),
            size: meta.len(),
            path,
        })
    }

    /// The payload a repo blob links to, when the blob is a managed link
    /// whose payload is there (huggingface_hub's `shared_blob_target`).
    pub fn linked_payload(&self, blob: &Path) -> Option<Payload> {
        self.link_target(blob).and_then(|h| self.payload(&h))
    }

    /// The hash a repo blob links to, read without following anything: the
    /// blob must be `<cache>/<repo>/blobs/<name>`, a symlink whose target is
    /// exactly `<cache>/blobs/<xx>/<hash>`. Anything else is `None`.
    pub fn link_target(&self, blob: &Path) -> Option<XetHash> {
        self.link_target_io(blob).ok().flatten()
    }

    /// [`Self::link_target`], with read errors other than "not there" kept:
    /// a `.refs` check must not mistake an unreadable link for a missing one.
    fn link_target_io(&self, blob: &Path) -> io::Result<Option<XetHash>> {
        if self.repo_blob_name(blob).is_none() {
            return Ok(None);
        }
        let target = match fs::symlink_metadata(blob) {
            Ok(meta) if meta.file_type().is_symlink() => match fs::read_link(blob) {
                Ok(target) => target,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            },
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let parent = blob.parent().unwrap_or(blob);
        Ok(self.hash_of_payload_path(&resolve_link(parent, &target)))
    }

    /// The hash whose canonical payload path `path` is, or `None`.
    pub fn hash_of_payload_path(&self, path: &Path) -> Option<XetHash> {
        let rest = path.strip_prefix(&self.dir).ok()?;
        let parts: Vec<&str> = rest.iter().map(|c| c.to_str()).collect::<Option<_>>()?;
        let [prefix, name] = parts.as_slice() else {
            return None;
        };
        XetHash::parse(name).ok().filter(|h| h.prefix() == *prefix)
    }

    /// `<repo>/blobs/<name>`, `/`-separated, when `blob` is a repo blob path
    /// of this cache: the form `.refs` lines take (`_relative_blob_path`).
    pub fn repo_blob_name(&self, blob: &Path) -> Option<String> {
        let rest = blob.strip_prefix(&self.cache).ok()?;
        let parts: Vec<&str> = rest.iter().map(|c| c.to_str()).collect::<Option<_>>()?;
        let [repo, blobs, name] = parts.as_slice() else {
            return None;
        };
        let repo_ok = ["datasets--", "models--", "spaces--"]
            .iter()
            .any(|p| repo.len() > p.len() && repo.starts_with(p));
        let line = format!("{repo}/{blobs}/{name}");
        (repo_ok && *blobs == "blobs" && !line.contains(['\n', '\r'])).then_some(line)
    }

    /// The repo blobs that validly reference `hash`: each `.refs` line that
    /// names a repo blob of this cache which links to this very payload.
    /// `None` when the list is missing or unreadable, or a link cannot be
    /// read: then nothing about the payload is sure, and it must be kept.
    pub fn references(&self, hash: &XetHash) -> Option<BTreeSet<PathBuf>> {
        let refs = self.refs_path(hash);
        if !fs::symlink_metadata(&refs).is_ok_and(|m| m.is_file()) {
            return None;
        }
        let text = fs::read_to_string(&refs).ok()?;
        let mut out = BTreeSet::new();
        for line in text.lines() {
            let Some(candidate) = self.reference_line(line) else {
                continue;
            };
            match self.link_target_io(&candidate) {
                Ok(Some(target)) if target == *hash => {
                    out.insert(candidate);
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        Some(out)
    }

    /// A `.refs` line as a repo blob path of this cache; never `..`, never absolute.
    fn reference_line(&self, line: &str) -> Option<PathBuf> {
        let rel = Path::new(line);
        let plain = rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if line.is_empty() || !plain {
            return None;
        }
        let candidate = normalize_lexically(&self.cache.join(rel));
        self.repo_blob_name(&candidate).map(|_| candidate)
    }

    /// The repos whose `.refs` lines name them as sharers of the payload a
    /// path of the store belongs to (`<xx>/<hash>`, its `.refs` or `.lock`),
    /// for the watcher: a payload removed by hand changes every repo that
    /// links to it, though none of their folders changed. The lines are
    /// read as names only; nothing they name is opened.
    pub fn sharers_of(&self, path: &Path) -> Vec<RepoId> {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return Vec::new();
        };
        let base = [REFS_SUFFIX, LOCK_SUFFIX]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        let Some(hash) = XetHash::parse(base)
            .ok()
            .filter(|h| path.parent() == Some(&self.dir.join(h.prefix())))
        else {
            return Vec::new();
        };
        let text = fs::read_to_string(self.refs_path(&hash)).unwrap_or_default();
        let mut repos: Vec<RepoId> = text
            .lines()
            .filter_map(|line| self.reference_line(line))
            .filter_map(|blob| repo_of_blob(&blob))
            .collect();
        repos.sort_by_key(RepoId::id);
        repos.dedup();
        repos
    }

    /// Every payload in the store: a file named by a valid hash inside the
    /// prefix folder its hash starts with. Anything else is skipped.
    pub fn payloads(&self) -> Vec<Payload> {
        self.payload_names()
            .iter()
            .filter_map(|h| self.payload(h))
            .collect()
    }

    /// The hashes the store's prefix folders name, read from the folders
    /// alone: no payload is opened or stat'ed (prune reads the `.refs` first
    /// and touches only the payloads it frees).
    pub(crate) fn payload_names(&self) -> Vec<XetHash> {
        let Ok(prefixes) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for prefix in prefixes.flatten() {
            let name = prefix.file_name();
            let Some(name) = name.to_str() else { continue };
            let is_prefix = name.len() == 2
                && name
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !is_prefix || !prefix.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(entries) = fs::read_dir(prefix.path()) else {
                continue;
            };
            out.extend(
                entries
                    .flatten()
                    .filter_map(|e| XetHash::parse(e.file_name().to_str()?).ok())
                    .filter(|h| h.prefix() == name),
            );
        }
        out.sort();
        out
    }
}

/// The repo a repo blob path (`<cache>/<repo folder>/blobs/<name>`, as
/// `.refs` names it) belongs to.
pub fn repo_of_blob(blob: &Path) -> Option<RepoId> {
    let folder = blob.parent()?.parent()?.file_name()?.to_str()?;
    RepoId::from_folder_name(folder).ok()
}

/// Whether `dir` is an owned store: a real folder holding a regular marker
/// file whose content is exactly the layout version (`is_shared_blobs_dir`).
pub fn is_marked(dir: &Path) -> bool {
    let marker = dir.join(MARKER);
    fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
        && fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file())
        && fs::read(&marker).is_ok_and(|b| b == LAYOUT.as_bytes())
}

/// Whether the store may be used at all: huggingface_hub's own switches
/// (`HF_HUB_DISABLE_SHARED_BLOBS`, and `HF_HUB_DISABLE_XET`, which makes it
/// write no Xet downloads) are honoured, so both programs agree.
pub fn enabled(env: &crate::env::Env) -> bool {
    !env.flag("HF_HUB_DISABLE_SHARED_BLOBS") && !env.flag("HF_HUB_DISABLE_XET")
}
