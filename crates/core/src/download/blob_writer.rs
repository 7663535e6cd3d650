//! Writes a download into `blobs/<etag>.incomplete` on a blocking thread,
//! hashing as it goes, so the network, the disk and the hash run at once.
//! Existing bytes (a resumed download) are hashed first.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use reqwest::header::HeaderValue;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::cache::blob_hash::{BlobHashKind, BlobHasher};
use crate::error::{Error, Result};

enum Msg {
    Data(bytes::Bytes),
    /// The server ignored our `Range`: start the file over.
    Restart,
}

/// The handle the async side writes through.
#[derive(Debug)]
pub struct BlobWriter {
    path: PathBuf,
    tx: Option<mpsc::Sender<Msg>>,
    task: Option<JoinHandle<std::io::Result<String>>>,
    /// Bytes in the file once everything sent is written.
    pub len: u64,
}

impl BlobWriter {
    /// Opens (or creates) the partial file and starts hashing what it holds.
    pub async fn open(path: &Path, kind: BlobHashKind, size: u64) -> Result<Self> {
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
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::task::spawn_blocking(move || write_loop(file, kind, size, len, rx));
        Ok(Self {
            path: path.to_owned(),
            tx: Some(tx),
            task: Some(task),
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
        let n = bytes.len() as u64;
        self.send(Msg::Data(bytes)).await?;
        self.len += n;
        Ok(())
    }

    pub async fn restart(&mut self) -> Result<()> {
        self.send(Msg::Restart).await?;
        self.len = 0;
        Ok(())
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

    /// Flushes to disk and returns the hex digest of the whole file.
    pub async fn finish(&mut self) -> Result<String> {
        self.tx.take();
        let Some(task) = self.task.take() else {
            return Err(Error::io(
                "write",
                &self.path,
                std::io::Error::other("already finished"),
            ));
        };
        match task.await {
            Ok(Ok(digest)) => Ok(digest),
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

fn write_loop(
    mut file: File,
    kind: BlobHashKind,
    size: u64,
    len: u64,
    mut rx: mpsc::Receiver<Msg>,
) -> std::io::Result<String> {
    let mut hasher = BlobHasher::new(kind, size);
    hash_existing(&mut file, len, &mut hasher)?;
    file.seek(SeekFrom::Start(len))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Data(bytes) => {
                out.write_all(&bytes)?;
                hasher.update(&bytes);
            }
            Msg::Restart => {
                out.flush()?;
                out.get_mut().set_len(0)?;
                out.get_mut().seek(SeekFrom::Start(0))?;
                hasher = BlobHasher::new(kind, size);
            }
        }
    }
    out.flush()?;
    // On disk before it is renamed into place: a power cut never leaves a
    // blob whose name promises bytes that are not there.
    out.get_ref().sync_all()?;
    Ok(hasher.finish_hex())
}

fn hash_existing(file: &mut File, len: u64, hasher: &mut BlobHasher) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let mut left = len;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(())
}
