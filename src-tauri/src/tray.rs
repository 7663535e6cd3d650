//! The tray icon and its menu: a quick status ("4 of 5 models ready · 2.7 GB"),
//! "Open HAID Models" and "Quit", kept up to date by the watcher.

use haid_models::cache::scan_cache;
use haid_models::status::{model_list, ModelState};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager};

use crate::state::AppState;

const TRAY_ID: &str = "main";

pub fn create(app: &AppHandle) -> tauri::Result<TrayIcon> {
    let icon = tauri::image::Image::from_bytes(include_bytes!("../icons/tray.png"))?;
    let tray = TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon)
        .tooltip("HAID Models")
        .menu(&menu(app)?)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => show_main(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    Ok(tray)
}

pub fn show_main(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// The status line: models of the manifest that are ready, and the disk they take.
pub fn status_line(app: &AppHandle) -> String {
    let state = app.state::<AppState>();
    let Ok(report) = scan_cache(&state.cache_dir()) else {
        return "Cache unreadable".into();
    };
    let list = model_list(&state.manifest, &report, &state.manager.active());
    let wanted: Vec<_> = list
        .groups
        .iter()
        .filter(|g| g.model_type != "other")
        .flat_map(|g| &g.models)
        .collect();
    let ready = wanted
        .iter()
        .filter(|m| m.state == ModelState::Downloaded)
        .count();
    let gb = list.size_on_disk as f64 / 1e9;
    format!("{ready} of {} models ready · {gb:.1} GB", wanted.len())
}

fn menu(app: &AppHandle) -> tauri::Result<Menu<tauri::Wry>> {
    let status = MenuItem::with_id(app, "status", status_line(app), false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open HAID Models", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    Menu::with_items(
        app,
        &[&status, &PredefinedMenuItem::separator(app)?, &open, &quit],
    )
}

/// Rebuilds the menu with a fresh status.
pub fn refresh(app: &AppHandle) {
    if let (Some(tray), Ok(menu)) = (app.tray_by_id(TRAY_ID), menu(app)) {
        let _ = tray.set_menu(Some(menu));
    }
}
