//! HAID Models, the desktop app: a thin Tauri shell over `haid_models`.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod error;
mod live;
mod state;
mod tray;

use tauri::{Manager, WindowEvent};

const HELP: &str = "HAID Models — see and control the Hugging Face model cache.

Usage: haid-models-desktop [--help | --version]

Starts the desktop app. The command-line tool with the same powers is `haid-models`.
The cache is found as `haid-models where` tells (HF_HUB_CACHE, HF_HOME, settings, …).";

fn main() {
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
    let state = match state::AppState::from_env() {
        Ok(state) => state,
        Err(e) => {
            eprintln!("error: {}", e.message);
            std::process::exit(1);
        }
    };
    let cache_dir = state.cache_dir();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tray::show_main(app)
        }))
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::list_models,
            commands::cache_info,
            commands::download_model,
            commands::cancel_download,
            commands::delete_plan,
            commands::delete_model,
            commands::prune_plan,
            commands::prune,
            commands::verify_model,
            commands::open_folder,
            commands::get_settings,
            commands::set_settings,
        ])
        .setup(move |app| {
            tray::create(app.handle())?;
            let watcher = live::start(app.handle(), cache_dir)?;
            app.manage(watcher);
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps the app (and its downloads) in the tray.
            if let WindowEvent::CloseRequested { api, .. } = event {
                let _ = window.hide();
                api.prevent_close();
            }
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error: the window could not start: {e}. With no display, run it under `xvfb-run -a`, or use the `haid-models` CLI.");
        std::process::exit(1);
    }
}
