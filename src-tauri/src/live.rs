//! The watcher inside the app: every change in the cache updates the app's
//! live view of it (with the watcher's scan of that one repo), then becomes a
//! `cache-changed` event for the page and an update of the tray.

use std::sync::Arc;

use haid_models::env::Env;
use haid_models::watch::{choose_mode, WatchEvent, Watcher};
use tauri::{AppHandle, Emitter, Manager};

use crate::state::AppState;
use crate::tray;

pub fn start(app: &AppHandle, cache_dir: std::path::PathBuf) -> haid_models::Result<Watcher> {
    let mode = choose_mode(&Env::from_process(), &cache_dir);
    let handle = app.clone();
    Watcher::start(
        cache_dir,
        mode,
        Arc::new(move |event| {
            let live = &handle.state::<AppState>().live;
            // Updated first, then told: whoever reacts reads the new state.
            let _ = match &event {
                WatchEvent::RepoChanged(change) => {
                    live.apply(change);
                    handle.emit("cache-changed", change)
                }
                // Watching (re)started or events were lost: trust nothing kept.
                WatchEvent::Ready { .. } | WatchEvent::Notice { .. } => {
                    live.invalidate();
                    handle.emit("cache-changed", ())
                }
            };
            tray::request_refresh(&handle);
            crate::space::request_budget(&handle);
        }),
    )
}
