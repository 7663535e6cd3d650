//! The tray icon and its menu: a quick status ("4 of 5 models ready · 2.7 GB"),
//! how many models have an update ("2 updates"), each running download with its percent, "Open HAID Models", "Pause all" /
//! "Resume all" and "Quit", kept up to date by the watcher and the downloads.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use haid_models::status::model_list;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

use crate::board::Board;
use crate::downloads;
use crate::state::AppState;

pub const TRAY_ID: &str = "main";

/// Changes within this time make one update of the menu.
const COALESCE: Duration = Duration::from_millis(150);

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<TrayIcon<R>> {
    let icon = tauri::image::Image::from_bytes(include_bytes!("../icons/tray.png"))?;
    let tray = TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon)
        .tooltip("HAID Models")
        // The real status needs a scan of the cache: it comes a moment later
        // (`refresh`, off the main thread), so the window is not kept waiting.
        .menu(&menu_with(app, "Reading the cache…".into())?)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" | "updates" => crate::window::show_main(app),
            "pause" => downloads::pause_all(app),
            "resume" => downloads::resume_all(app),
            "quit" => app.exit(0),
            id if id.starts_with("limit:") => limit_speed(app, id),
            _ => {}
        })
        .build(app)?;
    let listener = app.clone();
    app.state::<Board>()
        .listen(move || request_refresh(&listener));
    Ok(tray)
}

/// The status line: models of the manifest that are ready, and the disk they take.
pub fn status_line<R: Runtime>(app: &AppHandle<R>) -> String {
    let state = app.state::<AppState>();
    let Ok(report) = state.place().live.report() else {
        return "Cache unreadable".into();
    };
    let Ok(manifest) = state.manifest() else {
        return "The manifest has an error".into();
    };
    model_list(&manifest, &report, &state.place().manager.active())
        .summary()
        .to_string()
}

/// The menu's entries: (id, label, enabled). Pure, so it is tested without a tray.
pub fn entries(
    status: String,
    running: &BTreeMap<String, u8>,
    paused: usize,
    updates: usize,
) -> Vec<(String, String, bool)> {
    let mut out = vec![("status".into(), status, false)];
    if updates > 0 {
        let label = match updates {
            1 => "1 update".to_owned(),
            n => format!("{n} updates"),
        };
        // Opens the window, where each model has its Update button.
        out.push(("updates".into(), label, true));
    }
    out.extend(
        running
            .iter()
            .map(|(id, pct)| (format!("dl:{id}"), format!("↓ {id} — {pct} %"), false)),
    );
    out.push(("open".into(), "Open HAID Models".into(), true));
    if paused > 0 {
        out.push(("resume".into(), format!("Resume all ({paused})"), true));
    } else {
        out.push(("pause".into(), "Pause all".into(), !running.is_empty()));
    }
    out.push(("quit".into(), "Quit".into(), true));
    out
}

fn current_entries<R: Runtime>(app: &AppHandle<R>, status: String) -> Vec<(String, String, bool)> {
    let board = app.state::<Board>();
    let (running, paused) = board.snapshot();
    entries(status, &running, paused, board.updates())
}

/// The labels of the menu as it is now.
pub fn labels<R: Runtime>(app: &AppHandle<R>) -> Vec<String> {
    let mut labels: Vec<String> = current_entries(app, status_line(app))
        .into_iter()
        .map(|(_, label, _)| label)
        .collect();
    // The submenu sits just above "Quit", as `menu_with` puts it.
    labels.insert(labels.len().saturating_sub(1), "Limit speed".to_owned());
    labels
}

/// The speeds "Limit speed" offers, bytes per second (0: no limit).
pub const SPEEDS: [u64; 5] = [0, 1 << 20, 5 << 20, 10 << 20, 50 << 20];

/// "Limit speed"'s entries: (id, label), the current one ticked. Pure, so it is tested without a tray.
pub fn speed_choices(current: u64) -> Vec<(String, String)> {
    SPEEDS
        .iter()
        .map(|&rate| {
            let name = match rate {
                0 => "Unlimited".to_owned(),
                r => format!("{} MB/s", r >> 20),
            };
            let tick = if rate == current { "✓ " } else { "" };
            (format!("limit:{rate}"), format!("{tick}{name}"))
        })
        .collect()
}

fn menu_with<R: Runtime>(app: &AppHandle<R>, status: String) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    for (id, label, enabled) in current_entries(app, status) {
        if id == "open" {
            menu.append(&PredefinedMenuItem::separator(app)?)?;
        }
        if id == "quit" {
            menu.append(&speed_menu(app)?)?;
        }
        menu.append(&MenuItem::with_id(app, id, label, enabled, None::<&str>)?)?;
    }
    Ok(menu)
}

fn speed_menu<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Submenu<R>> {
    let current = app.state::<AppState>().place().manager.rate_limit();
    let submenu = Submenu::with_id(app, "limit", "Limit speed", true)?;
    for (id, label) in speed_choices(current) {
        submenu.append(&MenuItem::with_id(app, id, label, true, None::<&str>)?)?;
    }
    Ok(submenu)
}

/// A choice of "Limit speed": saved in the settings, applied at once to
/// every download, running ones too.
fn limit_speed<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(rate) = id
        .strip_prefix("limit:")
        .and_then(|r| r.parse::<u64>().ok())
    else {
        return;
    };
    let state = app.state::<AppState>();
    let update = haid_models::settings::SettingsUpdate {
        limit_rate: Some(rate),
        ..Default::default()
    };
    if let Ok(saved) = haid_models::settings::Settings::apply(update, &state.place().location) {
        if let Ok(config) = state.hub_config() {
            let _ = state.place().manager.follow_settings(config, &saved);
        }
    }
    request_refresh(app);
}

/// Rebuilds the menu with a fresh status.
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    if let (Some(tray), Ok(menu)) = (app.tray_by_id(TRAY_ID), menu_with(app, status_line(app))) {
        let _ = tray.set_menu(Some(menu));
    }
}

/// Asks for a refresh soon. Requests that come while one is waiting are
/// served by it (a download's events, a burst of file changes), and one that
/// comes while a refresh runs gets its own: the last change is always shown.
pub fn request_refresh<R: Runtime>(app: &AppHandle<R>) {
    static WAITING: AtomicBool = AtomicBool::new(false);
    let app = app.clone();
    crate::coalesce::soon(&WAITING, COALESCE, move || refresh(&app));
}
