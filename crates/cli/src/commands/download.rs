//! `haid-models download ID`: progress bars on stderr, or NDJSON events on
//! stdout with `--json`, ending in `{"event":"done", …}`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use haid_models::cache::RepoId;
use haid_models::download::{self, DownloadEvent, DownloadRequest, EventSink, Hub, HubConfig};
use haid_models::env::Env;
use haid_models::location::CacheLocation;
use haid_models::{Error, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::output;
use crate::GlobalArgs;

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The model id on the hub, e.g. BAAI/bge-large-en-v1.5.
    id: String,
    /// A branch, tag or commit hash.
    #[arg(long, default_value = "main")]
    revision: String,
    /// Only files matching this glob (repeatable), e.g. "*.json".
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Skip files matching this glob (repeatable), e.g. "*.onnx".
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
}

pub fn run(global: &GlobalArgs, args: &DownloadArgs) -> Result<()> {
    // Validated before anything else, so a bad id never reaches the network.
    let repo = RepoId::model(&args.id)?;
    let env = Env::from_process();
    let loc = CacheLocation::from_system(global.cache_dir.as_deref())?;
    let hub = Hub::new(HubConfig::load(&env, &loc)?, &loc.cache_dir)?;
    let req = DownloadRequest {
        repo,
        revision: args.revision.clone(),
        include: args.include.clone(),
        exclude: args.exclude.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start", "the async runtime", e))?;
    let bars = (!global.json).then(Bars::new);
    let sink: EventSink = match &bars {
        Some(bars) => bars.sink(),
        None => Arc::new(|event| output::print_json_line(&event)),
    };
    let result = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let on_ctrl_c = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_ctrl_c.cancel();
            }
        });
        download::download(
            &loc.cache_dir,
            &hub,
            &req,
            sink,
            &cancel,
            download::DEFAULT_FILE_CONCURRENCY,
        )
        .await
    });
    if let Some(bars) = &bars {
        bars.clear();
    }
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            if global.json {
                output::print_json_line(
                    &serde_json::json!({"event": "error", "kind": e.kind(), "message": e.to_string()}),
                );
            }
            return Err(e);
        }
    };
    if !global.json {
        eprintln!(
            "Downloaded {} ({}) at {}\n  {}",
            outcome.repo_id,
            output::size(outcome.size_on_disk),
            &outcome.commit_hash[..outcome.commit_hash.len().min(12)],
            outcome.snapshot_path.display()
        );
    }
    Ok(())
}

/// indicatif bars on stderr: one for the model, one per file in flight.
struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    files: Arc<Mutex<HashMap<String, ProgressBar>>>,
}

impl Bars {
    fn new() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let total = multi.add(ProgressBar::new(0));
        total.set_style(
            ProgressStyle::with_template(
                "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        total.enable_steady_tick(Duration::from_millis(250));
        Self {
            multi,
            total,
            files: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn sink(&self) -> EventSink {
        let (multi, total, files) = (self.multi.clone(), self.total.clone(), self.files.clone());
        Arc::new(move |event| {
            let Ok(mut files) = files.lock() else { return };
            match event {
                DownloadEvent::Resolved {
                    repo_id,
                    total_bytes,
                    present_bytes,
                    ..
                } => {
                    total.set_message(repo_id);
                    total.set_length(total_bytes);
                    total.set_position(present_bytes);
                    total.reset_eta();
                }
                DownloadEvent::Progress {
                    bytes,
                    files: in_flight,
                    ..
                } => {
                    total.set_position(bytes);
                    for f in in_flight {
                        let bar = files
                            .entry(f.path.clone())
                            .or_insert_with(|| file_bar(&multi, &f.path, f.total));
                        bar.set_position(f.bytes);
                    }
                }
                DownloadEvent::FileDone { path, .. } => {
                    if let Some(bar) = files.remove(&path) {
                        bar.finish_and_clear();
                        multi.remove(&bar);
                    }
                }
                DownloadEvent::Waiting { path, reason, .. } => {
                    let _ = multi.println(format!("waiting for {path}: {reason}"));
                }
                DownloadEvent::Retrying {
                    path,
                    message,
                    delay_ms,
                    ..
                } => {
                    let _ = multi.println(format!(
                        "{path}: {message}; retrying in {:.1} s",
                        delay_ms as f64 / 1000.0
                    ));
                }
                DownloadEvent::Done { .. } => total.finish(),
            }
        })
    }

    fn clear(&self) {
        if let Ok(mut files) = self.files.lock() {
            files.drain().for_each(|(_, bar)| bar.finish_and_clear());
        }
        self.total.finish_and_clear();
        let _ = self.multi.clear();
    }
}

fn file_bar(multi: &MultiProgress, path: &str, total: u64) -> ProgressBar {
    let bar = multi.add(ProgressBar::new(total));
    bar.set_style(
        ProgressStyle::with_template("  {msg:28!} [{bar:30}] {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(path.to_owned());
    bar
}
