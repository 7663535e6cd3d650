//! The watcher inside the app: every change in the cache updates the app's
//! live view of it (with the watcher's scan of that one repo), then becomes a
//! `cache-changed` event for the page and an update of the tray. After a
//! move of the cache, a new watcher follows the new place.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use haid_models::watch::{choose_mode, WatchEvent, Watcher};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::state::AppState;
use crate::tray;

/// The running watcher, swapped when the cache moves.
#[derive(Default)]
pub struct WatcherSlot(Mutex<Option<Watcher>>);

/// Longest wait for the page before watching anyway (a start to the tray
/// shows no page).
const WAIT_FOR_PAGE: Duration = Duration::from_secs(3);

/// Whether the page has shown its first list, and who waits for it.
static SHOWN: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

/// Starts watching once the page shows its first list. The watcher's first
/// scan and its thousands of watches took a core for a second of the start
/// on two cores, and the list waited for it (bench/app.sh). Nothing is
/// missed meanwhile: the watcher's start rescans and tells of any change.
pub fn start_when_shown<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    let _ = std::thread::Builder::new()
        .name("watch-start".into())
        .spawn(move || {
            let (shown, page) = &SHOWN;
            let guard = shown.lock().unwrap_or_else(|p| p.into_inner());
            drop(page.wait_timeout_while(guard, WAIT_FOR_PAGE, |shown| !*shown));
            if let Err(e) = start(&app) {
                eprintln!("warning: the cache is not watched ({e}); the list refreshes on its own actions only");
            }
        });
}

/// The page shows its first list: the watcher may start.
pub fn page_shown() {
    let (shown, page) = &SHOWN;
    *shown.lock().unwrap_or_else(|p| p.into_inner()) = true;
    page.notify_all();
}

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
                // Watching (re)started or events were lost: trust nothing
                // kept, but tell only of a change. At start-up this is a
                // second after the page listed the cache, which it would
                // list again for nothing, with the disk picture, the tray
                // and the budget.
                WatchEvent::Ready { .. } | WatchEvent::Notice { .. } => {
                    match place.live.rescan() {
                        Ok(false) => return,
                        Ok(true) => {}
                        Err(_) => place.live.invalidate(),
                    }
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
