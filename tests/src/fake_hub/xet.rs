//! Files marked as stored with Xet, as the real hub documents them: the tree
//! listing's entry carries `"xetHash"`, and `resolve` (HEAD and GET) answers
//! with `X-Xet-Hash`. The bytes are still served over plain HTTP, and no
//! `X-Xet-Refresh-Route` (nor `Link: …; rel="xet-auth"`) is sent, so
//! huggingface_hub sees no Xet connection to use and downloads as before.
//!
//! A mark holds for the file's content when it was set (its etag): a file
//! changed afterwards (`FakeHub::advance`) is no longer marked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use super::{HubFile, HubState};

/// The header the hub names a Xet file's hash with.
pub const HEADER: &str = "x-xet-hash";

/// `(repo id, path)` → `(etag, Xet hash)`.
#[derive(Debug, Default)]
pub struct XetMarks(Mutex<HashMap<(String, String), (String, String)>>);

impl XetMarks {
    /// Marks `file` of `id` as a Xet file whose hash is `hash` (any text:
    /// a test may give a wrong one).
    pub fn set(&self, id: &str, file: &HubFile, hash: &str) {
        self.0.lock().unwrap().insert(
            (id.to_owned(), file.path.clone()),
            (file.etag().to_owned(), hash.to_owned()),
        );
    }

    /// The Xet hash of `file` of `id`, if it is marked with its content.
    pub fn of(&self, id: &str, file: &HubFile) -> Option<String> {
        let marks = self.0.lock().unwrap();
        let (etag, hash) = marks.get(&(id.to_owned(), file.path.clone()))?;
        (etag == file.etag()).then(|| hash.clone())
    }

    /// Adds `"xetHash"` to the listing's entries of marked files.
    pub fn annotate(&self, id: &str, files: &[HubFile], entries: &mut [Value]) {
        for entry in entries.iter_mut() {
            let Some(path) = entry["path"].as_str() else {
                continue;
            };
            let hash = files
                .iter()
                .find(|f| f.path == path)
                .and_then(|f| self.of(id, f));
            if let (Some(hash), Some(obj)) = (hash, entry.as_object_mut()) {
                obj.insert("xetHash".into(), Value::String(hash));
            }
        }
    }
}

/// `POST /_fake/xet/{org}/{name}` with `{"path": …, "xet_hash": …}`:
/// [`super::FakeHub::set_xet_hash`] for a hub in another process (the benchmark).
pub(super) async fn mark(
    State(state): State<Arc<HubState>>,
    Path((org, name)): Path<(String, String)>,
    Json(mark): Json<Value>,
) -> StatusCode {
    let (Some(path), Some(hash)) = (mark["path"].as_str(), mark["xet_hash"].as_str()) else {
        return StatusCode::BAD_REQUEST;
    };
    if state.set_xet_hash(&format!("{org}/{name}"), path, hash) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
