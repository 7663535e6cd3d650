//! Export and import from the app: thin over core's `archive`. The page
//! picks the file (the dialog plugin's save and open dialogs, or a file
//! dropped on the window); the work runs off the main thread with its
//! progress streamed to the page, and the list follows the import live.

use std::path::Path;

use haid_models::archive::{self, ArchiveEvent, ExportReport, ImportReport};
use haid_models::cache::RepoId;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Writes `ids` (or, with `manifest`, every manifest model) to `file`.
#[tauri::command]
pub async fn export_models<R: Runtime>(
    app: AppHandle<R>,
    ids: Vec<String>,
    manifest: bool,
    file: String,
    on_event: Channel<ArchiveEvent>,
) -> AppResult<ExportReport> {
    let state = app.state::<AppState>();
    let mut wanted = Vec::new();
    for id in &ids {
        wanted.push((RepoId::model(id)?, None));
    }
    if manifest {
        let m = state.manifest()?;
        wanted.extend(
            m.models()
                .map(|m| (m.id.clone(), Some(m.revision.to_string()))),
        );
    }
    let cache_dir = state.cache_dir();
    blocking(move || {
        let plan = archive::plan_export(&cache_dir, &wanted)?;
        archive::export(&plan, Path::new(&file), &|e| {
            let _ = on_event.send(e.clone());
        })
    })
    .await
}

/// Reads an archive into the cache. Refusals and damaged files are in the
/// report (the page lists them); the rest is imported.
#[tauri::command]
pub async fn import_archive<R: Runtime>(
    app: AppHandle<R>,
    file: String,
    on_event: Channel<ArchiveEvent>,
) -> AppResult<ImportReport> {
    let state = app.state::<AppState>();
    let place = state.place_to_write()?;
    let cache_dir = place.location.cache_dir.clone();
    let options = archive::ImportOptions {
        dry_run: false,
        disable_symlinks: state.hub_config()?.disable_symlinks,
    };
    let report = blocking(move || {
        archive::import_file(&cache_dir, Path::new(&file), options, &|e| {
            let _ = on_event.send(e.clone());
        })
    })
    .await;
    place.live.invalidate(); // many repos at once
    let _ = app.emit("cache-changed", ());
    report
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> haid_models::Result<T> + Send + 'static,
) -> AppResult<T> {
    match tauri::async_runtime::spawn_blocking(work).await {
        Ok(result) => Ok(result?),
        Err(e) => Err(AppError::internal(e.to_string())),
    }
}
