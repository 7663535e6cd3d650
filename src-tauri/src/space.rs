//! The disk picture and the budget, from the app: thin over core's
//! `cache::space` and `cache::budget`. The budget deletes only on the
//! user's click, unless the settings say "automatically"; then it runs when
//! the cache changes and is over (never a manifest model, never a download).

use haid_models::cache::budget::{execute_budget, plan_budget, BudgetPlan};
use haid_models::cache::space::{clear_xet as clear, space_from, SpaceReport};
use haid_models::settings::SettingsView;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use crate::error::AppResult;
use crate::state::AppState;

/// Where the space goes: the page's disk picture.
#[tauri::command]
pub async fn space_report(state: State<'_, AppState>) -> AppResult<SpaceReport> {
    // From the live report: the page asks with every list, and a fresh
    // scan (two, with the prune's) of a big cache each time cost seconds.
    let place = state.place();
    let report = place.live.report()?;
    Ok(space_from(&place.location, &state.manifest()?, &report)?)
}

/// Empties `$HF_HOME/xet`; the bytes freed.
#[tauri::command(async)]
pub fn clear_xet(state: State<'_, AppState>) -> AppResult<u64> {
    Ok(clear(&state.place().location.hf_home)?)
}

/// The budget's plan when the cache is over it; `None` when it fits or no
/// budget is set.
#[tauri::command]
pub async fn budget_plan(state: State<'_, AppState>) -> AppResult<Option<BudgetPlan>> {
    over_budget(&state)
}

/// Applies the budget now (the user's click); the plan as carried out.
#[tauri::command]
pub async fn apply_budget(state: State<'_, AppState>) -> AppResult<Option<BudgetPlan>> {
    state.place_to_write()?;
    let plan = over_budget(&state)?;
    if let Some(plan) = &plan {
        execute_budget(&state.cache_dir(), plan)?;
        state.place().live.invalidate();
    }
    Ok(plan)
}

fn over_budget(state: &AppState) -> AppResult<Option<BudgetPlan>> {
    let view = SettingsView::read(&state.place().location, &state.env)?;
    let Some(limit) = view.keep_under else {
        return Ok(None);
    };
    let plan = plan_budget(&state.cache_dir(), &state.manifest()?, limit)?;
    Ok((plan.size_before > limit).then_some(plan))
}

/// Changes within this time make one look at the budget (a download's files land in bursts).
const COALESCE: std::time::Duration = std::time::Duration::from_secs(2);

/// Asks for a look at the budget soon, off the watcher's thread (it plans a
/// scan); requests that come while one waits are served by it.
pub fn request_budget<R: Runtime>(app: &AppHandle<R>) {
    static WAITING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let app = app.clone();
    crate::coalesce::soon(&WAITING, COALESCE, move || follow_budget(&app));
}

/// After a change of the cache: applies the budget when the settings say
/// "automatically" and the cache is over it, then tells the page.
pub fn follow_budget<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let auto =
        SettingsView::read(&state.place().location, &state.env).is_ok_and(|v| v.keep_under_auto);
    if !auto || state.place_to_write().is_err() {
        return;
    }
    if let Ok(Some(plan)) = over_budget(&state) {
        if !plan.repos.is_empty() && execute_budget(&state.cache_dir(), &plan).is_ok() {
            state.place().live.invalidate();
            let _ = app.emit("budget-applied", &plan);
        }
    }
}
