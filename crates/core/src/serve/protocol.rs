//! The hub's answers, as Hugging Face clients read them: model info, the
//! tree listing, `resolve` with its headers (`ETag`, `X-Repo-Commit`,
//! `X-Linked-Etag`, `X-Linked-Size`, ranges), and errors with their
//! `X-Error-Code`. One implementation, used by `serve` and by the fake hub
//! of the tests (which adds its faults around it), so what our tests check
//! against is what `serve` answers.

use axum::body::Body;
use axum::http::{header, response, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// One file of a commit, as the hub describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Its path in the repo.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// The git blob id (of the content, or of the LFS pointer).
    pub blob_id: String,
    /// The content's sha256, for an LFS file.
    pub lfs_sha256: Option<String>,
}

impl FileInfo {
    /// What a client names the blob: the sha256 of an LFS file, else the git id.
    pub fn etag(&self) -> &str {
        self.lfs_sha256.as_deref().unwrap_or(&self.blob_id)
    }

    /// Its entry in the tree listing.
    pub fn tree_entry(&self) -> Value {
        let mut entry =
            json!({"type": "file", "oid": self.blob_id, "size": self.size, "path": self.path});
        if let Some(sha) = &self.lfs_sha256 {
            entry["lfs"] = json!({"oid": sha, "size": self.size, "pointerSize": 134});
        }
        entry
    }
}

/// `GET /api/models/{id}[/revision/{rev}]`.
pub fn info_json(id: &str, commit: &str, files: &[FileInfo]) -> Value {
    json!({
        "_id": commit,
        "id": id,
        "modelId": id,
        "sha": commit,
        "private": false,
        "gated": false,
        "disabled": false,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "lastModified": "2026-01-01T00:00:00.000Z",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "siblings": files.iter().map(|f| json!({"rfilename": f.path})).collect::<Vec<_>>(),
    })
}

/// Every folder that holds a file, sorted.
pub fn directories(files: &[FileInfo]) -> Vec<String> {
    let mut dirs: Vec<String> = files
        .iter()
        .flat_map(|f| {
            f.path
                .match_indices('/')
                .map(|(i, _)| f.path[..i].to_owned())
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// `GET /api/models/{id}/tree/{rev}[/{under}]`: folders, then files (all
/// depths, as `recursive=true` asks).
pub fn tree_json(files: &[FileInfo], under: &str) -> Vec<Value> {
    let inside = |p: &str| under.is_empty() || p.starts_with(&format!("{under}/"));
    let dirs = directories(files).into_iter().filter(|d| inside(d)).map(|d| {
        json!({"type": "directory", "oid": "0000000000000000000000000000000000000000", "size": 0, "path": d})
    });
    let files = files
        .iter()
        .filter(|f| inside(&f.path))
        .map(FileInfo::tree_entry);
    dirs.chain(files).collect()
}

/// An error as the hub sends it: status, `X-Error-Code`, `X-Error-Message`, JSON body.
pub fn hub_error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut resp = (status, Json(json!({ "error": message }))).into_response();
    let h = resp.headers_mut();
    if let (false, Ok(v)) = (code.is_empty(), code.parse()) {
        h.insert("x-error-code", v);
    }
    if let Ok(v) = message.parse() {
        h.insert("x-error-message", v);
    }
    resp
}

/// `Range: bytes=START-[END]` (one range; anything else is no range).
pub fn parse_range(value: &str) -> Option<(u64, Option<u64>)> {
    let spec = value.strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let end = match end.trim() {
        "" => None,
        e => Some(e.parse().ok()?),
    };
    Some((start, end))
}

/// The headers every `resolve` answer has.
pub fn file_headers(file: &FileInfo, commit: &str) -> response::Builder {
    let mut resp = Response::builder()
        .header(header::ETAG, format!("\"{}\"", file.etag()))
        .header("x-repo-commit", commit)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_TYPE, "application/octet-stream");
    if file.lfs_sha256.is_some() {
        resp = resp
            .header("x-linked-etag", format!("\"{}\"", file.etag()))
            .header("x-linked-size", file.size);
    }
    resp
}

/// What part of a file of `size` to send: (status, start, end exclusive),
/// or the 416 answer for a range past its end.
#[allow(clippy::result_large_err)]
pub fn byte_range(
    range: Option<(u64, Option<u64>)>,
    size: u64,
    head: response::Builder,
) -> Result<(StatusCode, u64, u64, response::Builder), Response> {
    match range {
        None => Ok((StatusCode::OK, 0, size, head)),
        Some((start, _)) if start >= size && size > 0 => Err(head
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{size}"))
            .body(Body::empty())
            .unwrap_or_default()),
        Some((start, end)) => {
            let end = end.map_or(size, |e| (e + 1).min(size)).max(start);
            let head = head.header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{size}", end.saturating_sub(1)),
            );
            Ok((StatusCode::PARTIAL_CONTENT, start, end, head))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_the_hub_reads_them() {
        assert_eq!(parse_range("bytes=0-"), Some((0, None)));
        assert_eq!(parse_range("bytes=10-19"), Some((10, Some(19))));
        assert_eq!(parse_range("bytes=a-"), None);
        assert_eq!(parse_range("items=0-1"), None);
        let (status, start, end, _) =
            byte_range(Some((10, Some(19))), 15, Response::builder()).unwrap();
        assert_eq!((status, start, end), (StatusCode::PARTIAL_CONTENT, 10, 15));
        assert!(byte_range(Some((15, None)), 15, Response::builder()).is_err());
    }

    #[test]
    fn the_tree_lists_folders_then_files_under_a_path() {
        let f = |p: &str| FileInfo {
            path: p.into(),
            size: 1,
            blob_id: "a".repeat(40),
            lfs_sha256: None,
        };
        let files = [f("config.json"), f("onnx/model.onnx"), f("onnx/sub/x")];
        let all: Vec<String> = tree_json(&files, "")
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            all,
            [
                "onnx",
                "onnx/sub",
                "config.json",
                "onnx/model.onnx",
                "onnx/sub/x"
            ]
        );
        assert_eq!(tree_json(&files, "onnx/sub").len(), 1);
    }
}
