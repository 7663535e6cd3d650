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

/// With no GPU (no DRM render node: Xvfb, a VM, a remote session) WebKitGTK
/// composites the page through Mesa's llvmpipe, OpenGL run on the CPU, which
/// costs more than its plain CPU painting does. Measured under Xvfb with
/// 2,000 rows (bench/app.sh, BENCHMARKS.md, issue 15): the web process 285 →
/// 189 MB resident (211 → 119 MB PSS), scrolling p50/p95 34/60 → 16/18 ms;
/// the native process +3–4 MB (it keeps the painted page). A GPU, or the
/// user's own `WEBKIT_DISABLE_COMPOSITING_MODE`, leaves WebKit's choice alone.
///
/// Sets an environment variable, which WebKit reads when the first web view
/// is made and its processes inherit: call it first thing in `main`, before
/// any thread starts.
pub fn composite_only_on_gpu() {
    #[cfg(target_os = "linux")]
    {
        const VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
        let render_node = std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        });
        if !render_node && std::env::var_os(VAR).is_none() {
            std::env::set_var(VAR, "1");
        }
    }
}
