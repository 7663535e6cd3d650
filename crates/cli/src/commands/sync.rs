//! `haid-models sync`: every manifest model at its revision and file set.
//! One progress bar for the whole set and a line per model on stderr, or
//! NDJSON on stdout with `--json` (each model's download events, the set's
//! `sync_progress`, `model_ready` / `model_failed`, then a `summary`).
//! `--check` reads the disk only and says what is missing. Exit 1 when a
//! model is not ready, with the list and why.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use haid_models::download::{DownloadEvent, DownloadManager, EventSink, Hub};
use haid_models::sync::{self, ModelCheck, SyncEvent, SyncReport, SyncSinks};
use haid_models::{Error, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::output;
use crate::stdout::Stream;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// A manifest merged over the bundled one (else HAID_MODELS_MANIFEST).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Only the models of this type, e.g. "embedding".
    #[arg(long = "type", value_name = "TYPE")]
    model_type: Option<String>,
    /// Say what is missing, without the network and without writing a file.
    #[arg(long)]
    check: bool,
    /// Models downloaded at once.
    #[arg(long, default_value_t = 2, value_name = "N")]
    concurrency: usize,
    /// Limit the bandwidth of all downloads together, as curl's --limit-rate: 10MB, 500K (0: none).
    #[arg(long, value_name = "RATE", value_parser = haid_models::download::rate::parse_rate)]
    limit_rate: Option<u64>,
}

pub fn run(ctx: &Context, args: &SyncArgs) -> Result<()> {
    let manifest = ctx.manifest(args.manifest.as_deref())?;
    let models = sync::wanted(&manifest, args.model_type.as_deref())?;
    let cache_dir = &ctx.location()?.cache_dir;
    if args.check {
        let checks = sync::check(cache_dir, &models)?;
        return report_check(ctx, &checks);
    }
    let hub = Hub::new(ctx.hub_config()?, cache_dir)?;
    hub.rate.set(args.limit_rate.unwrap_or(0));
    let manager = DownloadManager::new(
        cache_dir.clone(),
        hub,
        args.concurrency,
        haid_models::download::DEFAULT_FILE_CONCURRENCY,
    );
    let cancel = CancellationToken::new();
    let stream = Stream::new(cancel.clone());
    let bar = (!ctx.json).then(total_bar);
    let sinks = sinks(ctx, &stream, bar.clone());
    let report = ctx
        .block_on(async {
            crate::signals::cancel_on_signals(&cancel)?;
            sync::sync(&manager, cache_dir, &models, sinks, &cancel).await
        })
        .and_then(|r| r);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    stream.result()?;
    let report = report?;
    if ctx.json {
        stream.json_line(&Summary {
            event: "summary",
            report: &report,
        });
        stream.result()?;
    } else {
        eprintln!("{} of {} models ready", report.ready, report.models.len());
    }
    not_ready(&report)
}

/// The last NDJSON line.
#[derive(Serialize)]
struct Summary<'a> {
    event: &'static str,
    #[serde(flatten)]
    report: &'a SyncReport,
}

/// Events to NDJSON, or to the bar and a line per model.
fn sinks(ctx: &Context, stream: &Stream, bar: Option<ProgressBar>) -> SyncSinks {
    if ctx.json {
        let (a, b) = (stream.clone(), stream.clone());
        return SyncSinks {
            download: Arc::new(move |e: DownloadEvent| a.json_line(&e)),
            sync: Arc::new(move |e: SyncEvent| b.json_line(&e)),
        };
    }
    let download: EventSink = Arc::new(|_| {});
    let sync = Arc::new(move |e: SyncEvent| {
        let Some(bar) = &bar else { return };
        match e {
            SyncEvent::SyncProgress(p) => {
                bar.set_length(p.total);
                bar.set_position(p.bytes);
                bar.set_message(format!("{}/{} models", p.models_ready, p.models));
            }
            SyncEvent::ModelReady {
                repo_id,
                commit_hash,
                asked_hub,
            } => {
                let short = &commit_hash[..commit_hash.len().min(12)];
                let how = if asked_hub {
                    ""
                } else {
                    " (pinned, no request)"
                };
                bar.println(format!(
                    "ready   {} at {short}{how}",
                    output::terminal_safe(&repo_id)
                ));
            }
            SyncEvent::ModelFailed {
                repo_id, message, ..
            } => {
                let (id, why) = (
                    output::terminal_safe(&repo_id),
                    output::terminal_safe(&message),
                );
                bar.println(format!("failed  {id}: {why}"));
            }
        }
    });
    SyncSinks { download, sync }
}

fn total_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:14} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// Exit 1, naming each model that is not ready and why.
fn not_ready(report: &SyncReport) -> Result<()> {
    let names: Vec<String> = report
        .models
        .iter()
        .filter_map(|m| {
            m.error
                .as_ref()
                .map(|e| format!("{} ({})", m.id, e.message))
        })
        .collect();
    refuse_unless_empty(names)
}

fn refuse_unless_empty(names: Vec<String>) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    Err(Error::NotReady {
        count: names.len(),
        verb: if names.len() == 1 { "is" } else { "are" },
        names: names.join("; "),
    })
}

/// `sync --check`'s answer: JSON, or a table; exit 1 when one is not ready.
fn report_check(ctx: &Context, checks: &[ModelCheck]) -> Result<()> {
    let ready = checks.iter().filter(|c| c.ready).count();
    if ctx.json {
        output::print_json(&serde_json::json!({
            "ready": ready,
            "not_ready": checks.len() - ready,
            "models": checks,
        }))?;
    } else {
        let mut table = output::table(&["ID", "TYPE", "REVISION", "STATE", "MISSING"], &[4]);
        for c in checks {
            let missing = match (c.missing_files, c.missing_bytes) {
                (0, _) if c.ready => String::new(),
                (n, Some(bytes)) if n > 0 => format!("{n} files, {}", output::size(bytes)),
                _ => "everything".to_owned(),
            };
            table.add_row(vec![
                output::terminal_safe(&c.id).into_owned(),
                output::terminal_safe(&c.model_type).into_owned(),
                short(&c.revision),
                c.state.as_str().to_owned(),
                missing,
            ]);
        }
        output::print_table(&table)?;
    }
    let names = checks
        .iter()
        .filter(|c| !c.ready)
        .map(|c| format!("{} ({})", c.id, c.state.as_str()))
        .collect();
    refuse_unless_empty(names)
}

/// A commit hash as people read it; a branch or tag whole.
fn short(revision: &str) -> String {
    if revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        revision[..12].to_owned()
    } else {
        output::terminal_safe(revision).into_owned()
    }
}
