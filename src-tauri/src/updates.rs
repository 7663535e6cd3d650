//! "Get all", updates and the background check, from the app: thin over
//! core's `sync` and `sync::outdated`. The downloads go through the app's
//! download manager, so rows show them as downloading and the tray counts
//! them; the page follows through `download-event` and `updates-changed`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use haid_models::download::{self, DownloadEvent};
use haid_models::settings::SettingsView;
use haid_models::sync::outdated::{self, OutdatedReport};
use haid_models::sync::{self, SyncEvent, SyncReport, SyncSinks};
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio_util::sync::CancellationToken;

use crate::board::Board;
use crate::downloads;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// How often the app asks the hub for updates while it runs.
const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// The last update check, for the page (`updates`) and the tray ("2 updates").
#[derive(Debug, Default)]
pub struct Updates {
    last: Mutex<OutdatedReport>,
}

impl Updates {
    fn set<R: Runtime>(&self, app: &AppHandle<R>, report: OutdatedReport) {
        app.state::<Board>().set_updates(report.models.len());
        let _ = app.emit("updates-changed", &report);
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = report;
    }

    fn get(&self) -> OutdatedReport {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// "Get all" (the page's header) or a group's (`model_type`): every manifest
/// model of it brought to its revision and file set, with the whole set's
/// progress on `on_event`.
#[tauri::command]
pub async fn sync_models<R: Runtime>(
    app: AppHandle<R>,
    model_type: Option<String>,
    on_event: Channel<SyncEvent>,
) -> AppResult<SyncReport> {
    let state = app.state::<AppState>();
    state.place_to_write()?;
    let manifest = state.manifest()?;
    let models = sync::wanted(&manifest, model_type.as_deref())?;
    let emitter = app.clone();
    let sinks = SyncSinks {
        download: downloads::sink(&app, move |e| {
            let _ = emitter.emit("download-event", &e);
        }),
        sync: Arc::new(move |e| {
            let _ = on_event.send(e);
        }),
    };
    let report = sync::sync(
        &state.place().manager,
        &state.cache_dir(),
        &models,
        sinks,
        &CancellationToken::new(),
    )
    .await?;
    state.place().live.invalidate();
    for (_, m) in &models {
        app.state::<Board>().finished(&m.id.id());
    }
    Ok(report)
}

/// The last update check's answer (empty before the first one).
#[tauri::command]
pub fn updates(app: AppHandle<impl Runtime>) -> OutdatedReport {
    app.state::<Updates>().get()
}

/// Asks the hub now, whatever the setting (the page's "Check for updates").
#[tauri::command]
pub async fn check_updates<R: Runtime>(app: AppHandle<R>) -> AppResult<OutdatedReport> {
    let state = app.state::<AppState>();
    let hub = download::Hub::new(state.hub_config()?, &state.cache_dir())?;
    let followed = outdated::followed(&state.cache_dir(), &state.manifest()?)?;
    let report = outdated::outdated(&hub, &followed).await;
    app.state::<Updates>().set(&app, report.clone());
    Ok(report)
}

/// Updates one model: only its changed files are fetched, the ref moves
/// once they are all there, and the old revision stays for `prune`.
#[tauri::command]
pub async fn update_model<R: Runtime>(
    app: AppHandle<R>,
    id: String,
    on_event: Channel<DownloadEvent>,
) -> AppResult<outdated::OldRevision> {
    let state = app.state::<AppState>();
    state.place_to_write()?;
    let followed = outdated::followed(&state.cache_dir(), &state.manifest()?)?;
    let model = followed
        .into_iter()
        .find(|f| f.repo.repo.id() == id)
        .ok_or_else(|| {
            AppError::from(haid_models::Error::NotFound {
                what: format!("{id} in the cache following a branch"),
            })
        })?;
    let sink = downloads::sink(&app, move |e| {
        let _ = on_event.send(e);
    });
    let task = state.place().manager.start(model.request(), sink)?;
    let done = match task.await {
        Ok(result) => result?,
        Err(e) => return Err(AppError::internal(e.to_string())),
    };
    app.state::<Board>().finished(&id);
    state.place().live.repo_changed(&model.repo.repo);
    let old = outdated::settle_old(
        &state.cache_dir(),
        &model,
        &model.local_commit,
        &done.commit_hash,
        false,
    )
    .await?;
    let mut report = app.state::<Updates>().get();
    report.models.retain(|m| m.id != id);
    app.state::<Updates>().set(&app, report);
    Ok(old)
}

/// Checks at start, then daily, while the settings allow it (not offline,
/// not turned off). A failed check is kept quiet: the next one may work.
pub fn start_background<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            if allowed(&app) {
                let _ = check_updates(app.clone()).await;
            }
            tokio::time::sleep(EVERY).await;
        }
    });
}

fn allowed<R: Runtime>(app: &AppHandle<R>) -> bool {
    let state = app.state::<AppState>();
    SettingsView::read(&state.place().location, &state.env).is_ok_and(|v| v.check_updates)
}
