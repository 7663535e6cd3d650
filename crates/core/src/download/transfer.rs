//! One file, from the hub into `blobs/<etag>`: resumed with `Range` from what
//! an earlier run left in `<etag>.incomplete`, retried through network
//! faults, verified against the etag before it becomes a blob. The answer is
//! untrusted: its declared length must agree with the listing, and no more
//! than the listed size is ever written.
//!
//! Our own layer rather than hf-hub's `download_file`: hf-hub 1.0 truncates
//! `.incomplete` files and starts over, which loses gigabytes on every
//! interrupted model. We use its listing for etags and sizes, and do the
//! transfer here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use super::api_retry::retry_after;
use super::blob_writer::BlobWriter;
use super::content_hash::Digests;
use super::crash::{self, Step};
use super::http::{describe, unfollowed_redirect};
use super::parallel;
use super::progress::FileProgress;
use super::remote::{Hub, RemoteFile};
use crate::cache::blob_hash::BlobHashKind;
use crate::cache::{CommitHash, RepoId};
use crate::error::{Error, Result};

/// Answers whose length disagrees with the listing that are tried again
/// before giving up: once may be a proxy's hiccup, three times is the server.
pub(super) const INCONSISTENT_ATTEMPTS: u32 = 3;

/// Why one attempt ended.
enum AttemptError {
    /// Worth another try (after a delay); `progressed` when bytes arrived.
    Retry {
        message: String,
        progressed: bool,
        after: Option<Duration>,
    },
    /// The answer's `Content-Length` or `Content-Range` disagrees with the
    /// listing: tried [`INCONSISTENT_ATTEMPTS`] times, then refused.
    Inconsistent(String),
    Fatal(Error),
    /// The stream is too slow for a big file: it goes on in ranges.
    Split,
}

pub(crate) struct Transfer<'a> {
    pub hub: &'a Hub,
    pub repo: &'a RepoId,
    pub commit: &'a CommitHash,
    pub file: &'a RemoteFile,
    pub blobs_dir: &'a Path,
    pub cancel: &'a CancellationToken,
    pub progress: &'a FileProgress,
    /// Compute the file's Xet hash along with its etag's (for the shared store).
    pub xet: bool,
}

impl Transfer<'_> {
    fn blob(&self) -> PathBuf {
        self.blobs_dir.join(self.file.etag().as_str())
    }

    fn incomplete(&self) -> PathBuf {
        self.blobs_dir.join(self.file.etag().incomplete_name())
    }

    /// Makes `blobs/<etag>` exist with verified content. The caller holds the
    /// blob's lock. A checksum mismatch deletes the partial and tries once more.
    /// Returns the file's Xet hash when `xet` asked for it.
    pub async fn run(&self) -> Result<Option<String>> {
        let etag = self.file.etag().as_str();
        let kind = BlobHashKind::of_etag(etag).ok_or_else(|| Error::Network {
            repo: self.repo.id(),
            message: format!(
                "the hub gave {} an etag that is not a hash: {etag:?}",
                self.file.path
            ),
        })?;
        let mut last = String::new();
        for _ in 0..2 {
            let (digests, from) = self.fetch_somehow(kind).await?;
            if digests.blob == etag {
                let to = self.blob();
                crate::fs_retry::rename(&from, &to)?;
                // Whichever way it came, the other way's leftovers go.
                parallel::discard(self.blobs_dir, self.file.etag());
                let _ = std::fs::remove_file(self.incomplete());
                crash::reached(Step::Blob);
                return Ok(digests.xet);
            }
            let _ = std::fs::remove_file(&from);
            parallel::discard(self.blobs_dir, self.file.etag());
            self.progress.reset();
            last = digests.blob;
        }
        Err(Error::Checksum {
            path: self.file.path.to_string(),
            expected: etag.to_owned(),
            actual: last,
        })
    }

    /// Brings the file to its full size, in parallel ranges when it is big
    /// and the server serves them, else as one stream; its digest and path.
    ///
    /// A big file starts as one stream all the same (unless ranges of it are
    /// on disk already), and goes over to ranges once that stream proves
    /// slow (`parallel::SlowWatch`): on a fast link one stream is as fast,
    /// and our parallel path cost a third more time than it on loopback.
    async fn fetch_somehow(&self, kind: BlobHashKind) -> Result<(Digests, PathBuf)> {
        if self.hub.config.parallel.splits(self.file.size) {
            let in_ranges = parallel::present(self.blobs_dir, self.file.etag(), self.file.size) > 0;
            if !in_ranges {
                if let Some(digest) = self.fetch(kind, true).await? {
                    return Ok((digest, self.incomplete()));
                }
            }
            match parallel::fetch(self, kind, in_ranges).await? {
                parallel::Fetched::Digest(digest) => {
                    let (parts, _) = parallel::parts_paths(self.blobs_dir, self.file.etag());
                    return Ok((digest, parts));
                }
                parallel::Fetched::NoRanges => parallel::discard(self.blobs_dir, self.file.etag()),
            }
        }
        let digest = self.fetch(kind, false).await?;
        Ok((digest.unwrap_or_default(), self.incomplete()))
    }

    /// Brings `.incomplete` to the full size and returns its digest; `None`
    /// when, with `may_split`, the stream ran too slow and stopped for ranges.
    async fn fetch(&self, kind: BlobHashKind, may_split: bool) -> Result<Option<Digests>> {
        let path = self.incomplete();
        let mut writer = BlobWriter::open(&path, kind, self.file.size, self.xet).await?;
        self.progress.present(writer.len);
        let mut watch = may_split.then(|| parallel::SlowWatch::new(writer.len));
        let policy = self.hub.config.retry;
        let mut failures = 0;
        let mut inconsistent = 0;
        while writer.len < self.file.size {
            let outcome = self.attempt(&mut writer, watch.as_mut()).await;
            let (message, progressed, after) = match outcome {
                Ok(()) if writer.len >= self.file.size => break,
                Err(AttemptError::Split) => {
                    // Written out, so the ranges take it over as their prefix.
                    writer.finish().await?;
                    return Ok(None);
                }
                Ok(()) => (
                    "the connection closed before the end of the file".to_owned(),
                    true,
                    None,
                ),
                Err(AttemptError::Fatal(e)) => {
                    let _ = writer.finish().await;
                    return Err(e);
                }
                Err(AttemptError::Inconsistent(message)) => {
                    inconsistent += 1;
                    if inconsistent >= INCONSISTENT_ATTEMPTS {
                        let _ = writer.finish().await;
                        return Err(self.refused(&message, inconsistent));
                    }
                    (message, false, None)
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
        writer.finish().await.map(Some)
    }

    /// One HTTP request: resume from `writer.len`, stream into the writer.
    async fn attempt(
        &self,
        writer: &mut BlobWriter,
        mut watch: Option<&mut parallel::SlowWatch>,
    ) -> Result<(), AttemptError> {
        // One of the connections every download shares (`ParallelPolicy::total`).
        let _permit = tokio::select! {
            () = self.cancel.cancelled() => return Err(self.cancelled()),
            p = self.hub.connections.acquire() => p.map_err(|_| self.cancelled())?,
        };
        let mut req = self
            .hub
            .file_request(self.repo, self.commit, &self.file.path)
            .map_err(AttemptError::Fatal)?;
        if let Some(range) = writer.range_header() {
            req = req.header(RANGE, range);
        }
        let resp = tokio::select! {
            () = self.cancel.cancelled() => return Err(self.cancelled()),
            r = req.send() => r.map_err(|e| self.send_failed(&e))?,
        };
        if let Some(message) = unfollowed_redirect(&resp) {
            return Err(AttemptError::Fatal(Error::Network {
                repo: self.repo.id(),
                message: format!("{}: {message}", self.file.path),
            }));
        }
        self.accept(resp.status(), &resp, writer).await?;
        self.check_length(&resp, writer.len)?;
        let mut stream = resp.bytes_stream();
        let mut progressed = false;
        while writer.len < self.file.size {
            let next = tokio::select! {
                () = self.cancel.cancelled() => return Err(self.cancelled()),
                () = parallel::SlowWatch::wait(watch.as_deref()) => {
                    if watch.as_mut().is_some_and(|w| w.is_slow(writer.len, self.file.size)) {
                        return Err(AttemptError::Split);
                    }
                    continue;
                }
                next = stream.next() => next,
            };
            match next {
                None => return Ok(()),
                Some(Ok(mut bytes)) => {
                    // A body that goes on past the listed size is cut there;
                    // the hash then says whether what came is the file.
                    let room = self.file.size - writer.len;
                    bytes.truncate(usize::try_from(room).unwrap_or(usize::MAX));
                    let n = bytes.len() as u64;
                    tokio::select! {
                        () = self.cancel.cancelled() => return Err(self.cancelled()),
                        () = self.hub.rate.take(n) => {}
                    }
                    writer.write(bytes).await.map_err(AttemptError::Fatal)?;
                    self.progress.add(n);
                    progressed = true;
                }
                Some(Err(e)) => return Err(retry(&e, progressed)),
            }
        }
        Ok(())
    }

    /// The declared length must be what the listing says is left from
    /// `offset`: a server that promises another size is not sending this file.
    fn check_length(&self, resp: &reqwest::Response, offset: u64) -> Result<(), AttemptError> {
        let size = self.file.size;
        let headers = resp.headers();
        let number =
            |name| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        if let Some(len) = number(CONTENT_LENGTH) {
            if len != size - offset {
                return Err(AttemptError::Inconsistent(format!(
                    "Content-Length {len} disagrees with the listing's size {size} (from byte {offset})"
                )));
            }
        }
        if resp.status() == StatusCode::PARTIAL_CONTENT {
            let range = headers
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let agrees = parse_content_range(range).is_some_and(|(start, end, total)| {
                start == offset
                    && end.checked_add(1) == Some(size)
                    && total.is_none_or(|t| t == size)
            });
            if !agrees {
                return Err(AttemptError::Inconsistent(format!(
                    "Content-Range {range:?} disagrees with the listing's size {size} (from byte {offset})"
                )));
            }
        }
        Ok(())
    }

    /// A request that never got an answer: a bad redirect is the server's
    /// doing and final; anything else is the network's, and retried.
    fn send_failed(&self, e: &reqwest::Error) -> AttemptError {
        if e.is_redirect() {
            return AttemptError::Fatal(Error::Network {
                repo: self.repo.id(),
                message: format!("{}: {}", self.file.path, describe(e)),
            });
        }
        retry(e, false)
    }

    pub(super) fn refused(&self, message: &str, attempts: u32) -> Error {
        Error::invalid_response(
            &self.hub.config.endpoint,
            &self.repo.id(),
            "answer for file",
            self.file.path.as_str(),
            format!("{message} ({attempts} attempts)"),
        )
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
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(fatal(
                self.hub.auth_error(self.repo, "the token was refused"),
            )),
            StatusCode::NOT_FOUND => Err(fatal(Error::NotFound {
                what: format!("{} in {} at {}", self.file.path, self.repo, self.commit),
            })),
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                Err(AttemptError::Retry {
                    message: format!("the hub answered {s}"),
                    progressed: false,
                    after: retry_after(resp.headers()),
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
    parse_content_range(value).map(|(start, _, _)| start)
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`, unknown).
pub(super) fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let (range, total) = value.strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start.trim().parse().ok()?, end.trim().parse().ok()?, total))
}
