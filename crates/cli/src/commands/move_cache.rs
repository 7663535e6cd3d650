//! `haid-models move DEST [--dry-run] [--leave-symlink]`: the whole cache to
//! another folder or disk. The plan as text (or one JSON object with
//! `--dry-run --json`); the run as a progress bar (bytes, ETA) on stderr, or
//! NDJSON events on stdout with `--json`, the last one `done` with the report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use haid_models::cache::relocate::{self, MoveEvent, MoveMethod, MovePlan, MoveReport};
use haid_models::{Error, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::context::Context;
use crate::output;
use crate::stdout::{outln, Stream};

#[derive(Debug, Args)]
pub struct MoveArgs {
    /// The new folder of the cache: empty, missing, or a cache to merge into.
    #[arg(value_name = "DEST")]
    dest: PathBuf,
    /// Print the plan (bytes, files, free space, rename or copy) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Leave a symlink to DEST at the old path, so tools that read HF_HOME or
    /// HF_HUB_CACHE keep working (needed when one of them chose the cache).
    #[arg(long)]
    leave_symlink: bool,
}

/// Test hook: abort (as a SIGKILL would) after this many steps that change
/// the disk, so tests can check that a rerun finishes a cut-short move.
const CRASH_AFTER: &str = "HAID_MOVE_CRASH_AFTER";

pub fn run(ctx: &Context, args: &MoveArgs) -> Result<()> {
    let dest = absolute(ctx, &args.dest)?;
    let plan = relocate::plan_move(ctx.location()?, &dest, args.leave_symlink)?;
    if args.dry_run {
        return print_plan(ctx, &plan);
    }
    if !ctx.json {
        say_plan(&plan);
    }
    if let Some(n) = ctx.env.get(CRASH_AFTER).and_then(|v| v.parse().ok()) {
        relocate::arm_crash_after(n);
    }
    // A move is not stopped by a closed stdout: only the events stop.
    let stream = Stream::new(tokio_util::sync::CancellationToken::new());
    let bar = (!ctx.json).then(bar);
    let json = ctx.json;
    let sink = |event: &MoveEvent| {
        if json {
            stream.json_line(event);
        } else if let (
            Some(bar),
            MoveEvent::Progress {
                bytes_done,
                bytes_total,
            },
        ) = (&bar, event)
        {
            bar.set_length(*bytes_total);
            bar.set_position(*bytes_done);
        }
    };
    let report = relocate::run_move(&plan, &sink);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report?;
    if !ctx.json {
        say_done(&report);
    }
    stream.result()
}

/// DEST as given, `~` expanded, relative to the working folder.
fn absolute(ctx: &Context, dest: &Path) -> Result<PathBuf> {
    let expanded = ctx.env.expand_path(&dest.to_string_lossy(), None);
    std::path::absolute(&expanded).map_err(|e| Error::io("make absolute", dest, e))
}

fn bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
    bar.set_style(
        ProgressStyle::with_template(
            "moving [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn how(plan: &MovePlan) -> &'static str {
    match (plan.method, plan.into_existing_cache) {
        (MoveMethod::Rename, false) => "one rename (the same file system)",
        (MoveMethod::Rename, true) => "hard links into the existing cache (the same file system)",
        (MoveMethod::Copy, _) => "a checked copy (another file system), then the old copy removed",
    }
}

fn say_plan(plan: &MovePlan) {
    if plan.resuming {
        eprintln!("Finishing the interrupted move to {}.", plan.to.display());
    }
    eprintln!(
        "Moving {} ({} repos, {} files, {}) to {}: {}.",
        plan.from.display(),
        plan.repos.len(),
        plan.files,
        output::size(plan.bytes),
        plan.to.display(),
        how(plan)
    );
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
}

fn print_plan(ctx: &Context, plan: &MovePlan) -> Result<()> {
    if ctx.json {
        return output::print_json(plan);
    }
    let free = plan.free_bytes.map_or("unknown".into(), output::size);
    outln!("From  {}", plan.from.display())?;
    outln!("To    {}  ({free} free)", plan.to.display())?;
    outln!("How   {}", how(plan))?;
    outln!(
        "What  {} repos, {} files, {}; {} to write",
        plan.repos.len(),
        plan.files,
        output::size(plan.bytes),
        output::size(plan.bytes_to_copy)
    )?;
    let then = match (plan.remember, plan.leave_symlink) {
        (true, true) => "the settings name the new place; the old path becomes a link to it",
        (true, false) => "the settings name the new place",
        (false, true) => "the old path becomes a link to the new place",
        (false, false) => "nothing else (the settings are not changed)",
    };
    outln!("Then  {then}")?;
    for note in &plan.notes {
        outln!("note: {note}")?;
    }
    outln!("Nothing was changed (dry run).")
}

fn say_done(report: &MoveReport) {
    let mut line = format!(
        "Moved {} repos ({}) to {}",
        report.repos,
        output::size(report.bytes),
        report.to.display()
    );
    if report.bytes_copied > 0 {
        line.push_str(&format!(
            ", {} copied and checked",
            output::size(report.bytes_copied)
        ));
    }
    if report.remembered {
        line.push_str("; the settings name it now");
    }
    if report.symlink {
        line.push_str(&format!("; {} is a link to it", report.from.display()));
    }
    eprintln!("{line}.");
    if report.without_symlinks {
        eprintln!("That disk takes no symlinks (exFAT, FAT or a share), so each model file there is a plain copy, as huggingface_hub writes it on such a disk; a file two revisions share takes its space twice.");
    }
}
