//! `haid-models download ID`: progress bars on stderr, or NDJSON events on
//! stdout with `--json`, ending in `{"event":"done", …}`. Ctrl-C, SIGTERM
//! and a reader of stdout that goes away all cancel the download the same
//! way: what was downloaded is kept and the next run resumes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use haid_models::cache::{RefName, RepoId};
use haid_models::download::{self, DownloadEvent, DownloadRequest, EventSink, Hub};
use haid_models::file_set::FileSet;
use haid_models::location::CacheLocation;
use haid_models::{Error, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::output;
use crate::stdout::Stream;

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
    /// Limit the bandwidth of all downloads together, as curl's --limit-rate: 10MB, 500K (0: none).
    #[arg(long, value_name = "RATE", value_parser = haid_models::download::rate::parse_rate)]
    limit_rate: Option<u64>,
}

pub fn run(ctx: &Context, args: &DownloadArgs) -> Result<()> {
    let (loc, hub, req) = prepare(ctx, args).inspect_err(|e| {
        if ctx.json {
            // Scripts read the kind from stdout whatever failed.
            let _ = output::print_json_line(&error_event(e));
        }
    })?;
    let cancel = CancellationToken::new();
    // A failed write of an event cancels the download, which then ends as
    // after Ctrl-C; the write's error is the result (a broken pipe: exit 0).
    let stream = Stream::new(cancel.clone());
    let bars = (!ctx.json).then(Bars::new);
    let sink: EventSink = match &bars {
        Some(bars) => bars.sink(),
        None => {
            let stream = stream.clone();
            Arc::new(move |event| stream.json_line(&event))
        }
    };
    let result = ctx
        .block_on(async {
            crate::signals::cancel_on_signals(&cancel)?;
            download::download(
                &loc.cache_dir,
                &hub,
                &req,
                sink,
                &cancel,
                download::DEFAULT_FILE_CONCURRENCY,
            )
            .await
        })
        .and_then(|r| r);
    if let Some(bars) = &bars {
        bars.clear();
    }
    // Before the download's own result: after a failed write it is only
    // "cancelled", and a finished download whose `done` line could not be
    // written still ends as the write did.
    stream.result()?;
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            if ctx.json {
                // The download failed: its exit 1 stands even if this line
                // cannot be written any more.
                stream.json_line(&error_event(&e));
            }
            return Err(e);
        }
    };
    if !ctx.json {
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

/// For the kill-at-every-step test: abort at a step of the download's commit
/// (`download::crash`).
const CRASH_AT: &str = "HAID_DOWNLOAD_CRASH_AT";

/// Everything checked before the network: the id and revision first, so a
/// bad one never reaches it.
fn prepare<'a>(
    ctx: &'a Context,
    args: &DownloadArgs,
) -> Result<(&'a CacheLocation, Hub, DownloadRequest)> {
    let repo = RepoId::model(&args.id)?;
    let revision = RefName::parse(&args.revision).map_err(|reason| Error::InvalidArgument {
        what: "revision",
        value: args.revision.clone(),
        reason,
    })?;
    if let Some(spec) = ctx.env.get(CRASH_AT) {
        if !download::crash::arm(spec) {
            return Err(Error::InvalidArgument {
                what: CRASH_AT,
                value: spec.to_owned(),
                reason: "write it as STEP:N, STEP one of ref, listing, blob, link".into(),
            });
        }
    }
    super::delete::arm_store_crash(ctx);
    let loc = ctx.location()?;
    let hub = Hub::new(ctx.hub_config()?, &loc.cache_dir)?;
    hub.rate.set(args.limit_rate.unwrap_or(0));
    let files = FileSet::new(args.include.clone(), args.exclude.clone()).map_err(|reason| {
        Error::InvalidArgument {
            what: "--include/--exclude",
            value: [args.include.clone(), args.exclude.clone()]
                .concat()
                .join(" "),
            reason,
        }
    })?;
    let req = DownloadRequest {
        repo,
        revision,
        files,
        ref_last: false,
    };
    Ok((loc, hub, req))
}

/// The last line of a failed `download --json`.
fn error_event(e: &Error) -> serde_json::Value {
    serde_json::json!({"event": "error", "kind": e.kind(), "message": e.to_string()})
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
