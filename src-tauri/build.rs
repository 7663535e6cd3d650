//! Declares our commands to Tauri's access control: only those listed here
//! exist for the page, and capabilities/default.json grants them to the
//! main window alone.

const COMMANDS: &[&str] = &[
    "list_models",
    "cache_info",
    "download_model",
    "cancel_download",
    "delete_plan",
    "delete_model",
    "prune_plan",
    "prune",
    "verify_model",
    "open_folder",
    "get_settings",
    "set_settings",
    "tray_status",
    "add_model",
    "ui_ready",
    "migration_plan",
    "migrate",
    "sync_models",
    "updates",
    "check_updates",
    "update_model",
    "space_report",
    "clear_xet",
    "budget_plan",
    "apply_budget",
    "move_plan",
    "move_cache",
    "export_models",
    "import_archive",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri build script: {e:#}");
    }
}
