//! `haid-models serve`: the cache, read-only, with the hub's protocol, so
//! every Hugging Face client on another machine can use it with
//! `HF_ENDPOINT=http://that-machine:8765` (`hf download`, `transformers`,
//! hf-hub, and our own app and CLI).
//!
//! - Only complete, verified snapshots are served ([`catalog`]); anything
//!   else gets the hub's 404 and its error code.
//! - Every name in a URL is parsed into the cache's validated names before
//!   it is looked up, so `..`, raw or percent-encoded, reaches no file.
//! - With a token, every request must carry it (`Authorization: Bearer`).
//! - Every request is logged, through [`RequestLog`].
//! - Nothing is ever written: the server only reads the cache.
//!
//! Why axum: the well-kept HTTP server of the tokio world, which the fake
//! hub of our tests already runs on; the protocol code is shared with it
//! ([`protocol`]).

pub mod catalog;
pub mod protocol;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use catalog::{Catalog, Served};
use protocol::{byte_range, file_headers, hub_error, info_json, parse_range, tree_json};

/// The port `serve` binds when none is asked for.
pub const DEFAULT_BIND: &str = "127.0.0.1:8765";

/// One request, as the log shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestLine {
    /// The client's address.
    pub client: String,
    /// `GET`, `HEAD`.
    pub method: String,
    /// The path asked for (as sent, percent-encoding kept).
    pub path: String,
    /// The answer's status.
    pub status: u16,
    /// Milliseconds until the answer's head.
    pub ms: u128,
}

/// Where request lines go (stderr, as text or JSON).
pub type RequestLog = Arc<dyn Fn(&RequestLine) + Send + Sync>;

struct ServeState {
    catalog: Catalog,
    token: Option<String>,
    log: RequestLog,
}

type S = State<Arc<ServeState>>;

/// The server's routes over `cache_dir`.
pub fn router(cache_dir: &Path, token: Option<String>, log: RequestLog) -> Router {
    let state = Arc::new(ServeState {
        catalog: Catalog::new(cache_dir),
        token,
        log,
    });
    Router::new()
        .route("/api/models/{org}/{name}", get(info_main))
        .route("/api/models/{org}/{name}/revision/{*rev}", get(info_rev))
        .route("/api/models/{org}/{name}/tree/{rev}", get(tree))
        .route(
            "/api/models/{org}/{name}/tree/{rev}/{*path}",
            get(tree_under),
        )
        .route("/{org}/{name}/resolve/{rev}/{*path}", get(resolve))
        .fallback(|| async { hub_error(StatusCode::NOT_FOUND, "", "Not found") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Serves until the process ends. `listener` is bound already (so the
/// caller says where before the first request).
pub async fn run(
    listener: tokio::net::TcpListener,
    cache_dir: &Path,
    token: Option<String>,
    log: RequestLog,
) -> std::io::Result<()> {
    let app = router(cache_dir, token, log);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// The token check and the log line, around every request.
async fn guard(
    State(state): S,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    let (method, path) = (req.method().to_string(), req.uri().path().to_owned());
    let allowed = match &state.token {
        None => true,
        Some(token) => req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|sent| constant_time_eq(sent.as_bytes(), token.as_bytes())),
    };
    let resp = if allowed {
        next.run(req).await
    } else {
        hub_error(
            StatusCode::UNAUTHORIZED,
            "",
            "Invalid credentials in Authorization header: this server needs its token (HF_TOKEN)",
        )
    };
    (state.log)(&RequestLine {
        client: client.to_string(),
        method,
        path,
        status: resp.status().as_u16(),
        ms: started.elapsed().as_millis(),
    });
    resp
}

/// Compares without an early exit, so the time taken says nothing of the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The catalog's answer, off the async threads (a first look hashes files).
async fn open(state: &Arc<ServeState>, id: String, rev: String) -> Result<Arc<Served>, Response> {
    let state = state.clone();
    match tokio::task::spawn_blocking(move || state.catalog.open(&id, &rev)).await {
        Ok(Ok(served)) => Ok(served),
        Ok(Err(refusal)) => Err(*refusal),
        Err(e) => Err(hub_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            &e.to_string(),
        )),
    }
}

async fn info_main(State(state): S, UrlPath((org, name)): UrlPath<(String, String)>) -> Response {
    info(&state, org, name, "main".into()).await
}

async fn info_rev(
    State(state): S,
    UrlPath((org, name, rev)): UrlPath<(String, String, String)>,
) -> Response {
    info(&state, org, name, rev).await
}

async fn info(state: &Arc<ServeState>, org: String, name: String, rev: String) -> Response {
    match open(state, format!("{org}/{name}"), rev).await {
        Ok(s) => Json(info_json(&s.id, &s.commit, &s.files)).into_response(),
        Err(resp) => resp,
    }
}

async fn tree(
    State(state): S,
    UrlPath((org, name, rev)): UrlPath<(String, String, String)>,
) -> Response {
    listing(&state, org, name, rev, String::new()).await
}

async fn tree_under(
    State(state): S,
    UrlPath((org, name, rev, path)): UrlPath<(String, String, String, String)>,
) -> Response {
    listing(
        &state,
        org,
        name,
        rev,
        path.trim_end_matches('/').to_owned(),
    )
    .await
}

async fn listing(
    state: &Arc<ServeState>,
    org: String,
    name: String,
    rev: String,
    under: String,
) -> Response {
    let no_folder = || {
        hub_error(
            StatusCode::NOT_FOUND,
            "EntryNotFound",
            &format!("{under} does not exist on \"{rev}\""),
        )
    };
    if !under.is_empty() && crate::cache::RepoFilePath::parse(&under).is_err() {
        return no_folder();
    }
    match open(state, format!("{org}/{name}"), rev.clone()).await {
        Ok(s) => match tree_json(&s.files, &under) {
            entries if entries.is_empty() && !under.is_empty() => no_folder(),
            entries => Json(entries).into_response(),
        },
        Err(resp) => resp,
    }
}

/// `HEAD`/`GET /{org}/{name}/resolve/{rev}/{path}`: the file, whole or a range.
async fn resolve(
    State(state): S,
    method: Method,
    headers: HeaderMap,
    UrlPath((org, name, rev, path)): UrlPath<(String, String, String, String)>,
) -> Response {
    let served = match open(&state, format!("{org}/{name}"), rev.clone()).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    // The path is looked up among the snapshot's own files, never joined
    // to a folder: a `..` in it matches nothing.
    let (Some(file), Some(source)) = (
        served.files.iter().find(|f| f.path == path),
        served.sources.get(&path),
    ) else {
        return hub_error(
            StatusCode::NOT_FOUND,
            "EntryNotFound",
            &format!("{path} does not exist on \"{rev}\""),
        );
    };
    let head = file_headers(file, &served.commit);
    if method == Method::HEAD {
        return head
            .header(header::CONTENT_LENGTH, file.size)
            .body(Body::empty())
            .unwrap_or_default();
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    let (status, start, end, head) = match byte_range(range, file.size, head) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let mut f = match tokio::fs::File::open(source).await {
        Ok(f) => f,
        Err(e) => return hub_error(StatusCode::INTERNAL_SERVER_ERROR, "", &e.to_string()),
    };
    if f.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return hub_error(StatusCode::INTERNAL_SERVER_ERROR, "", "cannot seek");
    }
    head.status(status)
        .header(header::CONTENT_LENGTH, end - start)
        .body(Body::from_stream(chunks(f, end - start)))
        .unwrap_or_default()
}

/// The next `left` bytes of `file`, 1 MiB at a time into buffers that are
/// not zeroed first: each tokio file read is a trip to a blocking thread,
/// and with small zeroed chunks the server cost as much CPU as the client.
fn chunks(
    file: tokio::fs::File,
    left: u64,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> {
    const CHUNK: u64 = 1 << 20;
    futures_util::stream::try_unfold((file, left), |(mut file, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let mut buf = bytes::BytesMut::with_capacity(left.min(CHUNK) as usize);
        let n = file.read_buf(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was served",
            ));
        }
        Ok(Some((buf.freeze(), (file, left - n as u64))))
    })
}
