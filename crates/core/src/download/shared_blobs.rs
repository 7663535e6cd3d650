//! Downloads join huggingface_hub 2.5's shared blob store (`cache::shared_store`)
//! as 2.5 does at the end of `_hf_hub_download_to_cache_dir`, under the
//! blob's lock: a file whose Xet hash the hub names is linked to the store's
//! payload of that hash instead of downloaded, and a Xet file we download is
//! published to the store.
//!
//! Two checks more than 2.5 makes, because the store is written by other
//! programs: a payload is reused only when its bytes hash to the file's etag
//! (2.5 checks its size), and a download is published only when its Xet
//! hash, computed as its bytes came in, is the one the hub named (2.5 trusts
//! `hf_xet`'s verified download). Anything else leaves a plain blob, which
//! is what every download made before the store.
//!
//! Never where the store cannot work: with `HF_HUB_DISABLE_SHARED_BLOBS` or
//! `HF_HUB_DISABLE_XET` (`HubConfig::shared_blobs`), or in a cache without
//! symlinks (a payload is reached only through a link).

use std::path::{Path, PathBuf};

use tracing::debug;

use super::placement::SnapshotStyle;
use super::remote::RemoteFile;
use super::HubConfig;
use crate::cache::shared_store::{self, SharedStore};
use crate::cache::verify::hash_matches;
use crate::cache::XetHash;
use crate::error::{Error, Result};

/// One file's way into the store: its Xet hash, and what its payload must hold.
#[derive(Debug, Clone)]
pub(super) struct StoreFile {
    cache: PathBuf,
    blob: PathBuf,
    hash: XetHash,
    etag: String,
    size: u64,
}

impl StoreFile {
    /// `None` when `file` has no (valid) Xet hash or the store is off here.
    pub fn of(
        config: &HubConfig,
        style: SnapshotStyle,
        cache: &Path,
        blobs_dir: &Path,
        file: &RemoteFile,
    ) -> Option<Self> {
        if !config.shared_blobs || style != SnapshotStyle::Symlinks {
            return None;
        }
        let hash = XetHash::parse(file.xet_hash.as_deref()?).ok()?;
        Some(Self {
            cache: cache.to_owned(),
            blob: blobs_dir.join(file.etag().as_str()),
            hash,
            etag: file.etag().to_string(),
            size: file.size,
        })
    }

    /// The store holds a payload of the file's hash and size (not read: for
    /// the plan, which needs no space for a file it will likely link).
    pub fn payload_there(&self) -> bool {
        SharedStore::open(&self.cache)
            .and_then(|s| s.payload(&self.hash))
            .is_some_and(|p| p.size == self.size)
    }

    /// Links the blob to the store's payload when that holds the file's
    /// bytes (hashed: a payload of the right size but other bytes is not
    /// used). Whether it did; the caller holds the blob's lock.
    pub async fn reuse(&self) -> bool {
        if !self.payload_there() {
            return false;
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let (etag, size) = (me.etag.as_str(), me.size);
            shared_store::try_link(&me.cache, &me.blob, &me.hash, size, |payload| {
                hash_matches(payload, etag, size)
            })
        })
        .await
        .unwrap_or(false)
    }

    /// Publishes the downloaded blob when `computed`, its Xet hash, is the
    /// one the hub named. A payload already there is used instead only when
    /// its bytes are the file's (`publish_verified`). An error only when the
    /// blob is no longer a file to link the snapshot to.
    pub async fn publish(&self, computed: Option<String>) -> Result<()> {
        if computed.as_deref() != Some(self.hash.as_str()) {
            // Not alarming: the bytes matched the etag; the hub's Xet hash
            // is only a name for the store, and the blob stays a plain one.
            debug!(blob = %self.blob.display(), listed = %self.hash, ?computed,
                "the Xet hash differs from the hub's: not published");
            return Ok(());
        }
        let me = self.clone();
        let published = tokio::task::spawn_blocking(move || {
            let (etag, size) = (me.etag.as_str(), me.size);
            shared_store::publish_verified(&me.cache, &me.blob, &me.hash, size, |payload| {
                hash_matches(payload, etag, size)
            })
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        published
            .map(|_| ())
            .map_err(|e| Error::io("publish to the shared store", &self.blob, e))
    }
}
