//! The commands the page calls: one-line wrappers over `haid_models`.
//! Every argument is validated in core (a `RepoId` is parsed before use).

use haid_models::cache::delete::{execute_delete, plan_delete, DeletePlan};
use haid_models::cache::prune::{execute_prune, plan_prune, PrunePlan};
use haid_models::cache::verify::{verify_local, VerifyReport};
use haid_models::cache::RepoId;
use haid_models::download::{lock, DownloadEvent};
use haid_models::settings::Settings;
use haid_models::status::{model_list, ModelList};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{Emitter, Manager, State};
use tauri_plugin_opener::OpenerExt;

use crate::downloads;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::window::PageGeneration;

#[derive(Debug, Serialize)]
pub struct CacheInfo {
    cache_dir: std::path::PathBuf,
    source: haid_models::location::LocationSource,
    free_bytes: Option<u64>,
}

#[tauri::command]
pub fn list_models(state: State<'_, AppState>) -> AppResult<ModelList> {
    let report = state.live.report()?;
    let mut downloading = lock::downloading_repos(&state.cache_dir());
    downloading.extend(state.manager.active());
    Ok(model_list(&state.manifest()?, &report, &downloading))
}

#[tauri::command]
pub fn cache_info(state: State<'_, AppState>) -> CacheInfo {
    let dir = state.cache_dir();
    let free_bytes = dir.ancestors().find_map(fs_free);
    CacheInfo {
        cache_dir: dir,
        source: state.location.source,
        free_bytes,
    }
}

fn fs_free(dir: &std::path::Path) -> Option<u64> {
    dir.is_dir()
        .then(|| haid_models::download::free_space(dir))
        .flatten()
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
    Ok(state.manager.cancel(&RepoId::model(&id)?))
}

#[tauri::command]
pub fn delete_plan(state: State<'_, AppState>, id: String) -> AppResult<DeletePlan> {
    Ok(plan_delete(&state.cache_dir(), &RepoId::model(&id)?, &[])?)
}

#[tauri::command]
pub fn delete_model(state: State<'_, AppState>, id: String) -> AppResult<DeletePlan> {
    let repo = RepoId::model(&id)?;
    let plan = plan_delete(&state.cache_dir(), &repo, &[])?;
    let done = execute_delete(&state.cache_dir(), &plan);
    state.live.repo_changed(&repo); // also after a failure: part may be gone
    done?;
    Ok(plan)
}

#[tauri::command]
pub fn prune_plan(state: State<'_, AppState>) -> AppResult<PrunePlan> {
    Ok(plan_prune(&state.cache_dir())?)
}

#[tauri::command]
pub fn prune(state: State<'_, AppState>) -> AppResult<PrunePlan> {
    let plan = plan_prune(&state.cache_dir())?;
    let done = execute_prune(&state.cache_dir(), &plan);
    state.live.invalidate();
    done?;
    Ok(plan)
}

#[tauri::command]
pub fn verify_model(state: State<'_, AppState>, id: String) -> AppResult<VerifyReport> {
    Ok(verify_local(
        &state.cache_dir(),
        &RepoId::model(&id)?,
        None,
    )?)
}

/// Opens a folder of the cache (and nothing else) in the file manager.
#[tauri::command]
pub fn open_folder<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    path: String,
) -> AppResult<()> {
    let root =
        std::fs::canonicalize(state.cache_dir()).map_err(|e| AppError::internal(e.to_string()))?;
    let real =
        std::fs::canonicalize(&path).map_err(|e| AppError::internal(format!("{path}: {e}")))?;
    if !real.starts_with(&root) {
        return Err(AppError {
            kind: "invalid_argument".into(),
            message: format!("{path} is not in the cache"),
        });
    }
    app.opener()
        .open_path(real.to_string_lossy(), None::<&str>)
        .map_err(|e| AppError::internal(e.to_string()))
}

/// The settings as the page shows them. The token is never sent back: only
/// whether one is set.
#[derive(Debug, Serialize)]
pub struct SettingsView {
    cache_dir: std::path::PathBuf,
    source: haid_models::location::LocationSource,
    /// The environment variable that fixes the cache location, if one does.
    cache_dir_forced_by: Option<String>,
    endpoint: String,
    endpoint_forced: bool,
    concurrency: usize,
    token_set: bool,
    settings_file: std::path::PathBuf,
}

/// What the page may change: the hub and the limit apply at once, the cache
/// location at the next start.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsUpdate {
    cache_dir: Option<String>,
    endpoint: Option<String>,
    concurrency: Option<usize>,
    token: Option<String>,
}

fn forced_by(source: haid_models::location::LocationSource) -> Option<String> {
    source
        .is_environment()
        .then(|| {
            serde_json::to_value(source)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
        })
        .flatten()
}

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> AppResult<SettingsView> {
    let loc = &state.location;
    let saved = Settings::load(&loc.settings_file)?;
    let config =
        haid_models::download::HubConfig::from_env_and_settings(&state.env, &loc.hf_home, &saved);
    Ok(SettingsView {
        cache_dir: loc.cache_dir.clone(),
        source: loc.source,
        cache_dir_forced_by: forced_by(loc.source),
        endpoint: config.endpoint,
        endpoint_forced: state.env.get("HF_ENDPOINT").is_some(),
        concurrency: saved
            .concurrency
            .unwrap_or(haid_models::download::manager::DEFAULT_MODEL_CONCURRENCY),
        token_set: config.token.is_some(),
        settings_file: loc.settings_file.clone(),
    })
}

/// Async so it runs on the async runtime, where the manager applies a new limit.
#[tauri::command]
pub async fn set_settings(
    state: State<'_, AppState>,
    update: SettingsUpdate,
) -> AppResult<SettingsView> {
    let loc = &state.location;
    let mut saved = Settings::load(&loc.settings_file)?;
    if let Some(dir) = update.cache_dir.filter(|d| !d.trim().is_empty()) {
        if let Some(var) = forced_by(loc.source) {
            return Err(AppError {
                kind: "invalid_argument".into(),
                message: format!(
                    "the cache location is set by {var}; change or unset {var} instead"
                ),
            });
        }
        saved.cache_dir = Some(dir.trim().into());
    }
    if let Some(url) = update.endpoint {
        saved.endpoint =
            Some(url.trim().trim_end_matches('/').to_owned()).filter(|u| !u.is_empty());
    }
    if let Some(n) = update.concurrency {
        saved.concurrency = Some(n);
    }
    saved.validate()?;
    if let Some(token) = update.token.filter(|t| !t.trim().is_empty()) {
        haid_models::settings::save_token(&loc.hf_home, &token)?;
    }
    saved.save(&loc.settings_file)?;
    // The hub and the limit apply at once (to downloads started from now
    // on); the cache location at the next start.
    let hub = haid_models::download::Hub::new(state.hub_config()?, &state.cache_dir())?;
    state.manager.set_hub(hub);
    if let Some(n) = saved.concurrency {
        state.manager.set_concurrency(n);
    }
    get_settings(state)
}

/// The tray's menu as it is now: proof that the tray exists, for the
/// end-to-end test (Xvfb has no tray host to look at).
#[tauri::command]
pub fn tray_status<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> AppResult<Vec<String>> {
    if app.tray_by_id(crate::tray::TRAY_ID).is_none() {
        return Err(AppError::internal("there is no tray icon"));
    }
    Ok(crate::tray::labels(&app))
}

/// "Add a model by id": validated in core, written to the user manifest.
#[tauri::command]
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
    crate::memory::trim_soon();
    if std::env::var_os("HAID_STARTUP_TIMING").is_some() {
        let ms = crate::started().elapsed().as_millis();
        eprintln!("startup: model list shown {ms} ms after launch");
    }
}
