//! What a download hashes as its bytes come in: the hash its blob is named
//! by (sha256 or git sha1), always; and for a file the hub says is stored
//! with Xet, when it may join the shared store, its Xet hash too, so that
//! publishing it needs no second read of the file.
//!
//! The Xet hash runs on a thread of its own, fed the same pieces (`Bytes`
//! are shared, not copied): it costs about as much CPU as the sha256, and
//! one after the other on the hashing thread they would add their times.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use bytes::Bytes;

use super::xet_hash::XetHasher;
use crate::cache::blob_hash::{BlobHashKind, BlobHasher};

/// Batches waiting for the Xet thread: beyond this the feeder waits, so a
/// slow hash holds the download back instead of filling memory.
const XET_QUEUE: usize = 32;

/// The digests of a whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests {
    /// The hash the blob's name must be (lowercase hex).
    pub blob: String,
    /// Its Xet hash, when it was asked for (and its thread did not fail).
    pub xet: Option<String>,
}

/// Hashes one file fed in order.
#[derive(Debug)]
pub struct ContentHasher {
    blob: BlobHasher,
    xet: Option<XetThread>,
}

#[derive(Debug)]
struct XetThread {
    tx: SyncSender<Vec<Bytes>>,
    done: JoinHandle<String>,
}

impl ContentHasher {
    /// A hasher for a blob of `size` bytes; with `xet`, its Xet hash too.
    pub fn new(kind: BlobHashKind, size: u64, xet: bool) -> Self {
        Self {
            blob: BlobHasher::new(kind, size),
            xet: xet.then(XetThread::start).flatten(),
        }
    }

    /// The next bytes of the file, in order.
    pub fn update(&mut self, pieces: &[Bytes]) {
        pieces.iter().for_each(|p| self.blob.update(p));
        if let Some(xet) = &self.xet {
            if xet.tx.send(pieces.to_vec()).is_err() {
                // The thread is gone (it panicked): no Xet hash, nothing published.
                self.xet = None;
            }
        }
    }

    /// Both digests, once the Xet thread has hashed all it was given.
    pub fn finish(self) -> Digests {
        let xet = self.xet.and_then(|x| {
            drop(x.tx);
            x.done.join().ok()
        });
        Digests {
            blob: self.blob.finish_hex(),
            xet,
        }
    }
}

impl XetThread {
    /// `None` when no thread can be started: the download goes on without it.
    fn start() -> Option<Self> {
        let (tx, rx) = sync_channel::<Vec<Bytes>>(XET_QUEUE);
        let done = std::thread::Builder::new()
            .name("xet-hash".into())
            .spawn(move || {
                let mut hasher = XetHasher::new();
                for pieces in rx {
                    pieces.iter().for_each(|p| hasher.update(p));
                }
                hasher.finish()
            })
            .ok()?;
        Some(Self { tx, done })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_digests_of_pieces_fed_in_order() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 253) as u8).collect();
        let mut h = ContentHasher::new(BlobHashKind::Sha256, data.len() as u64, true);
        for piece in data.chunks(70_000) {
            h.update(&[Bytes::copy_from_slice(piece)]);
        }
        let got = h.finish();
        let mut blob = BlobHasher::new(BlobHashKind::Sha256, data.len() as u64);
        blob.update(&data);
        let mut xet = XetHasher::new();
        xet.update(&data);
        assert_eq!(got.blob, blob.finish_hex());
        assert_eq!(got.xet, Some(xet.finish()));
        let plain = ContentHasher::new(BlobHashKind::Sha256, 0, false).finish();
        assert_eq!(plain.xet, None, "no Xet hash unless asked");
    }
}
