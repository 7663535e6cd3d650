//! "Move the cache…", from the app: the plan for the dialog, then the move
//! with its progress streamed to the page. Thin over core's
//! `cache::relocate`; what the app adds is following the new place without
//! a restart: no download may run or start during the move, the old
//! place's watcher stops when the new place becomes the cache, and the app
//! then finds the cache again by the rules (the settings name it now).

use std::path::Path;

use haid_models::cache::relocate::{plan_move, run_move, MoveEvent, MovePlan, MoveReport};
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What moving the cache to `dest` would do; refusals come as errors that
/// say why (a variable chose the place, DEST is not empty, …).
#[tauri::command(async)]
pub fn move_plan<R: Runtime>(
    app: AppHandle<R>,
    dest: String,
    leave_symlink: bool,
) -> AppResult<MovePlan> {
    let state = app.state::<AppState>();
    Ok(plan_move(
        &state.place().location,
        Path::new(&dest),
        leave_symlink,
    )?)
}

/// Moves the cache to `dest`; the app follows the new place at the end.
#[tauri::command]
pub async fn move_cache<R: Runtime>(
    app: AppHandle<R>,
    dest: String,
    leave_symlink: bool,
    on_event: Channel<MoveEvent>,
) -> AppResult<MoveReport> {
    let state = app.state::<AppState>();
    let running = state.place().manager.active();
    if !running.is_empty() {
        return Err(AppError::from(haid_models::Error::Busy {
            message: format!(
                "{} downloads are running; let them finish or pause them (the tray's \"Pause all\"), then move",
                running.len()
            ),
        }));
    }
    if !state.set_moving(true) {
        return Err(AppError::from(haid_models::Error::Busy {
            message: "the cache is being moved already".into(),
        }));
    }
    let result = run(&app, dest, leave_symlink, on_event).await;
    state.set_moving(false);
    // Whatever happened, the app shows the cache the rules name now.
    let followed = state
        .follow_rules()
        .and_then(|()| crate::live::start(&app).map_err(AppError::from));
    let _ = app.emit("cache-changed", ());
    crate::tray::request_refresh(&app);
    let report = result?;
    followed?;
    Ok(report)
}

async fn run<R: Runtime>(
    app: &AppHandle<R>,
    dest: String,
    leave_symlink: bool,
    on_event: Channel<MoveEvent>,
) -> AppResult<MoveReport> {
    let location = app.state::<AppState>().place().location.clone();
    let handle = app.clone();
    let task = tauri::async_runtime::spawn_blocking(move || {
        let plan = plan_move(&location, Path::new(&dest), leave_symlink)?;
        run_move(&plan, &|event| {
            // The old place's files go next: the list must not show them going.
            if let MoveEvent::Switched { .. } = event {
                crate::live::stop(&handle);
            }
            let _ = on_event.send(event.clone());
        })
    });
    match task.await {
        Ok(result) => Ok(result?),
        Err(e) => Err(AppError::internal(e.to_string())),
    }
}
