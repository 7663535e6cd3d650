//! One file, from the hub into `blobs/<etag>`: resumed with `Range` from what
//! an earlier run left in `<etag>.incomplete`, retried through network
//! faults, verified against the etag before it becomes a blob.
//!
//! Our own layer rather than hf-hub's `download_file`: hf-hub 1.0 truncates
//! `.incomplete` files and starts over, which loses gigabytes on every
//! interrupted model. We use its listing for etags and sizes, and do the
//! transfer here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{CONTENT_RANGE, RANGE, RETRY_AFTER};
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use super::blob_writer::BlobWriter;
use super::progress::FileProgress;
use super::remote::{Hub, RemoteFile};
use crate::cache::blob_hash::BlobHashKind;
use crate::cache::RepoId;
use crate::error::{Error, Result};

/// Why one attempt ended.
enum AttemptError {
    /// Worth another try (after a delay); `progressed` when bytes arrived.
    Retry {
        message: String,
        progressed: bool,
        after: Option<Duration>,
    },
    Fatal(Error),
}

pub(crate) struct Transfer<'a> {
    pub hub: &'a Hub,
    pub repo: &'a RepoId,
    pub commit: &'a str,
    pub file: &'a RemoteFile,
    pub blobs_dir: &'a Path,
    pub cancel: &'a CancellationToken,
    pub progress: &'a FileProgress,
}

impl Transfer<'_> {
    fn blob(&self) -> PathBuf {
        self.blobs_dir.join(self.file.etag())
    }

    fn incomplete(&self) -> PathBuf {
        self.blobs_dir
            .join(format!("{}.incomplete", self.file.etag()))
    }

    /// Makes `blobs/<etag>` exist with verified content. The caller holds the
    /// blob's lock. A checksum mismatch deletes the partial and tries once more.
    pub async fn run(&self) -> Result<()> {
        let etag = self.file.etag();
        let kind = BlobHashKind::of_etag(etag).ok_or_else(|| Error::Network {
            repo: self.repo.id(),
            message: format!(
                "the hub gave {} an etag that is not a hash: {etag:?}",
                self.file.path
            ),
        })?;
        let mut last = String::new();
        for _ in 0..2 {
            let digest = self.fetch(kind).await?;
            if digest == etag {
                let (from, to) = (self.incomplete(), self.blob());
                return std::fs::rename(&from, &to)
                    .map_err(|e| Error::io("move into place", to, e));
            }
            let _ = std::fs::remove_file(self.incomplete());
            self.progress.reset();
            last = digest;
        }
        Err(Error::Checksum {
            path: self.file.path.clone(),
            expected: etag.to_owned(),
            actual: last,
        })
    }

    /// Brings `.incomplete` to the full size and returns its digest.
    async fn fetch(&self, kind: BlobHashKind) -> Result<String> {
        let path = self.incomplete();
        let mut writer = BlobWriter::open(&path, kind, self.file.size).await?;
        self.progress.present(writer.len);
        let policy = self.hub.config.retry;
        let mut failures = 0;
        while writer.len < self.file.size {
            let outcome = self.attempt(&mut writer).await;
            let (message, progressed, after) = match outcome {
                Ok(()) if writer.len >= self.file.size => break,
                Ok(()) => (
                    "the connection closed before the end of the file".to_owned(),
                    true,
                    None,
                ),
                Err(AttemptError::Fatal(e)) => {
                    let _ = writer.finish().await;
                    return Err(e);
                }
                Err(AttemptError::Retry {
                    message,
                    progressed,
                    after,
                }) => (message, progressed, after),
            };
            failures = if progressed { 1 } else { failures + 1 };
            if failures > policy.max_attempts {
                let _ = writer.finish().await;
                return Err(Error::Network {
                    repo: self.repo.id(),
                    message: format!(
                        "{}: {message} ({} attempts); run it again to resume",
                        self.file.path, policy.max_attempts
                    ),
                });
            }
            let delay = after.unwrap_or_else(|| policy.delay(failures));
            self.progress.retrying(&message, failures, delay);
            tokio::select! {
                () = self.cancel.cancelled() => {}
                () = tokio::time::sleep(delay) => {}
            }
            if self.cancel.is_cancelled() {
                let _ = writer.finish().await;
                return Err(Error::Cancelled {
                    repo: self.repo.id(),
                });
            }
        }
        writer.finish().await
    }

    /// One HTTP request: resume from `writer.len`, stream into the writer.
    async fn attempt(&self, writer: &mut BlobWriter) -> Result<(), AttemptError> {
        let mut req = self
            .hub
            .file_request(self.repo, self.commit, &self.file.path)
            .map_err(AttemptError::Fatal)?;
        if let Some(range) = writer.range_header() {
            req = req.header(RANGE, range);
        }
        let resp = tokio::select! {
            () = self.cancel.cancelled() => return Err(self.cancelled()),
            r = req.send() => r.map_err(|e| retry(&e, false))?,
        };
        self.accept(resp.status(), &resp, writer).await?;
        let mut stream = resp.bytes_stream();
        let mut progressed = false;
        loop {
            let next = tokio::select! {
                () = self.cancel.cancelled() => return Err(self.cancelled()),
                next = stream.next() => next,
            };
            match next {
                None => return Ok(()),
                Some(Ok(bytes)) => {
                    let n = bytes.len() as u64;
                    writer.write(bytes).await.map_err(AttemptError::Fatal)?;
                    self.progress.add(n);
                    progressed = true;
                }
                Some(Err(e)) => return Err(retry(&e, progressed)),
            }
        }
    }

    /// Checks the status and decides where the body goes: appended (206 from
    /// our offset), from the start (200: the server ignored `Range`), or not at all.
    async fn accept(
        &self,
        status: StatusCode,
        resp: &reqwest::Response,
        writer: &mut BlobWriter,
    ) -> Result<(), AttemptError> {
        let fatal = AttemptError::Fatal;
        match status {
            StatusCode::PARTIAL_CONTENT if range_start(resp) == Some(writer.len) => Ok(()),
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => {
                if writer.len > 0 {
                    writer.restart().await.map_err(fatal)?;
                    self.progress.reset();
                }
                if status == StatusCode::PARTIAL_CONTENT {
                    // A range we did not ask for: ask again from zero.
                    return Err(AttemptError::Retry {
                        message: "unexpected Content-Range".into(),
                        progressed: false,
                        after: None,
                    });
                }
                Ok(())
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                writer.restart().await.map_err(fatal)?;
                self.progress.reset();
                Err(AttemptError::Retry {
                    message: "the server refused the resume range".into(),
                    progressed: false,
                    after: None,
                })
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(fatal(Error::Auth {
                repo: self.repo.id(),
                reason: if self.hub.config.token.is_some() {
                    "the token was refused".into()
                } else {
                    "no token is set".into()
                },
            })),
            StatusCode::NOT_FOUND => Err(fatal(Error::NotFound {
                what: format!("{} in {} at {}", self.file.path, self.repo, self.commit),
            })),
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                Err(AttemptError::Retry {
                    message: format!("the hub answered {s}"),
                    progressed: false,
                    after: retry_after(resp),
                })
            }
            s => Err(fatal(Error::Network {
                repo: self.repo.id(),
                message: format!("{}: the hub answered {s}", self.file.path),
            })),
        }
    }

    fn cancelled(&self) -> AttemptError {
        AttemptError::Fatal(Error::Cancelled {
            repo: self.repo.id(),
        })
    }
}

fn retry(e: &reqwest::Error, progressed: bool) -> AttemptError {
    let message = if e.is_timeout() {
        "no data for too long (stalled)".to_owned()
    } else {
        format!("connection failed: {e}")
    };
    AttemptError::Retry {
        message,
        progressed,
        after: None,
    }
}

/// The start offset of `Content-Range: bytes START-END/TOTAL`.
fn range_start(resp: &reqwest::Response) -> Option<u64> {
    let value = resp.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    value
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// `Retry-After` in seconds, capped so a bad header cannot park us for hours.
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let secs: u64 = resp
        .headers()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(120)))
}
