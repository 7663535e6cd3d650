//! Writes a download into `blobs/<etag>.incomplete` on one blocking thread
//! and hashes it on another, while the receiving side only receives: the
//! network, the hash and the disk run at once (one thread doing hash and
//! write was the bottleneck: 1 GiB took 2.0 s against curl's 0.9 s; hashing
//! on the receiving side, 1.6 s). Existing bytes (a resumed download) are
//! hashed first. Both threads get the same pieces (`Bytes` are shared, not
//! copied); so does the Xet hash, when asked for (`content_hash`).

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use reqwest::header::HeaderValue;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::content_hash::{ContentHasher, Digests};
use crate::cache::blob_hash::BlobHashKind;
use crate::error::{Error, Result};

enum Msg {
    Data(Vec<bytes::Bytes>),
    /// The server ignored our `Range`: start the file over.
    Restart,
}

/// Bytes gathered before they go to the writer thread: the network hands
/// over ~16 KiB at a time, and a thread hand-off per piece cost 25 % of the
/// speed. Kept small, with a short queue, because whatever is in memory when
/// the process is killed must be fetched again (at most ~0.75 MiB).
const BATCH: usize = 256 << 10;

/// The handle the async side writes through.
#[derive(Debug)]
pub struct BlobWriter {
    path: PathBuf,
    /// Received pieces not yet handed over (kept as they came: no copy).
    pending: Vec<bytes::Bytes>,
    pending_len: usize,
    tx: Option<mpsc::Sender<Msg>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    hash_tx: Option<mpsc::Sender<Msg>>,
    hash_task: Option<JoinHandle<Digests>>,
    /// Bytes in the file once everything sent is written.
    pub len: u64,
}

impl BlobWriter {
    /// Opens (or creates) the partial file and starts hashing what it holds
    /// (with `xet`, its Xet hash too).
    pub async fn open(path: &Path, kind: BlobHashKind, size: u64, xet: bool) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        let mut len = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        if len > size {
            // Longer than the file can be: not ours to trust.
            file.set_len(0)
                .map_err(|e| Error::io("truncate", path, e))?;
            len = 0;
        }
        let opened =
            tokio::task::spawn_blocking(move || -> std::io::Result<(File, ContentHasher)> {
                let mut file = file;
                let mut hasher = ContentHasher::new(kind, size, xet);
                hash_existing(&mut file, len, &mut hasher)?;
                file.seek(SeekFrom::Start(len))?;
                Ok((file, hasher))
            })
            .await
            .map_err(|e| Error::io("read", path, std::io::Error::other(e)))?;
        let (file, hasher) = opened.map_err(|e| Error::io("read", path, e))?;
        let (tx, rx) = mpsc::channel(2);
        let task = tokio::task::spawn_blocking(move || write_loop(file, rx));
        // A longer queue than the writer's: the hash keeps nothing on disk, so a
        // kill loses nothing more, and slack here keeps the receiver from
        // waiting whenever the hashing thread is not scheduled for a moment.
        let (hash_tx, hash_rx) = mpsc::channel(16);
        let fresh = move || ContentHasher::new(kind, size, xet);
        let hash_task = tokio::task::spawn_blocking(move || hash_loop(hasher, fresh, hash_rx));
        Ok(Self {
            path: path.to_owned(),
            pending: Vec::new(),
            pending_len: 0,
            tx: Some(tx),
            task: Some(task),
            hash_tx: Some(hash_tx),
            hash_task: Some(hash_task),
            len,
        })
    }

    /// `Range` header value to resume from, if there is anything to resume.
    pub fn range_header(&self) -> Option<HeaderValue> {
        (self.len > 0)
            .then(|| HeaderValue::from_str(&format!("bytes={}-", self.len)).ok())
            .flatten()
    }

    pub async fn write(&mut self, bytes: bytes::Bytes) -> Result<()> {
        self.len += bytes.len() as u64;
        self.pending_len += bytes.len();
        self.pending.push(bytes);
        if self.pending_len >= BATCH {
            let batch = std::mem::take(&mut self.pending);
            self.pending_len = 0;
            self.hash(Msg::Data(batch.clone())).await;
            self.send(Msg::Data(batch)).await?;
        }
        Ok(())
    }

    pub async fn restart(&mut self) -> Result<()> {
        self.pending.clear();
        self.pending_len = 0;
        self.hash(Msg::Restart).await;
        self.send(Msg::Restart).await?;
        self.len = 0;
        Ok(())
    }

    /// To the hashing thread, which only stops when we drop its sender.
    async fn hash(&self, msg: Msg) {
        if let Some(tx) = &self.hash_tx {
            let _ = tx.send(msg).await;
        }
    }

    async fn send(&mut self, msg: Msg) -> Result<()> {
        let sent = match &self.tx {
            Some(tx) => tx.send(msg).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            // The writer stopped: its error says why (a full disk, most often).
            Err(self.finish().await.err().unwrap_or_else(|| {
                Error::io("write", &self.path, std::io::Error::other("writer stopped"))
            }))
        }
    }

    /// Flushes to disk and returns the digests of the whole file.
    pub async fn finish(&mut self) -> Result<Digests> {
        if let (false, Some(tx)) = (self.pending.is_empty(), &self.tx) {
            let batch = std::mem::take(&mut self.pending);
            self.hash(Msg::Data(batch.clone())).await;
            let _ = tx.send(Msg::Data(batch)).await;
        }
        self.tx.take();
        self.hash_tx.take();
        let digest = self.hash_task.take();
        let Some(task) = self.task.take() else {
            return Err(Error::io(
                "write",
                &self.path,
                std::io::Error::other("already finished"),
            ));
        };
        match task.await {
            Ok(Ok(())) => match digest {
                Some(digest) => digest
                    .await
                    .map_err(|e| Error::io("hash", &self.path, std::io::Error::other(e))),
                None => Err(Error::io(
                    "hash",
                    &self.path,
                    std::io::Error::other("already finished"),
                )),
            },
            Ok(Err(e)) if is_disk_full(&e) => Err(Error::DiskFullMidway {
                path: self.path.clone(),
            }),
            Ok(Err(e)) => Err(Error::io("write", &self.path, e)),
            Err(e) => Err(Error::io("write", &self.path, std::io::Error::other(e))),
        }
    }
}

fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

/// Hashes until the sender is dropped; a restart starts over with `fresh()`.
fn hash_loop(
    mut hasher: ContentHasher,
    fresh: impl Fn() -> ContentHasher,
    mut rx: mpsc::Receiver<Msg>,
) -> Digests {
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Data(pieces) => hasher.update(&pieces),
            Msg::Restart => hasher = fresh(),
        }
    }
    hasher.finish()
}

fn write_loop(mut file: File, mut rx: mpsc::Receiver<Msg>) -> std::io::Result<()> {
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Data(pieces) => write_pieces(&mut file, &pieces)?,
            Msg::Restart => {
                file.set_len(0)?;
                file.seek(SeekFrom::Start(0))?;
            }
        }
    }
    // No fsync: it would tie every download to the disk's write speed (1 GiB
    // took 1.9 s instead of 1.2 s here) for the rare power cut right after a
    // download. What such a cut can leave — a blob shorter than its listing
    // says — the scan reports as corrupt and the next download replaces
    // (docs/downloads.md). The content itself is verified before the rename.
    Ok(())
}

/// One `writev` per batch, straight from the received pieces: a `BufWriter`
/// would copy every byte once more before the kernel copies it again.
fn write_pieces(file: &mut File, pieces: &[bytes::Bytes]) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = pieces.iter().map(|p| IoSlice::new(p)).collect();
    let mut left = &mut slices[..];
    while !left.is_empty() {
        match file.write_vectored(left) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut left, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A buffer per read: it goes on to the Xet thread as it is.
fn hash_existing(file: &mut File, len: u64, hasher: &mut ContentHasher) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let mut left = len;
    while left > 0 {
        let mut buf = vec![0u8; left.min(1 << 20) as usize];
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        buf.truncate(n);
        hasher.update(&[bytes::Bytes::from(buf)]);
        left -= n as u64;
    }
    Ok(())
}
