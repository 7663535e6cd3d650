//! The commands the page calls: one-line wrappers over `haid_models`.
//! Every argument is validated in core (a `RepoId` is parsed before use).
//! Tauri runs a plain command on the UI thread, where a scan of a big cache
//! froze the window (frames of a second, measured): whatever reads the disk
//! is `command(async)`, which runs it on Tauri's async runtime instead.

use std::path::Path;

use haid_models::cache::delete::{execute_delete, plan_delete, DeletePlan};
use haid_models::cache::prune::{execute_prune, plan_prune, PrunePlan};
use haid_models::cache::safe_fs::resolve_inside;
use haid_models::cache::verify::{verify, VerifyReport};
use haid_models::cache::RepoId;
use haid_models::download::{lock, DownloadEvent};
use haid_models::location::CacheInfo;
use haid_models::settings::{Settings, SettingsUpdate, SettingsView};
use haid_models::status::{model_list, ModelList};
use tauri::ipc::Channel;
use tauri::{Emitter, Manager, State};
use tauri_plugin_opener::OpenerExt;

use crate::downloads;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::window::PageGeneration;

#[tauri::command(async)]
pub fn list_models(state: State<'_, AppState>) -> AppResult<ModelList> {
    crate::startup_mark("list asked");
    let report = state.place().live.report()?;
    crate::startup_mark("cache read");
    let mut downloading = lock::downloading_repos(&state.cache_dir());
    downloading.extend(state.place().manager.active());
    Ok(model_list(&state.manifest()?, &report, &downloading))
}

#[tauri::command(async)]
pub fn cache_info(state: State<'_, AppState>) -> CacheInfo {
    CacheInfo::of(&state.place().location)
}

#[tauri::command]
pub async fn download_model<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    id: String,
    on_event: Channel<DownloadEvent>,
) -> AppResult<()> {
    let page = app.state::<PageGeneration>().current();
    let emitter = app.clone();
    let sink = downloads::sink(&app, move |e| {
        // The page that started it, while it lives; else whichever page is open.
        if emitter.state::<PageGeneration>().current() == page {
            let _ = on_event.send(e);
        } else {
            let _ = emitter.emit("download-event", &e);
        }
    });
    downloads::run(&app, &id, sink).await
}

#[tauri::command]
pub fn cancel_download(state: State<'_, AppState>, id: String) -> AppResult<bool> {
    Ok(state.place().manager.cancel(&RepoId::model(&id)?))
}

#[tauri::command(async)]
pub fn delete_plan(state: State<'_, AppState>, id: String) -> AppResult<DeletePlan> {
    Ok(plan_delete(&state.cache_dir(), &RepoId::model(&id)?, &[])?)
}

#[tauri::command(async)]
pub fn delete_model(state: State<'_, AppState>, id: String) -> AppResult<DeletePlan> {
    let repo = RepoId::model(&id)?;
    state.place_to_write()?;
    let plan = plan_delete(&state.cache_dir(), &repo, &[])?;
    let done = execute_delete(&state.cache_dir(), &plan);
    state.place().live.repo_changed(&repo); // also after a failure: part may be gone
    done?;
    Ok(plan)
}

#[tauri::command(async)]
pub fn prune_plan(state: State<'_, AppState>) -> AppResult<PrunePlan> {
    Ok(plan_prune(&state.cache_dir())?)
}

#[tauri::command(async)]
pub fn prune(state: State<'_, AppState>) -> AppResult<PrunePlan> {
    state.place_to_write()?;
    let plan = plan_prune(&state.cache_dir())?;
    let done = execute_prune(&state.cache_dir(), &plan);
    state.place().live.invalidate();
    done?;
    Ok(plan)
}

/// Async, so hashing gigabytes keeps off the main thread. Offline: the page
/// shows the files' verdicts; the hub's listing is the CLI's for now.
#[tauri::command]
pub async fn verify_model(state: State<'_, AppState>, id: String) -> AppResult<VerifyReport> {
    let repo = RepoId::model(&id)?;
    Ok(verify(&state.cache_dir(), None, &repo, None).await?)
}

/// Opens a folder of the cache (and nothing else) in the file manager.
#[tauri::command]
pub fn open_folder<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    path: String,
) -> AppResult<()> {
    let real = resolve_inside(&state.cache_dir(), Path::new(&path))?;
    app.opener()
        .open_path(real.to_string_lossy(), None::<&str>)
        .map_err(|e| AppError::internal(e.to_string()))
}

/// The settings as the page shows them (the token never: only whether one is set).
#[tauri::command(async)]
pub fn get_settings(state: State<'_, AppState>) -> AppResult<SettingsView> {
    Ok(SettingsView::read(&state.place().location, &state.env)?)
}

/// Saves what the page changed. The hub and the limit apply at once (to
/// downloads started from now on), the cache location at the next start.
/// Async so it runs on the async runtime, where the manager applies a new limit.
#[tauri::command]
pub async fn set_settings(
    state: State<'_, AppState>,
    update: SettingsUpdate,
) -> AppResult<SettingsView> {
    let saved = Settings::apply(update, &state.place().location)?;
    state
        .place()
        .manager
        .follow_settings(state.hub_config()?, &saved)?;
    get_settings(state)
}

/// The tray's menu as it is now: proof that the tray exists, for the
/// end-to-end test (Xvfb has no tray host to look at).
#[tauri::command(async)]
pub fn tray_status<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> AppResult<Vec<String>> {
    if app.tray_by_id(crate::tray::TRAY_ID).is_none() {
        return Err(AppError::internal("there is no tray icon"));
    }
    Ok(crate::tray::labels(&app))
}

/// "Add a model by id": validated in core, written to the user manifest.
#[tauri::command(async)]
pub fn add_model(state: State<'_, AppState>, id: String, model_type: String) -> AppResult<String> {
    let model = haid_models::manifest::user_file::add_model(
        &state.user_manifest,
        &state.manifest()?,
        &model_type,
        &id,
    )?;
    Ok(model.id.id())
}

/// The page calls this once, when the model list is first on screen: with
/// `HAID_STARTUP_TIMING=1` the app prints how long that took from its start
/// (what `bench/app.sh` measures).
#[tauri::command]
pub fn ui_ready() {
    crate::live::page_shown();
    crate::memory::trim_soon();
    crate::startup_mark("model list shown");
}
