//! HAID Models, the desktop app: a thin Tauri shell over `haid_models`.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod archives;
mod board;
mod coalesce;
mod commands;
mod downloads;
mod error;
mod live;
mod memory;
mod migration;
mod relocation;
mod space;
mod state;
mod tray;
mod updates;
mod window;

#[cfg(test)]
mod tests;

use tauri::RunEvent;

/// Every command the page may call (build.rs lists the same names for the ACL).
macro_rules! handlers {
    () => {
        tauri::generate_handler![
            $crate::commands::list_models,
            $crate::commands::cache_info,
            $crate::commands::download_model,
            $crate::commands::cancel_download,
            $crate::commands::delete_plan,
            $crate::commands::delete_model,
            $crate::commands::prune_plan,
            $crate::commands::prune,
            $crate::commands::verify_model,
            $crate::commands::open_folder,
            $crate::commands::get_settings,
            $crate::commands::set_settings,
            $crate::commands::tray_status,
            $crate::commands::add_model,
            $crate::commands::ui_ready,
            $crate::migration::migration_plan,
            $crate::migration::migrate,
            $crate::updates::sync_models,
            $crate::updates::updates,
            $crate::updates::check_updates,
            $crate::updates::update_model,
            $crate::space::space_report,
            $crate::space::clear_xet,
            $crate::space::budget_plan,
            $crate::space::apply_budget,
            $crate::relocation::move_plan,
            $crate::relocation::move_cache,
            $crate::archives::export_models,
            $crate::archives::import_archive,
        ]
    };
}
#[cfg(test)]
pub(crate) use handlers;

const HELP: &str = "HAID Models — see and control the Hugging Face model cache.

Usage: haid-models-desktop [--help | --version]

Starts the desktop app. The command-line tool with the same powers is `haid-models`.
The cache is found as `haid-models where` tells (HF_HUB_CACHE, HF_HOME, settings, …).";

static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// When the process started (for the startup timing).
pub(crate) fn started() -> std::time::Instant {
    *STARTED.get_or_init(std::time::Instant::now)
}

/// With `HAID_STARTUP_TIMING=1`, prints how long after the start `what`
/// happened (the steps of the start, for `bench/app.sh`'s measure).
/// Other marks after the first "model list shown" are not the start's and
/// are not printed; "model list shown" itself is printed each time a window
/// shows its list (a window reopened from the tray: `test-bundle.sh` waits
/// for the second one).
pub(crate) fn startup_mark(what: &str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static OVER: AtomicBool = AtomicBool::new(false);
    let shown = what == "model list shown";
    if std::env::var_os("HAID_STARTUP_TIMING").is_none() || (OVER.load(Ordering::Relaxed) && !shown)
    {
        return;
    }
    eprintln!(
        "startup: {what} {} ms after launch",
        started().elapsed().as_millis()
    );
    if shown {
        OVER.store(true, Ordering::Relaxed);
    }
}

fn main() {
    started();
    memory::few_arenas();
    // Answered before any window or display is touched.
    if let Some(arg) = std::env::args().nth(1) {
        match arg.as_str() {
            "--version" | "-V" => {
                return println!("haid-models-desktop {}", env!("CARGO_PKG_VERSION"))
            }
            "--help" | "-h" => return println!("{HELP}"),
            _ => {}
        }
    }
    window::composite_only_on_gpu();
    let state = match state::AppState::from_env() {
        Ok(state) => state,
        Err(e) => {
            eprintln!("error: {}", e.message);
            std::process::exit(1);
        }
    };
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            window::show_main(app)
        }))
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(state)
        .manage(downloads::Board::default())
        .manage(window::PageGeneration::default())
        .manage(updates::Updates::default())
        .manage(live::WatcherSlot::default())
        .invoke_handler(handlers!())
        .setup(move |app| {
            startup_mark("setup");
            tray::create(app.handle())?;
            let handle = app.handle().clone();
            std::thread::spawn(move || tray::refresh(&handle));
            live::start_when_shown(app.handle());
            updates::start_background(app.handle());
            startup_mark("set up");
            Ok(())
        })
        .on_window_event(window::on_event)
        .build(tauri::generate_context!());
    let result = result.map(|app| {
        app.run(|_, event| {
            // Closing the window keeps the app (and its downloads) in the tray.
            if let RunEvent::ExitRequested { code, api, .. } = event {
                if window::keep_running(code) {
                    api.prevent_exit();
                }
            }
        })
    });
    if let Err(e) = result {
        eprintln!("error: the window could not start: {e}. With no display, run it under `xvfb-run -a`, or use the `haid-models` CLI.");
        std::process::exit(1);
    }
}
