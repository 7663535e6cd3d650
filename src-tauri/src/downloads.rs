//! Downloads as the app runs them: progress for the page (its channel, or the
//! `download-event` event for downloads the tray resumed), percentages on the
//! [`Board`] (which the tray reads), a notification at the end, and
//! pause/resume of all of them.

use std::sync::Arc;

use haid_models::cache::RepoId;
use haid_models::download::{DownloadEvent, DownloadRequest, EventSink};
use haid_models::manifest::same_repo;
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// The board the downloads feed (here too, where the app's state was always found).
pub use crate::board::Board;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// A sink that feeds the board, then `forward`.
pub fn sink<R: Runtime>(
    app: &AppHandle<R>,
    forward: impl Fn(DownloadEvent) + Send + Sync + 'static,
) -> EventSink {
    let app = app.clone();
    Arc::new(move |event: DownloadEvent| {
        if let DownloadEvent::Progress {
            repo_id,
            bytes,
            total,
            ..
        } = &event
        {
            app.state::<Board>().progress(repo_id, *bytes, *total);
        }
        forward(event);
    })
}

/// Runs a download to its end; the board (so the tray) and a notification follow.
pub async fn run<R: Runtime>(app: &AppHandle<R>, id: &str, sink: EventSink) -> AppResult<()> {
    let repo = RepoId::model(id)?;
    let state = app.state::<AppState>();
    state.place_to_write()?;
    // A manifest model comes at its revision, with its file set only.
    let manifest = state.manifest()?;
    let req = match manifest.models().find(|m| same_repo(&m.id, &repo)) {
        Some(model) => DownloadRequest::for_model(model, false),
        None => DownloadRequest::new(repo.clone()),
    };
    let task = state.place().manager.start(req, sink)?;
    let result = match task.await {
        Ok(result) => result.map(|_| ()).map_err(AppError::from),
        Err(e) => Err(AppError::internal(e.to_string())),
    };
    // The cache first: whoever the board tells reads the new state.
    app.state::<AppState>().place().live.repo_changed(&repo);
    app.state::<Board>().finished(id);
    notify_outcome(app, id, &result);
    result
}

/// Cancels every running download and remembers them for "Resume all".
pub fn pause_all<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let active: Vec<String> = state
        .place()
        .manager
        .active()
        .iter()
        .map(RepoId::id)
        .collect();
    state.place().manager.cancel_all();
    app.state::<Board>().paused(active);
}

/// Starts again what "Pause all" stopped; the page follows through `download-event`.
pub fn resume_all<R: Runtime>(app: &AppHandle<R>) {
    for id in app.state::<Board>().take_paused() {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let emitter = app.clone();
            let events = sink(&app, move |e| {
                let _ = emitter.emit("download-event", &e);
            });
            let _ = run(&app, &id, events).await;
        });
    }
}

/// A desktop notification when a download ends: the window may be closed to
/// the tray by then. A failed notification (no notification daemon) is ignored.
fn notify_outcome<R: Runtime>(app: &AppHandle<R>, id: &str, result: &AppResult<()>) {
    use tauri_plugin_notification::NotificationExt;
    let (title, body) = match result {
        Ok(()) => (format!("{id} downloaded"), "Ready to use.".to_owned()),
        Err(e) if e.kind == haid_models::ErrorKind::Cancelled => return,
        Err(e) => (format!("{id} failed"), e.message.clone()),
    };
    if app
        .try_state::<tauri_plugin_notification::Notification<R>>()
        .is_some()
    {
        let _ = app.notification().builder().title(title).body(body).show();
    }
}
