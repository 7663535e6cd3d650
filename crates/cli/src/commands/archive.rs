//! `haid-models export ID… [--revision R] [--manifest] -o FILE`: models into
//! one tar of the cache layout, for a machine with no internet.
//! `haid-models import FILE [--dry-run]`: such an archive into the cache,
//! every blob checked, every entry outside the layout refused (exit 1).
//! A progress bar on stderr, or NDJSON on stdout with `--json`, the last
//! line `done` with the report.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use haid_models::archive::{self, ArchiveEvent, ImportReport};
use haid_models::cache::RepoId;
use haid_models::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::context::Context;
use crate::output;
use crate::stdout::Stream;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The models to export, e.g. BAAI/bge-small-en-v1.5.
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// The revision of each (a branch, tag or commit) [default: main].
    #[arg(long, value_name = "R")]
    revision: Option<String>,
    /// Every model of the manifest (bundled, the app's, HAID_MODELS_MANIFEST), at its revision.
    #[arg(long)]
    manifest: bool,
    /// With --manifest: only the models of this type, e.g. "embedding".
    #[arg(long = "type", value_name = "TYPE", requires = "manifest")]
    model_type: Option<String>,
    /// The archive to write (a .tar).
    #[arg(short = 'o', long = "output", value_name = "FILE", required = true)]
    output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The archive (`haid-models export`'s, or any tar of the cache layout).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Read and check everything, write nothing; say what would be imported.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Serialize)]
struct Done<'a, T: Serialize> {
    event: &'static str,
    #[serde(flatten)]
    report: &'a T,
}

pub fn export(ctx: &Context, args: &ExportArgs) -> Result<()> {
    let mut wanted = Vec::new();
    for id in &args.ids {
        wanted.push((RepoId::model(id)?, args.revision.clone()));
    }
    if args.manifest {
        let manifest = ctx.manifest(None)?;
        let models = haid_models::sync::wanted(&manifest, args.model_type.as_deref())?;
        wanted.extend(
            models
                .into_iter()
                .map(|(_, m)| (m.id.clone(), Some(m.revision.to_string()))),
        );
    }
    let plan = archive::plan_export(&ctx.location()?.cache_dir, &wanted)?;
    if !ctx.json {
        eprintln!(
            "Exporting {} models ({} files, {}) to {}.",
            plan.models.len(),
            plan.files,
            output::size(plan.bytes),
            args.output.display()
        );
    }
    let stream = Stream::new(tokio_util::sync::CancellationToken::new());
    let bar = (!ctx.json).then(|| bar("exporting"));
    let report = archive::export(&plan, &args.output, &sink(ctx.json, &stream, bar.as_ref()));
    finish(bar);
    let report = report?;
    if ctx.json {
        stream.json_line(&Done {
            event: "done",
            report: &report,
        });
    } else {
        eprintln!(
            "Wrote {} ({}): {} models, every blob checked against its name.",
            report.file.display(),
            output::size(report.archive_bytes),
            report.models.len()
        );
    }
    stream.result()
}

pub fn import(ctx: &Context, args: &ImportArgs) -> Result<()> {
    let stream = Stream::new(tokio_util::sync::CancellationToken::new());
    let bar = (!ctx.json).then(|| {
        bar(if args.dry_run {
            "checking"
        } else {
            "importing"
        })
    });
    let cache_dir = &ctx.location()?.cache_dir;
    let options = archive::ImportOptions {
        dry_run: args.dry_run,
        disable_symlinks: ctx.hub_config()?.disable_symlinks,
    };
    let report = archive::import_file(
        cache_dir,
        &args.file,
        options,
        &sink(ctx.json, &stream, bar.as_ref()),
    );
    finish(bar);
    let report = report?;
    if ctx.json {
        stream.json_line(&Done {
            event: "done",
            report: &report,
        });
    } else {
        say_import(&report);
    }
    stream.result()?;
    report.verdict(&args.file)
}

fn sink<'a>(
    json: bool,
    stream: &'a Stream,
    bar: Option<&'a ProgressBar>,
) -> impl Fn(&ArchiveEvent) + Send + Sync + 'a {
    move |event| match (json, bar, event) {
        (true, _, e) => stream.json_line(e),
        (
            false,
            Some(bar),
            ArchiveEvent::Progress {
                bytes_done,
                bytes_total,
            },
        ) => {
            bar.set_length(*bytes_total);
            bar.set_position(*bytes_done);
        }
        (false, Some(bar), ArchiveEvent::Model { repo_id }) => {
            bar.set_message(output::terminal_safe(repo_id).into_owned())
        }
        _ => {}
    }
}

fn bar(what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
    let template = format!(
        "{what} [{{bar:30}}] {{bytes}}/{{total_bytes}} {{bytes_per_sec}} ETA {{eta}} {{msg}}"
    );
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn finish(bar: Option<ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

fn say_import(r: &ImportReport) {
    let verb = if r.dry_run {
        "Would import"
    } else {
        "Imported"
    };
    eprintln!(
        "{verb} {} models: {} blobs added ({}), {} already in the cache.",
        r.models.len(),
        r.blobs_added,
        output::size(r.bytes_written),
        r.blobs_present
    );
    for x in &r.refused {
        eprintln!("  refused {}: {}", output::terminal_safe(&x.path), x.reason);
    }
    for x in &r.damaged {
        eprintln!("  damaged {}: {}", output::terminal_safe(&x.path), x.reason);
    }
    for note in &r.notes {
        eprintln!("  note: {}", output::terminal_safe(note));
    }
}
