//! Collecting payloads, with huggingface_hub 2.5's rules: a payload goes only
//! when its `.refs` is readable and names no repo blob that still links to
//! it; otherwise the list is rewritten to the references still valid. The
//! bytes a plan frees are what 2.5's `expected_freed_size` says: a shared
//! payload counts only when every valid reference is in the plan.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::crash::step;
use super::{Payload, SharedLinks, SharedStore};
use crate::cache::names::XetHash;

impl SharedStore {
    /// What deleting the repo blobs `deleting` frees of `hash`'s payload: its
    /// size when every valid reference is among them, else 0 (also when the
    /// references cannot be read: then nothing is collected).
    pub fn expected_freed(&self, hash: &XetHash, deleting: &BTreeSet<PathBuf>) -> u64 {
        match self.references(hash) {
            Some(refs) if !refs.is_empty() && refs.is_subset(deleting) => {
                self.payload(hash).map_or(0, |p| p.size)
            }
            _ => 0,
        }
    }

    /// What removing every link of `links` frees in the store: each payload
    /// once, and only when its last valid reference is among them.
    pub fn freed_by(&self, links: &SharedLinks) -> u64 {
        links.iter().map(|(h, l)| self.expected_freed(h, l)).sum()
    }

    /// Collects, one by one, the payloads `links` linked to (after the
    /// links are gone); the bytes removed.
    pub fn sweep_all(&self, links: &SharedLinks) -> u64 {
        links.keys().map(|h| self.sweep(h)).sum()
    }

    /// Payloads that no repo references any more (their `.refs` is readable
    /// and lists no valid link), as `hf cache prune` finds them.
    pub fn unreferenced(&self) -> Vec<Payload> {
        self.payload_names()
            .iter()
            .filter(|h| self.references(h).is_some_and(|r| r.is_empty()))
            .filter_map(|h| self.payload(h))
            .collect()
    }

    /// Collects `hash`'s payload under its lock when nothing references it,
    /// or rewrites its `.refs` to the references left. Returns the bytes
    /// removed. Any doubt (no lock, unreadable list) keeps the payload.
    pub fn sweep(&self, hash: &XetHash) -> u64 {
        let Ok(_lock) = self.lock(hash) else {
            return 0;
        };
        let Some(refs) = self.references(hash) else {
            return 0;
        };
        let list = self.refs_path(hash);
        if !refs.is_empty() {
            if self.rewrite_refs(&list, &refs).is_ok() {
                step();
            }
            return 0;
        }
        let Some(payload) = self.payload(hash) else {
            return 0;
        };
        if fs::remove_file(&payload.path).is_err() {
            return 0;
        }
        step();
        let _ = fs::remove_file(&list);
        step();
        payload.size
    }

    /// Replaces `.refs` atomically with `refs`, sorted, one per line.
    fn rewrite_refs(&self, list: &Path, refs: &BTreeSet<PathBuf>) -> std::io::Result<()> {
        let text: String = refs
            .iter()
            .filter_map(|r| self.repo_blob_name(r))
            .map(|line| line + "\n")
            .collect();
        let tmp = temporary_beside(list, "tmp");
        let written = (|| {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(text.as_bytes())?;
            set_mode(&tmp, 0o666);
            file.sync_all()?;
            fs::rename(&tmp, list)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }
}

/// `<name>.<8 hex>.<suffix>` beside `path`: a name no other writer picks,
/// as huggingface_hub names its temporaries (`secrets.token_hex(4)`).
pub(super) fn temporary_beside(path: &Path, suffix: &str) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!("{name}.{:08x}.{suffix}", unique_u32()))
}

/// Enough to keep two temporaries of this process and of others apart.
fn unique_u32() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ std::process::id().rotate_left(16) ^ COUNTER.fetch_add(0x9e37_79b9, Ordering::Relaxed)
}

/// Sets Unix permission bits; nothing elsewhere (Windows has ACLs).
pub(super) fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}
