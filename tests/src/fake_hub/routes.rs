//! The hub's endpoints, as clients call them.

use std::io::SeekFrom;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

// The hub's answers themselves are core's, which `haid-models serve` sends
// too: the fake hub only adds its faults around them.
use haid_models::serve::protocol::{file_headers, hub_error, info_json, parse_range, tree_json};

use super::{Faults, HubFile, HubRepo, HubState};

type S = State<Arc<HubState>>;

pub fn router(state: Arc<HubState>) -> Router {
    Router::new()
        .route("/api/models/{org}/{name}", get(info_main))
        .route("/api/models/{org}/{name}/revision/{*rev}", get(info_rev))
        .route("/api/models/{org}/{name}/tree/{rev}", get(tree))
        .route(
            "/api/models/{org}/{name}/tree/{rev}/{*path}",
            get(tree_under),
        )
        .route("/{org}/{name}/resolve/{rev}/{*path}", get(resolve))
        .route("/_fake/stats", get(stats))
        .route("/_fake/faults", post(set_faults))
        .route("/_fake/advance/{org}/{name}", post(advance))
        .route("/_fake/xet/{org}/{name}", post(super::xet::mark))
        .fallback(unknown_url)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_request,
        ))
        .with_state(state)
}

async fn count_request(
    State(state): S,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !req.uri().path().starts_with("/_fake/") {
        state.requests.fetch_add(1, Ordering::SeqCst);
    }
    // Recorded as sent (even non-UTF-8), to prove where a token went.
    let sent = req.headers().get_all(header::AUTHORIZATION);
    let sent = sent
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    state.authorizations.lock().unwrap().extend(sent);
    next.run(req).await
}

/// No route: 404, or 200 and `any_url_body` for a hub that answers everything.
async fn unknown_url(State(state): S) -> Response {
    match state.faults().hostile.any_url_body {
        Some(body) => body.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn stats(State(state): S) -> Json<serde_json::Value> {
    Json(state.stats())
}

async fn set_faults(State(state): S, Json(faults): Json<Faults>) -> StatusCode {
    *state.faults.lock().unwrap() = faults;
    StatusCode::NO_CONTENT
}

/// `POST /_fake/advance/{org}/{name}`: [`super::FakeHub::advance`] for a
/// client that cannot call Rust (the `fake-hub` binary, end-to-end tests).
/// In this order:
/// 1. POST here: the commit `main` points to is kept in the history (still
///    served by its sha, which the answer gives: `{"archived": sha}`) and the
///    cached `main` is forgotten;
/// 2. change the files under `<root>/<org>/<name>`;
/// 3. the next request hashes the folder again: `main` is the new commit.
///
/// Ask nothing between 1 and 2: that request would cache the old files again.
async fn advance(State(state): S, Path((org, name)): Path<(String, String)>) -> Response {
    let id = format!("{org}/{name}");
    match state.archive(&id) {
        Ok(sha) => {
            state.forget(&id);
            Json(json!({ "archived": sha })).into_response()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => hub_error(
            StatusCode::NOT_FOUND,
            "RepoNotFound",
            "Repository not found",
        ),
        Err(e) => hub_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            &format!("fake hub: cannot keep the commit: {e}"),
        ),
    }
}

/// Finds the repo and checks access and revision: what every endpoint does
/// first. The commit asked for is `main`'s (by `main`, by its sha, or by the
/// sha `hostile.commit` claims), or an older one kept in the history.
/// (The error is a whole response; its size does not matter in a test server.)
#[allow(clippy::result_large_err)]
fn open(
    state: &HubState,
    headers: &HeaderMap,
    id: &str,
    rev: &str,
) -> Result<Arc<HubRepo>, Response> {
    let faults = state.faults();
    let Some(repo) = state.repo(id) else {
        return Err(hub_error(
            StatusCode::NOT_FOUND,
            "RepoNotFound",
            "Repository not found",
        ));
    };
    if faults.gated.iter().any(|g| g == id) {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match (sent, faults.token.as_deref()) {
            (None, _) => {
                let msg = format!("Access to model {id} is restricted. You must have access to it and be authenticated to access it. Please log in.");
                return Err(hub_error(StatusCode::UNAUTHORIZED, "GatedRepo", &msg));
            }
            (Some(t), Some(good)) if t == good => {}
            _ => {
                return Err(hub_error(
                    StatusCode::UNAUTHORIZED,
                    "",
                    "Invalid credentials in Authorization header",
                ));
            }
        }
    }
    let lied = faults.hostile.commit.as_deref() == Some(rev);
    if rev == "main" || rev == repo.sha || lied {
        return Ok(repo);
    }
    state.commit(id, rev).ok_or_else(|| {
        let msg = format!("Invalid rev id: {rev}");
        hub_error(StatusCode::NOT_FOUND, "RevisionNotFound", &msg)
    })
}

/// The commit the hub says a repo is at: the real one, or `hostile.commit`.
fn commit_of(state: &HubState, repo: &HubRepo) -> String {
    state
        .faults()
        .hostile
        .commit
        .unwrap_or_else(|| repo.sha.clone())
}

fn info(state: &HubState, headers: &HeaderMap, id: &str, rev: &str) -> Response {
    if let Some(resp) = injected_api_failure(state) {
        return resp;
    }
    match open(state, headers, id, rev) {
        Err(resp) => resp,
        Ok(repo) => {
            Json(info_json(&repo.id, &commit_of(state, &repo), &repo.infos())).into_response()
        }
    }
}

async fn info_main(
    State(state): S,
    headers: HeaderMap,
    Path((org, name)): Path<(String, String)>,
) -> Response {
    info(&state, &headers, &format!("{org}/{name}"), "main")
}

async fn info_rev(
    State(state): S,
    headers: HeaderMap,
    Path((org, name, rev)): Path<(String, String, String)>,
) -> Response {
    info(&state, &headers, &format!("{org}/{name}"), &rev)
}

fn listing(state: &HubState, headers: &HeaderMap, id: &str, rev: &str, under: &str) -> Response {
    if let Some(resp) = injected_api_failure(state) {
        return resp;
    }
    let repo = match open(state, headers, id, rev) {
        Ok(repo) => repo,
        Err(resp) => return resp,
    };
    let hostile = state.faults().hostile;
    let inside = |p: &str| under.is_empty() || p.starts_with(&format!("{under}/"));
    let entries: Vec<serde_json::Value> = match hostile.listing {
        // The lie is served whole (entries may lack a path, or repeat).
        Some(lie) => lie
            .into_iter()
            .filter(|e| e["path"].as_str().map_or(under.is_empty(), inside))
            .collect(),
        None => {
            let mut entries = tree_json(&repo.infos(), under);
            state.xet.annotate(&repo.id, &repo.files, &mut entries);
            entries
        }
    };
    let mut resp = Json(entries).into_response();
    if let Some(next) = hostile.next_page {
        if let Ok(link) = format!("<{next}>; rel=\"next\"").parse() {
            resp.headers_mut().insert(header::LINK, link);
        }
    }
    resp
}

async fn tree(
    State(state): S,
    headers: HeaderMap,
    Path((org, name, rev)): Path<(String, String, String)>,
) -> Response {
    listing(&state, &headers, &format!("{org}/{name}"), &rev, "")
}

async fn tree_under(
    State(state): S,
    headers: HeaderMap,
    Path((org, name, rev, path)): Path<(String, String, String, String)>,
) -> Response {
    listing(
        &state,
        &headers,
        &format!("{org}/{name}"),
        &rev,
        path.trim_end_matches('/'),
    )
}

/// `HEAD`/`GET /{org}/{name}/resolve/{rev}/{path}`: the file, whole or a range.
async fn resolve(
    State(state): S,
    method: Method,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((org, name, rev, path)): Path<(String, String, String, String)>,
) -> Response {
    let hostile = state.faults().hostile;
    if let Some(to) = &hostile.redirect_files_to {
        let asked = uri.path_and_query().map_or("", |pq| pq.as_str());
        return Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, format!("{to}{asked}"))
            .body(Body::empty())
            .unwrap();
    }
    let id = format!("{org}/{name}");
    let repo = match open(&state, &headers, &id, &rev) {
        Ok(repo) => repo,
        Err(resp) => return resp,
    };
    let Some(file) = repo.file(&path).cloned() else {
        if let Some(body) = hostile.any_url_body {
            return body.into_response();
        }
        return hub_error(
            StatusCode::NOT_FOUND,
            "EntryNotFound",
            &format!("{path} does not exist on \"{rev}\""),
        );
    };
    if let Some(resp) = injected_failure(&state) {
        return resp;
    }
    let faults = state.faults();
    let range = (!faults.ignore_range)
        .then(|| {
            headers
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_range)
        })
        .flatten();
    let mut resp = file_headers(&file.info(), &commit_of(&state, &repo));
    if let Some(hash) = state.xet.of(&repo.id, &file) {
        resp = resp.header(super::xet::HEADER, hash);
    }
    // What the headers claim beyond the real size (a lie), and the garbage sent after it.
    let over = faults.hostile.overstate_length;
    let garbage = over + faults.hostile.extra_body_bytes;
    if method == Method::HEAD {
        return resp
            .header(header::CONTENT_LENGTH, file.size + over)
            .body(Body::empty())
            .unwrap();
    }
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, file.size),
        Some(_) if faults.refuse_range => {
            return resp
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .body(Body::empty())
                .unwrap();
        }
        Some((start, _)) if start >= file.size && file.size > 0 => {
            return resp
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes */{}", file.size + over),
                )
                .body(Body::empty())
                .unwrap();
        }
        Some((start, end)) => (
            StatusCode::PARTIAL_CONTENT,
            start,
            end.map_or(file.size, |e| (e + 1).min(file.size)),
        ),
    };
    if status == StatusCode::PARTIAL_CONTENT {
        resp = resp.header(
            header::CONTENT_RANGE,
            format!(
                "bytes {start}-{}/{}",
                (end + over).saturating_sub(1),
                file.size + over
            ),
        );
    }
    state.file_requests.fetch_add(1, Ordering::SeqCst);
    let bounded = range.is_some_and(|(_, end)| end.is_some());
    let faulty = bounded || !faults.only_ranges;
    let cut = faulty.then(|| cut_for_this_transfer(&state)).flatten();
    let stall = faulty.then(|| stall_for_this_transfer(&state)).flatten();
    let flip = faults.corrupt_path.as_deref() == Some(file.path.as_str());
    let shape = Shape {
        cut,
        stall,
        throttle: faulty
            .then(|| crawl_for_this_transfer(&state))
            .flatten()
            .or(faults.throttle_bps),
        flip,
    };
    let body = body_stream(state.clone(), file, start, end, shape);
    let body = body.chain(futures_util::stream::iter(
        (garbage > 0).then(|| Ok(Bytes::from(vec![b'!'; garbage as usize]))),
    ));
    // Without a Content-Length hyper sends the body chunked: nothing says where it ends.
    if faults.hostile.extra_body_bytes == 0 {
        resp = resp.header(header::CONTENT_LENGTH, end - start + over);
    }
    resp.status(status).body(Body::from_stream(body)).unwrap()
}

/// `fail_next` answers a file request with an error status, counting down.
fn injected_failure(state: &HubState) -> Option<Response> {
    let mut faults = state.faults.lock().unwrap();
    if faults.fail_next == 0 {
        return None;
    }
    faults.fail_next -= 1;
    let status = faults.fail_status;
    drop(faults);
    Some(failure(status))
}

/// `fail_api_next` answers an API request (info, tree) with an error status.
fn injected_api_failure(state: &HubState) -> Option<Response> {
    let mut faults = state.faults.lock().unwrap();
    if faults.fail_api_next == 0 {
        return None;
    }
    faults.fail_api_next -= 1;
    let status = faults.fail_api_status;
    drop(faults);
    Some(failure(status))
}

/// An error status (500 by default); a 429 carries `Retry-After: 1`.
fn failure(status: Option<u16>) -> Response {
    let status =
        StatusCode::from_u16(status.unwrap_or(500)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = hub_error(status, "", "injected failure");
    if status == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, "1".parse().unwrap());
    }
    resp
}

fn cut_for_this_transfer(state: &HubState) -> Option<u64> {
    let mut faults = state.faults.lock().unwrap();
    let cut = faults.cut_after?;
    match &mut faults.cut_times {
        None => Some(cut),
        Some(0) => None,
        Some(n) => {
            *n -= 1;
            Some(cut)
        }
    }
}

fn crawl_for_this_transfer(state: &HubState) -> Option<u64> {
    state.faults.lock().unwrap().crawl_once_bps.take()
}

fn stall_for_this_transfer(state: &HubState) -> Option<u64> {
    let mut faults = state.faults.lock().unwrap();
    let at = faults.stall_after?;
    let left = faults.stall_times.get_or_insert(1);
    if *left == 0 {
        return None;
    }
    *left -= 1;
    Some(at)
}

/// Read sizes: small while throttled, so the rate stays even.
const SMALL_CHUNK: u64 = 64 * 1024;
const BIG_CHUNK: u64 = 1024 * 1024;

/// How a body misbehaves.
#[derive(Debug, Clone, Copy)]
struct Shape {
    cut: Option<u64>,
    stall: Option<u64>,
    throttle: Option<u64>,
    flip: bool,
}

/// A body being sent, counted while it lives (dropped when the client
/// goes away, too).
struct Counted(Arc<HubState>);

impl Counted {
    fn new(state: Arc<HubState>) -> Self {
        let now = state.transfers.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_transfers.fetch_max(now, Ordering::SeqCst);
        Self(state)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.transfers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Reads `start..end` of the file, throttled, cut or corrupted as the faults
/// say; counts what it sends. Unthrottled it reads 1 MiB at a time into
/// uninitialised buffers: with 64 KiB zeroed chunks the hub itself took
/// 0.7 s of CPU per GiB, on the same 2 cores as the client it serves, so
/// `bench/download.sh` measured the hub as much as the clients (a real hub
/// is another machine).
fn body_stream(
    state: Arc<HubState>,
    file: HubFile,
    start: u64,
    end: u64,
    shape: Shape,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let Shape {
        cut,
        stall,
        throttle,
        flip,
    } = shape;
    struct Transfer {
        fd: Option<tokio::fs::File>,
        pos: u64,
        sent: u64,
        began: Instant,
        _counted: Counted,
    }
    let init = Transfer {
        fd: None,
        pos: start,
        sent: 0,
        began: Instant::now(),
        _counted: Counted::new(state.clone()),
    };
    futures_util::stream::unfold(init, move |mut t| {
        let (state, path) = (state.clone(), file.abs.clone());
        async move {
            if t.pos >= end {
                return None;
            }
            if stall.is_some_and(|s| t.sent >= s) {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            if cut.is_some_and(|c| t.sent >= c) {
                let err = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fake hub: cut");
                return Some((Err(err), Transfer { pos: end, ..t }));
            }
            if t.fd.is_none() {
                let mut fd = tokio::fs::File::open(&path).await.ok()?;
                fd.seek(SeekFrom::Start(t.pos)).await.ok()?;
                t.fd = Some(fd);
            }
            let chunk = if throttle.is_some() {
                SMALL_CHUNK
            } else {
                BIG_CHUNK
            };
            let mut want = (end - t.pos).min(chunk);
            for limit in [cut, stall].into_iter().flatten() {
                if limit > t.sent {
                    want = want.min(limit - t.sent);
                }
            }
            let mut buf = bytes::BytesMut::with_capacity(want as usize);
            let n = t.fd.as_mut()?.read_buf(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            if flip {
                buf.iter_mut().for_each(|b| *b ^= 0xff);
            }
            t.pos += n as u64;
            t.sent += n as u64;
            if let Some(bps) = throttle {
                let due = t.began + Duration::from_secs_f64(t.sent as f64 / bps as f64);
                tokio::time::sleep_until(due.into()).await;
            }
            state.bytes_served.fetch_add(n as u64, Ordering::SeqCst);
            Some((Ok(buf.freeze()), t))
        }
    })
}
