//! The writing side of a parallel download: one thread writes every
//! connection's batches at their offsets and records each, another hashes
//! them (`ordered_hash`), so the connections only receive and never wait
//! for the disk (as `blob_writer` does for the one stream).

use std::fs::File;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::super::ordered_hash::OrderedHasher;
use super::super::positioned::write_pieces_at;
use super::super::ranges_file::RangesFile;

/// Received bytes to write from an offset.
pub(super) type Batch = (u64, Vec<Bytes>);

/// The threads, until [`Writer::finish`].
pub(super) struct Writer {
    writing: JoinHandle<std::io::Result<()>>,
    hashing: JoinHandle<std::io::Result<OrderedHasher>>,
}

/// Starts both threads; batches go in through the sender. The queue is one
/// batch per connection: what waits in it when the process is killed is
/// not recorded yet, and is fetched again.
pub(super) fn start(
    file: Arc<File>,
    record: RangesFile,
    hasher: OrderedHasher,
    connections: usize,
) -> (Writer, mpsc::Sender<Batch>) {
    let (tx, rx) = mpsc::channel(connections.max(1) * 2 + 2);
    let (hash_tx, hash_rx) = mpsc::channel(32);
    let writing = tokio::task::spawn_blocking(move || write_loop(&file, record, rx, &hash_tx));
    let hashing = tokio::task::spawn_blocking(move || hash_loop(hasher, hash_rx));
    (Writer { writing, hashing }, tx)
}

impl Writer {
    /// Once every sender is dropped: how the writing ended, and the hash
    /// (all that was written is in it, or waits to be read back by `finish`).
    pub(super) async fn finish(self) -> (std::io::Result<()>, std::io::Result<OrderedHasher>) {
        let joined = |e: tokio::task::JoinError| std::io::Error::other(e);
        let written = self.writing.await.unwrap_or_else(|e| Err(joined(e)));
        let hashed = self.hashing.await.unwrap_or_else(|e| Err(joined(e)));
        (written, hashed)
    }
}

/// Writes, then records, then hands to the hash: a recorded range is on
/// file, and the hash reads back only what is.
fn write_loop(
    file: &File,
    mut record: RangesFile,
    mut rx: mpsc::Receiver<Batch>,
    hash: &mpsc::Sender<Batch>,
) -> std::io::Result<()> {
    while let Some((start, pieces)) = rx.blocking_recv() {
        write_pieces_at(file, &pieces, start)?;
        let len: u64 = pieces.iter().map(|p| p.len() as u64).sum();
        record.record(start, start + len)?;
        // The hash stops early only on a read error, which its result says.
        let _ = hash.blocking_send((start, pieces));
    }
    Ok(())
}

fn hash_loop(
    mut hasher: OrderedHasher,
    mut rx: mpsc::Receiver<Batch>,
) -> std::io::Result<OrderedHasher> {
    while let Some((start, pieces)) = rx.blocking_recv() {
        hasher.written(start, &pieces)?;
    }
    Ok(hasher)
}
