//! The watcher inside the app: every change in the cache updates the app's
//! live view of it (with the watcher's scan of that one repo), then becomes a
//! `cache-changed` event for the page and an update of the tray. After a
//! move of the cache, a new watcher follows the new place.

use std::sync::{Arc, Mutex};

use haid_models::watch::{choose_mode, WatchEvent, Watcher};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::state::AppState;
use crate::tray;

/// The running watcher, swapped when the cache moves.
#[derive(Default)]
pub struct WatcherSlot(Mutex<Option<Watcher>>);

/// Watches the app's cache now, replacing the watcher of an old place.
pub fn start<R: Runtime>(app: &AppHandle<R>) -> haid_models::Result<()> {
    stop(app);
    let state = app.state::<AppState>();
    let cache_dir = state.cache_dir();
    let mode = choose_mode(&state.env, &cache_dir);
    let handle = app.clone();
    let watcher = Watcher::start(
        cache_dir,
        mode,
        Arc::new(move |event| {
            let place = handle.state::<AppState>().place();
            // Updated first, then told: whoever reacts reads the new state.
            let _ = match &event {
                WatchEvent::RepoChanged(change) => {
                    place.live.apply(change);
                    handle.emit("cache-changed", change)
                }
                // Watching (re)started or events were lost: trust nothing kept.
                WatchEvent::Ready { .. } | WatchEvent::Notice { .. } => {
                    place.live.invalidate();
                    handle.emit("cache-changed", ())
                }
            };
            tray::request_refresh(&handle);
            crate::space::request_budget(&handle);
        }),
    )?;
    if let Ok(mut slot) = app.state::<WatcherSlot>().0.lock() {
        *slot = Some(watcher);
    }
    Ok(())
}

/// Stops watching (the old place of a move, whose files are going).
pub fn stop<R: Runtime>(app: &AppHandle<R>) {
    let old = app
        .try_state::<WatcherSlot>()
        .and_then(|slot| slot.0.lock().ok().and_then(|mut s| s.take()));
    if let Some(watcher) = old {
        watcher.stop();
    }
}
