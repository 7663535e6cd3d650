//! The main window's life. Closing it destroys the web view but keeps the app
//! running in the tray (watcher, downloads, notifications); "Open HAID
//! Models", or a second launch, builds it again from the config.
//!
//! Destroyed rather than hidden: with 2,000 models listed the web view's own
//! process holds some 400 MB, and an app that sits in the tray all day should
//! not keep that for a window nobody sees. Opening it again takes about as
//! long as a start (~1 s).

use std::sync::atomic::{AtomicU64, Ordering};

use tauri::{AppHandle, Manager, Runtime, Window, WindowEvent};

pub const MAIN: &str = "main";

/// Counts the pages that have gone: a download keeps sending its progress
/// through the channel of the page that started it while that page lives,
/// and as `download-event` (which every page listens to) once it is gone.
#[derive(Debug, Default)]
pub struct PageGeneration(AtomicU64);

impl PageGeneration {
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn page_gone(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// For `Builder::on_window_event`.
pub fn on_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    if matches!(event, WindowEvent::Destroyed) && window.label() == MAIN {
        if let Some(generation) = window.app_handle().try_state::<PageGeneration>() {
            generation.page_gone();
        }
        crate::memory::trim_soon();
    }
}

/// Whether the app stays when asked to exit: yes when its last window closed
/// (no exit code), no for "Quit" (which gives one).
pub fn keep_running(exit_code: Option<i32>) -> bool {
    exit_code.is_none()
}

/// Shows the main window, building it again if it was closed.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    } else if let Err(e) = open_main(app) {
        eprintln!("error: the window could not open again: {e}");
    }
}

fn open_main<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned()
        .ok_or_else(|| tauri::Error::WindowNotFound)?;
    let window = tauri::WebviewWindowBuilder::from_config(app, &config)?.build()?;
    window.set_focus()
}
