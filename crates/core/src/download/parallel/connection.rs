//! One connection of a parallel download: asks for the rest of its piece,
//! checks the answer against the listing (it is untrusted: the range and
//! length must be the ones asked), and writes the body at its offset in
//! batches, each recorded once written. Retried through network faults
//! like the one-stream transfer; replaced when the supervisor says so.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::super::api_retry::retry_after;
use super::super::http::{describe, unfollowed_redirect};
use super::super::transfer::{parse_content_range, INCONSISTENT_ATTEMPTS};
use super::{Conn, End, Shared};
use crate::error::Error;

/// Bytes gathered before they are written (as in `blob_writer`), or their
/// age: what is in memory when the process is killed is fetched again.
const BATCH: usize = 256 << 10;
const FLUSH_AGE: Duration = Duration::from_millis(200);

/// Why one request ended early.
enum Stop {
    Retry {
        message: String,
        progressed: bool,
        after: Option<Duration>,
    },
    /// The answer disagrees with the listing or the range asked.
    Inconsistent(String),
    /// The supervisor found this connection far slower than the others.
    Replaced,
    End(End),
}

fn fatal(e: Error) -> Stop {
    Stop::End(End::Failed(e))
}

/// Received bytes not yet written, from `start`.
struct Pending {
    start: u64,
    pieces: Vec<bytes::Bytes>,
    len: usize,
    since: Instant,
}

/// Where a piece is asked from, and whether the server turned out to ignore `Range`.
struct Ask<'a> {
    pos: u64,
    end: u64,
    /// The file's first request: its answer says whether ranges work.
    first: &'a mut Option<oneshot::Sender<bool>>,
    /// The server sends the whole file whatever we ask: this is its one stream.
    whole: bool,
}

impl Shared<'_> {
    /// Fetches `range` whole, through retries and replacements.
    pub(super) async fn piece(
        &self,
        id: usize,
        range: std::ops::Range<u64>,
        first: &mut Option<oneshot::Sender<bool>>,
    ) -> Result<(), End> {
        let policy = self.t.hub.config.retry;
        let mut ask = Ask {
            pos: range.start,
            end: range.end,
            first,
            whole: false,
        };
        let mut failures = 0;
        while ask.pos < ask.end {
            let (message, progressed, after) = match self.attempt(id, &mut ask).await {
                Ok(()) if ask.pos >= ask.end => break,
                Ok(()) => (
                    "the connection closed before the end of its range".to_owned(),
                    true,
                    None,
                ),
                Err(Stop::End(e)) => return Err(e),
                Err(Stop::Replaced) => {
                    let message = format!(
                        "connection {} ran at under a quarter of the others' speed; replaced by a new one",
                        id + 1
                    );
                    self.t.progress.retrying(&message, 1, Duration::ZERO);
                    failures = 0;
                    continue;
                }
                Err(Stop::Inconsistent(message)) => {
                    let n = self
                        .inconsistent
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                        + 1;
                    if n >= u64::from(INCONSISTENT_ATTEMPTS) {
                        return Err(End::Failed(self.t.refused(&message, n as u32)));
                    }
                    (message, false, None)
                }
                Err(Stop::Retry {
                    message,
                    progressed,
                    after,
                }) => (message, progressed, after),
            };
            failures = if progressed { 1 } else { failures + 1 };
            if failures > policy.max_attempts {
                return Err(End::Failed(Error::Network {
                    repo: self.t.repo.id(),
                    message: format!(
                        "{}: {message} ({} attempts); run it again to resume",
                        self.t.file.path, policy.max_attempts
                    ),
                }));
            }
            let delay = after.unwrap_or_else(|| policy.delay(failures));
            self.t.progress.retrying(&message, failures, delay);
            tokio::select! {
                () = self.stop.cancelled() => return Err(End::Cancelled),
                () = tokio::time::sleep(delay) => {}
            }
        }
        Ok(())
    }

    /// One request, watched by the supervisor while it runs.
    async fn attempt(&self, id: usize, ask: &mut Ask<'_>) -> Result<(), Stop> {
        let conn = &self.conns[id];
        let replace = CancellationToken::new();
        if let Ok(mut r) = conn.replace.lock() {
            *r = replace.clone();
        }
        conn.active
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let result = self.request(conn, &replace, ask).await;
        conn.active
            .store(false, std::sync::atomic::Ordering::Relaxed);
        result
    }

    async fn request(
        &self,
        conn: &Conn,
        replace: &CancellationToken,
        ask: &mut Ask<'_>,
    ) -> Result<(), Stop> {
        let t = self.t;
        let req = t
            .hub
            .file_request(t.repo, t.commit, &t.file.path)
            .map_err(fatal)?
            .header(RANGE, format!("bytes={}-{}", ask.pos, ask.end - 1));
        let resp = tokio::select! {
            () = self.stop.cancelled() => return Err(Stop::End(End::Cancelled)),
            () = replace.cancelled() => return Err(Stop::Replaced),
            r = req.send() => r.map_err(|e| self.send_failed(&e))?,
        };
        if let Some(message) = unfollowed_redirect(&resp) {
            return Err(fatal(self.network(message)));
        }
        self.judge(&resp, ask)?;
        self.stream(conn, replace, resp, ask).await
    }

    /// Checks the answer's status, range and length against what was asked.
    fn judge(&self, resp: &reqwest::Response, ask: &mut Ask<'_>) -> Result<(), Stop> {
        let size = self.t.file.size;
        let headers = resp.headers();
        let length = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        let decide = |first: &mut Option<oneshot::Sender<bool>>, ranges: bool| {
            if let Some(tx) = first.take() {
                let _ = tx.send(ranges);
            }
        };
        match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                let range = headers
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let agrees = parse_content_range(range).is_some_and(|(start, end, total)| {
                    start == ask.pos
                        && end.checked_add(1) == Some(ask.end)
                        && total.is_none_or(|t| t == size)
                });
                if !agrees || length.is_some_and(|l| l != ask.end - ask.pos) {
                    return Err(Stop::Inconsistent(format!(
                        "Content-Range {range:?} disagrees with the range asked, bytes {}-{} of {size}",
                        ask.pos,
                        ask.end - 1
                    )));
                }
                decide(ask.first, true);
                Ok(())
            }
            StatusCode::OK if ask.first.is_some() || ask.whole => {
                if length.is_some_and(|l| l != size) {
                    return Err(Stop::Inconsistent(format!(
                        "Content-Length {length:?} disagrees with the listing's size {size}"
                    )));
                }
                // The server ignores `Range`: this body is the file from
                // byte 0, and this connection its only stream.
                if let Ok(mut q) = self.queue.lock() {
                    q.clear();
                }
                (ask.pos, ask.end, ask.whole) = (0, size, true);
                self.t.progress.reset();
                decide(ask.first, false);
                Ok(())
            }
            StatusCode::RANGE_NOT_SATISFIABLE if ask.first.is_some() => {
                decide(ask.first, false);
                Err(Stop::End(End::NoRanges))
            }
            StatusCode::OK | StatusCode::RANGE_NOT_SATISFIABLE => Err(Stop::Inconsistent(format!(
                "the server answered {} to a range it had served before",
                resp.status()
            ))),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(fatal(
                self.t.hub.auth_error(self.t.repo, "the token was refused"),
            )),
            StatusCode::NOT_FOUND => Err(fatal(Error::NotFound {
                what: format!(
                    "{} in {} at {}",
                    self.t.file.path, self.t.repo, self.t.commit
                ),
            })),
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => Err(Stop::Retry {
                message: format!("the hub answered {s}"),
                progressed: false,
                after: retry_after(headers),
            }),
            s => Err(fatal(self.network(format!("the hub answered {s}")))),
        }
    }

    /// Writes the body from `ask.pos`, never past `ask.end`; what arrived
    /// is written whatever ends the stream.
    async fn stream(
        &self,
        conn: &Conn,
        replace: &CancellationToken,
        resp: reqwest::Response,
        ask: &mut Ask<'_>,
    ) -> Result<(), Stop> {
        let began = ask.pos;
        let mut body = resp.bytes_stream();
        let mut pending = Pending {
            start: ask.pos,
            pieces: Vec::new(),
            len: 0,
            since: Instant::now(),
        };
        let outcome = loop {
            if ask.pos >= ask.end {
                break Ok(());
            }
            let next = tokio::select! {
                () = self.stop.cancelled() => break Err(Stop::End(End::Cancelled)),
                () = replace.cancelled() => break Err(Stop::Replaced),
                next = body.next() => next,
            };
            let mut bytes = match next {
                None => break Ok(()),
                Some(Err(e)) => break Err(retry(&e, ask.pos > began)),
                Some(Ok(bytes)) => bytes,
            };
            bytes.truncate(usize::try_from(ask.end - ask.pos).unwrap_or(usize::MAX));
            let n = bytes.len() as u64;
            tokio::select! {
                () = self.stop.cancelled() => break Err(Stop::End(End::Cancelled)),
                () = self.t.hub.rate.take(n) => {}
            }
            if pending.pieces.is_empty() {
                pending.since = Instant::now();
            }
            pending.pieces.push(bytes);
            pending.len += n as usize;
            ask.pos += n;
            conn.bytes
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            self.t.progress.add(n);
            if pending.len >= BATCH || pending.since.elapsed() >= FLUSH_AGE {
                self.flush(&mut pending).await.map_err(fatal)?;
            }
        };
        self.flush(&mut pending).await.map_err(fatal)?;
        outcome
    }

    /// Hands the pending batch to the writer (`writer`).
    async fn flush(&self, p: &mut Pending) -> crate::Result<()> {
        if p.pieces.is_empty() {
            return Ok(());
        }
        let pieces = std::mem::take(&mut p.pieces);
        let start = p.start;
        (p.start, p.len) = (p.start + p.len as u64, 0);
        self.writer.send((start, pieces)).await.map_err(|_| {
            // It stopped on an error, which `fetch` reports.
            Error::io(
                "write",
                &self.parts,
                std::io::Error::other("the writer stopped"),
            )
        })
    }

    fn network(&self, message: String) -> Error {
        Error::Network {
            repo: self.t.repo.id(),
            message: format!("{}: {message}", self.t.file.path),
        }
    }

    /// No answer: a bad redirect is final; anything else is retried.
    fn send_failed(&self, e: &reqwest::Error) -> Stop {
        if e.is_redirect() {
            return fatal(self.network(describe(e)));
        }
        retry(e, false)
    }
}

fn retry(e: &reqwest::Error, progressed: bool) -> Stop {
    let message = if e.is_timeout() {
        "no data for too long (stalled)".to_owned()
    } else {
        format!("connection failed: {e}")
    };
    Stop::Retry {
        message,
        progressed,
        after: None,
    }
}
