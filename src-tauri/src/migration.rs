//! The migration of the old per-service folders, from the app: the plan for
//! the banner, and the run with its progress streamed to the page. The
//! models show up as downloaded one by one: the watcher sees each land.

use haid_models::migrate::{
    self, MigrateEvent, MigrateOptions, MigrationPlan, ModelOutcome, OldFolder,
};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::AppResult;
use crate::state::AppState;

/// What the old data folder (`HAID_DATA_DIR`, else the platform's) holds to
/// migrate; empty when there is nothing (or no such folder).
#[tauri::command(async)]
pub fn migration_plan(state: State<'_, AppState>) -> AppResult<MigrationPlan> {
    plan(&state)
}

#[tauri::command]
pub async fn migrate(
    state: State<'_, AppState>,
    on_event: Channel<MigrateEvent>,
) -> AppResult<Vec<ModelOutcome>> {
    state.place_to_write()?;
    let plan = plan(&state)?;
    let options = MigrateOptions::from_config(state.hub_config()?, &state.cache_dir())?;
    let sink = std::sync::Arc::new(move |e| {
        let _ = on_event.send(e);
    });
    let outcomes = migrate::run(&plan, &options, sink).await?;
    state.place().live.invalidate(); // many repos changed at once
    Ok(outcomes)
}

/// The usual old data folder (`HAID_DATA_DIR`, else the platform's): the
/// app offers what it holds, and none there means nothing to offer.
fn plan(state: &AppState) -> AppResult<MigrationPlan> {
    let from = OldFolder::Usual(&state.place().location.data_dir);
    Ok(migrate::plan(from, &state.place().location.cache_dir)?)
}
