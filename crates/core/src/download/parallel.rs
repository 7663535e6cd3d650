//! A big file fetched as several ranges at once (`ParallelPolicy`): the
//! hub's CDN holds each connection to some tens of MB/s, and several
//! connections go several times as fast.
//!
//! **Files.** The ranges are written at their offsets into
//! `blobs/<etag>.parts.incomplete`, preallocated to the full size, and each
//! written batch is recorded in `<etag>.ranges.incomplete` (`ranges_file`).
//! Not into `<etag>.incomplete`: huggingface_hub resumes that file from its
//! *length* (`resume_size = stat().st_size`, and a file already as long as
//! the blob is taken as finished without a request), so a preallocated
//! file with holes would be committed by `hf download` as the blob, zeros
//! and all. Under its own name Python ignores it (at worst it fetches the
//! file again, into its own `.incomplete`, under the same lock); the name
//! still ends in `.incomplete`, so both scans count it as an unfinished
//! download and `prune` removes it when its lock is free. A serial
//! `.incomplete` we find (Python's, or ours from one stream) is taken over
//! as the written prefix.
//!
//! **Resume.** A kill loses only the batches in memory (256 KiB or 200 ms
//! of each connection). The next run trusts the record only if it is
//! exactly ours and within the file (else it starts over).
//!
//! **Verified before commit.** `ordered_hash` follows the written prefix;
//! only a file whose digest is its etag becomes the blob (`transfer`).
//!
//! **Slow connections.** Every second each connection's bytes are compared
//! with the others': one under a quarter of the median for
//! [`pace::SLOW_TICKS`] seconds in a row (a stall is 0) is dropped, and a new one
//! asks for the rest of its range. The CDN may hold one connection to a
//! crawl while a fresh one runs fast.
//!
//! **How many.** A big file starts as the one-stream transfer, and goes
//! over to ranges (its `.incomplete` taken over as the prefix) only when
//! that stream runs under [`ONE_IS_ENOUGH`] ([`SlowWatch`]): on a fast link
//! one connection is enough, and more only compete for the CPU. A file
//! resumed in ranges likewise runs its first connection alone for a moment.
//!
//! **Fallbacks.** The first range request (one connection, alone) decides:
//! a `206` for the range asked starts the others; a `200` (a server that
//! ignores `Range`) is streamed whole as the one connection, into the same
//! file; a `416` (a server that refuses ranges) hands the file back to the
//! one-stream transfer, from the start.

use std::collections::VecDeque;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::content_hash::Digests;
use super::ordered_hash::OrderedHasher;
use super::ranges_file::{self, RangesFile};
use super::spans::{self, Spans};
use super::transfer::Transfer;
use crate::cache::blob_hash::BlobHashKind;
use crate::error::{Error, Result};

mod connection;
mod pace;
mod writer;

use pace::{slow_ones, PROBE, TICK};
pub(crate) use pace::{SlowWatch, ONE_IS_ENOUGH};

/// How the parallel fetch ended.
pub(crate) enum Fetched {
    /// Every byte written; the file's digests.
    Digest(Digests),
    /// The server refuses ranges: the file goes to one stream.
    NoRanges,
}

/// The parts file and its record beside `blobs/<etag>`.
pub(crate) fn parts_paths(blobs_dir: &Path, etag: &crate::cache::BlobName) -> (PathBuf, PathBuf) {
    (
        blobs_dir.join(etag.parts_name()),
        blobs_dir.join(etag.ranges_name()),
    )
}

/// Bytes of `size` a parallel download already wrote, as its record vouches.
pub(crate) fn present(blobs_dir: &Path, etag: &crate::cache::BlobName, size: u64) -> u64 {
    let (parts, ranges) = parts_paths(blobs_dir, etag);
    let whole = std::fs::metadata(&parts).is_ok_and(|m| m.is_file() && m.len() == size);
    if !whole {
        return 0;
    }
    ranges_file::load(&ranges, size).map_or(0, |s| s.total())
}

/// Removes a parallel download's files (after a commit, a bad hash, or
/// before one stream takes the file over).
pub(crate) fn discard(blobs_dir: &Path, etag: &crate::cache::BlobName) {
    let (parts, ranges) = parts_paths(blobs_dir, etag);
    let _ = std::fs::remove_file(ranges);
    let _ = std::fs::remove_file(parts);
}

/// One connection's numbers, read by the supervisor.
#[derive(Debug, Default)]
struct Conn {
    bytes: AtomicU64,
    /// Between sending a request and the end of its body.
    active: AtomicBool,
    /// Cancelled to replace the connection (a new token per request).
    replace: Mutex<CancellationToken>,
}

/// What the connections of one file share.
struct Shared<'a> {
    t: &'a Transfer<'a>,
    parts: PathBuf,
    writer: mpsc::Sender<writer::Batch>,
    queue: Mutex<VecDeque<Range<u64>>>,
    conns: Vec<Conn>,
    /// Cancelled when the user cancels or a connection fails for good.
    stop: CancellationToken,
    /// Answers that disagreed with the listing, over all connections.
    inconsistent: AtomicU64,
}

/// Fetches the file in ranges into its parts file; the caller holds its
/// lock, and commits (or discards) the file by the digest.
/// With `alone_first`, the first connection runs alone until it proves
/// slow (the file is resumed in ranges); else the one stream already did.
pub(crate) async fn fetch(
    t: &Transfer<'_>,
    kind: BlobHashKind,
    alone_first: bool,
) -> Result<Fetched> {
    let size = t.file.size;
    let (parts, ranges) = parts_paths(t.blobs_dir, t.file.etag());
    let incomplete = t.blobs_dir.join(t.file.etag().incomplete_name());
    let (file, done) = open_parts(&parts, &ranges, &incomplete, size)?;
    let record = RangesFile::create(&ranges, size, &done)?;
    t.progress.present(done.total());
    let file = Arc::new(file);
    let policy = t.hub.config.parallel;
    let pieces = spans::plan(size, &done, spans::piece_size(size, policy.per_file));
    let width = policy.per_file.min(pieces.len()).max(1);
    let hasher = OrderedHasher::new(
        (kind, t.xet),
        file.clone(),
        size,
        &done,
        !policy.hash_at_end,
    );
    let (threads, writer) = writer::start(file, record, hasher, width);
    let shared = Shared {
        t,
        parts: parts.clone(),
        writer,
        queue: Mutex::new(pieces.into()),
        conns: (0..width).map(|_| Conn::default()).collect(),
        stop: t.cancel.child_token(),
        inconsistent: AtomicU64::new(0),
    };
    let ended = shared.run_all(alone_first).await;
    drop(shared); // the writer's queue closes
    let (written, hashed) = threads.finish().await;
    // A full disk first: it is why the connections stopped.
    written.map_err(|e| write_error(&parts, e))?;
    if !ended? {
        return Ok(Fetched::NoRanges);
    }
    let hash_error = |e| Error::io("hash", &parts, e);
    let hasher = hashed.map_err(hash_error)?;
    // Only now what the hash has not read yet (with `hash_at_end`, all of
    // it): a failed or cancelled fetch does not wait for a hash it drops.
    let digest = tokio::task::spawn_blocking(move || hasher.finish())
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    Ok(Fetched::Digest(digest.map_err(hash_error)?))
}

fn write_error(parts: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) {
        return Error::DiskFullMidway {
            path: parts.to_owned(),
        };
    }
    Error::io("write", parts, e)
}

/// The parts file at full size, and what of it is written: resumed from
/// its record, or from a serial `.incomplete` (its prefix), or new.
fn open_parts(parts: &Path, ranges: &Path, incomplete: &Path, size: u64) -> Result<(File, Spans)> {
    // A symlink (or anything but a file) under our name is not ours: it is
    // removed, never opened, so nothing outside the cache is written.
    if std::fs::symlink_metadata(parts).is_ok_and(|m| !m.is_file()) {
        let _ = std::fs::remove_file(parts);
    }
    let resumable = std::fs::symlink_metadata(parts).is_ok_and(|m| m.is_file() && m.len() == size);
    let mut done = resumable.then(|| ranges_file::load(ranges, size)).flatten();
    // Ranges with nothing written yet (killed as they began) give way to
    // the one stream's prefix.
    if done.as_ref().is_none_or(|d| d.total() == 0) {
        done = adopt_serial(parts, incomplete, size).or(done);
    }
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(parts)
        .map_err(|e| Error::io("open", parts, e))?;
    if done.is_none() {
        // Nothing we can vouch for: start over.
        file.set_len(0)
            .map_err(|e| Error::io("truncate", parts, e))?;
    }
    file.set_len(size)
        .map_err(|e| Error::io("allocate", parts, e))?;
    Ok((file, done.unwrap_or_default()))
}

/// A one-stream `.incomplete` (huggingface_hub appends, so its bytes are
/// the file's prefix) becomes the parts file's written prefix.
fn adopt_serial(parts: &Path, incomplete: &Path, size: u64) -> Option<Spans> {
    let len = std::fs::symlink_metadata(incomplete)
        .ok()
        .filter(|m| m.is_file())?
        .len();
    if len == 0 || len > size || std::fs::rename(incomplete, parts).is_err() {
        return None;
    }
    let mut done = Spans::default();
    done.insert(0..len);
    Some(done)
}

impl Shared<'_> {
    /// The first connection alone until its answer says whether the server
    /// serves ranges; then the others, while the supervisor watches them.
    /// False when the server refuses ranges.
    async fn run_all(&self, alone_first: bool) -> Result<bool> {
        let (ranges_ok, decided) = oneshot::channel();
        let first = self.worker(0, Some(ranges_ok));
        let rest = async {
            if decided.await != Ok(true) || (alone_first && !self.one_is_not_enough().await) {
                return Ok(());
            }
            let others: Vec<_> = (1..self.conns.len())
                .map(|i| self.worker(i, None))
                .collect();
            futures_util::future::join_all(others)
                .await
                .into_iter()
                .find(Result::is_err)
                .unwrap_or(Ok(()))
        };
        let all = async { tokio::join!(first, rest) };
        let (first, rest) = tokio::select! {
            r = all => r,
            () = self.supervise() => unreachable!("the supervisor never ends"),
        };
        match (first, rest) {
            (Err(End::NoRanges), _) => Ok(false),
            (Err(End::Failed(e)), _) | (_, Err(End::Failed(e))) => Err(e),
            (Err(End::Cancelled), _) | (_, Err(End::Cancelled)) | (_, Err(End::NoRanges)) => {
                Err(Error::Cancelled {
                    repo: self.t.repo.id(),
                })
            }
            (Ok(()), Ok(())) => Ok(true),
        }
    }

    /// Watches the first connection: true (open the others) once it runs
    /// under [`ONE_IS_ENOUGH`] over a [`PROBE`], false if it takes the
    /// last piece first.
    async fn one_is_not_enough(&self) -> bool {
        let first = &self.conns[0];
        let mut before = first.bytes.load(Ordering::Relaxed);
        loop {
            tokio::time::sleep(PROBE).await;
            let now = first.bytes.load(Ordering::Relaxed);
            let rate = (now - before) as f64 / PROBE.as_secs_f64();
            before = now;
            if rate < ONE_IS_ENOUGH as f64 {
                return true;
            }
            if self.queue.lock().map_or(true, |q| q.is_empty()) {
                return false;
            }
        }
    }

    /// Takes pieces from the queue until it is empty, one connection permit at a time.
    async fn worker(&self, id: usize, mut first: Option<oneshot::Sender<bool>>) -> Result<(), End> {
        loop {
            let Some(piece) = self.queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                if let Some(tx) = first.take() {
                    let _ = tx.send(true);
                }
                return Ok(());
            };
            let permit = tokio::select! {
                () = self.stop.cancelled() => return Err(End::Cancelled),
                p = self.t.hub.connections.acquire() => p,
            };
            let Ok(_permit) = permit else {
                return Err(End::Cancelled);
            };
            let result = self.piece(id, piece, &mut first).await;
            if let Err(End::Failed(_)) = &result {
                self.stop.cancel();
            }
            result?;
        }
    }

    /// Replaces connections that run far slower than the others.
    async fn supervise(&self) {
        let n = self.conns.len();
        let (mut last, mut slow) = (vec![0u64; n], vec![0u32; n]);
        let mut median = 0;
        let mut ticker = tokio::time::interval(TICK);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let mut deltas = Vec::new();
            for (i, c) in self.conns.iter().enumerate() {
                let bytes = c.bytes.load(Ordering::Relaxed);
                let delta = bytes - last[i].min(bytes);
                last[i] = bytes;
                if c.active.load(Ordering::Relaxed) {
                    deltas.push((i, delta));
                } else {
                    slow[i] = 0;
                }
            }
            for i in slow_ones(&deltas, &mut slow, &mut median) {
                if let Ok(token) = self.conns[i].replace.lock() {
                    token.cancel();
                }
            }
        }
    }
}

/// Why a connection gave up.
enum End {
    /// The server refuses ranges (the first answer only).
    NoRanges,
    Cancelled,
    Failed(Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serial_partial_is_taken_over_as_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let (parts, ranges, inc) = (
            dir.path().join("p"),
            dir.path().join("r"),
            dir.path().join("i"),
        );
        std::fs::write(&inc, b"abc").unwrap();
        let (file, done) = open_parts(&parts, &ranges, &inc, 10).unwrap();
        assert_eq!(done.iter().cloned().collect::<Vec<_>>(), vec![0..3]);
        assert_eq!(file.metadata().unwrap().len(), 10);
        assert!(!inc.exists());
        // A record that does not vouch for the file: it starts over.
        std::fs::write(&ranges, b"haid-ranges 1 10\n0 11\n").unwrap();
        let (file, done) = open_parts(&parts, &ranges, &inc, 10).unwrap();
        assert_eq!(done.total(), 0);
        assert_eq!(std::fs::read(&parts).unwrap(), vec![0; 10]);
        drop(file);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_in_place_of_the_parts_file_is_removed_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let (parts, ranges, inc) = (
            dir.path().join("p"),
            dir.path().join("r"),
            dir.path().join("i"),
        );
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"keep me").unwrap();
        std::os::unix::fs::symlink(&outside, &parts).unwrap();
        std::os::unix::fs::symlink(&outside, &inc).unwrap();
        let (_file, done) = open_parts(&parts, &ranges, &inc, 10).unwrap();
        assert_eq!(done.total(), 0, "neither link is taken for a partial");
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep me");
        assert!(std::fs::symlink_metadata(&parts).unwrap().is_file());
    }
}
