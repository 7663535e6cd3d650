//! The watcher inside the app: every change in the cache becomes a
//! `cache-changed` event for the page and an updated tray status.

use std::sync::Arc;

use haid_models::env::Env;
use haid_models::watch::{choose_mode, WatchEvent, Watcher};
use tauri::{AppHandle, Emitter};

use crate::tray;

pub fn start(app: &AppHandle, cache_dir: std::path::PathBuf) -> haid_models::Result<Watcher> {
    let mode = choose_mode(&Env::from_process(), &cache_dir);
    let handle = app.clone();
    Watcher::start(
        cache_dir,
        mode,
        Arc::new(move |event| {
            if let WatchEvent::RepoChanged(change) = event {
                let _ = handle.emit("cache-changed", &change);
                tray::refresh(&handle);
            }
        }),
    )
}
