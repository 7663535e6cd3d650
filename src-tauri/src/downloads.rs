//! Downloads as the app runs them: progress for the page (its channel, or the
//! `download-event` event for downloads the tray resumed), percentages for
//! the tray, a notification at the end, and pause/resume of all of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use haid_models::cache::RepoId;
use haid_models::download::{DownloadEvent, DownloadRequest, EventSink};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::tray;

/// The tray menu is rebuilt at most this often while bytes flow.
const TRAY_EVERY: Duration = Duration::from_secs(1);

/// What the tray shows of downloads.
#[derive(Debug, Default)]
pub struct DownloadBoard {
    /// repo id → percent done.
    pub running: BTreeMap<String, u8>,
    /// Paused from the tray, to resume from the tray.
    pub paused: Vec<String>,
    last_tray: Option<Instant>,
}

pub type Board = Mutex<DownloadBoard>;

/// A sink that feeds the board (and the tray), then `forward`.
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
            let percent = if *total == 0 {
                0
            } else {
                (bytes * 100 / total).min(100) as u8
            };
            let due = {
                let board = app.state::<Board>();
                let mut board = board.lock().unwrap_or_else(|p| p.into_inner());
                board.running.insert(repo_id.clone(), percent);
                let due = board.last_tray.is_none_or(|t| t.elapsed() >= TRAY_EVERY);
                if due {
                    board.last_tray = Some(Instant::now());
                }
                due
            };
            if due {
                tray::request_refresh(&app);
            }
        }
        forward(event);
    })
}

/// Runs a download to its end; the board, the tray and a notification follow.
pub async fn run<R: Runtime>(app: &AppHandle<R>, id: &str, sink: EventSink) -> AppResult<()> {
    let repo = RepoId::model(id)?;
    let task = app
        .state::<AppState>()
        .manager
        .start(DownloadRequest::new(repo.clone()), sink)?;
    let result = match task.await {
        Ok(result) => result.map(|_| ()).map_err(AppError::from),
        Err(e) => Err(AppError::internal(e.to_string())),
    };
    app.state::<Board>()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .running
        .remove(id);
    app.state::<AppState>().live.repo_changed(&repo);
    tray::request_refresh(app);
    notify_outcome(app, id, &result);
    result
}

/// Cancels every running download and remembers them for "Resume all".
pub fn pause_all<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let active: Vec<String> = state.manager.active().iter().map(RepoId::id).collect();
    state.manager.cancel_all();
    app.state::<Board>()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .paused
        .extend(active);
    tray::request_refresh(app);
}

/// Starts again what "Pause all" stopped; the page follows through `download-event`.
pub fn resume_all<R: Runtime>(app: &AppHandle<R>) {
    let paused = std::mem::take(
        &mut app
            .state::<Board>()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .paused,
    );
    for id in paused {
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
        Err(e) if e.kind == "cancelled" => return,
        Err(e) => (format!("{id} failed"), e.message.clone()),
    };
    if app
        .try_state::<tauri_plugin_notification::Notification<R>>()
        .is_some()
    {
        let _ = app.notification().builder().title(title).body(body).show();
    }
}
