//! `haid-models migrate [--from DIR] [--dry-run]`: the old per-service model
//! folders into the cache. The plan (with `--dry-run`) as a table or one JSON
//! object; the run as lines on stderr, or NDJSON events with `--json`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use comfy_table::Cell;
use haid_models::env::Env;
use haid_models::migrate::{
    self, Method, MigrateEvent, MigrateOptions, MigrateSink, MigrationPlan, ModelOutcome, OldFolder,
};
use haid_models::{Error, Result};

use crate::context::Context;
use crate::output;
use crate::stdout::{outln, Stream};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The old data folder, with embedding/models/… and image-caption/…; it
    /// must exist. [default: HAID_DATA_DIR, else the platform data folder's
    /// haid/; when that is not there, there is nothing to migrate]
    #[arg(long, value_name = "DIR")]
    from: Option<PathBuf>,
    /// Print the plan (each model, source, target, bytes, move or copy) and touch nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Test hook: abort (as a SIGKILL would) after this many files reached the
/// cache, so tests can check that a rerun finishes a cut-short migration.
const CRASH_AFTER: &str = "HAID_MIGRATE_CRASH_AFTER";

pub fn run(ctx: &Context, args: &MigrateArgs) -> Result<()> {
    let loc = ctx.location()?;
    let from = match &args.from {
        Some(dir) => OldFolder::Named(dir),
        None => OldFolder::Usual(&loc.data_dir),
    };
    let plan = migrate::plan(from, &loc.cache_dir)?;
    if args.dry_run {
        return print_plan(ctx, &plan);
    }
    // The migration does not stop when stdout's reader goes away: a model
    // half moved is safe (the journal) but a finished one is better. Only
    // the events stop, and a broken pipe then ends the command quietly.
    let stream = Stream::new(tokio_util::sync::CancellationToken::new());
    if let Some(nothing) = plan.nothing_to_migrate() {
        eprintln!("{nothing}");
        finish(ctx, &[], &stream);
        return stream.result();
    }
    let options = MigrateOptions::from_config(ctx.hub_config()?, &loc.cache_dir)?;
    let sink = sink(ctx.json, &ctx.env, stream.clone());
    let outcomes = ctx.block_on(migrate::run(&plan, &options, sink))??;
    finish(ctx, &outcomes, &stream);
    // Files left behind are a failure whether or not anyone still reads stdout.
    if outcomes.iter().any(|o| !o.source_removed) {
        return Err(Error::MigrationIncomplete {
            from: plan.from.clone(),
            reason: "some files were not migrated (see above); they are still in the old folder"
                .into(),
        });
    }
    stream.result()
}

fn sink(json: bool, env: &Env, stream: Stream) -> MigrateSink {
    let crash_after: Option<usize> = env.get(CRASH_AFTER).and_then(|v| v.parse().ok());
    let files = std::sync::atomic::AtomicUsize::new(0);
    Arc::new(move |event| {
        if json {
            stream.json_line(&event);
        } else {
            say(&event);
        }
        if let MigrateEvent::File { .. } = event {
            let n = files.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if crash_after == Some(n) {
                std::process::abort();
            }
        }
    })
}

fn say(event: &MigrateEvent) {
    match event {
        MigrateEvent::Started {
            repo_id,
            bytes,
            files,
        } => {
            eprintln!("{repo_id}: {files} files, {}", output::size(*bytes))
        }
        MigrateEvent::File { .. } => {}
        MigrateEvent::Model { outcome, error } => {
            if let Some(e) = error {
                eprintln!("  failed: {e}; its files stay where they were");
            }
            say_outcome(outcome);
        }
    }
}

fn say_outcome(o: &ModelOutcome) {
    if let Some(commit) = &o.commit {
        let how = if o.local_commit {
            "local commit, not checked with the hub"
        } else if o.checked_with_hub {
            "checked with the hub"
        } else {
            "checked against the blob names"
        };
        eprintln!(
            "  {} files in the cache ({}), commit {commit} ({how})",
            o.files,
            output::size(o.bytes)
        );
    }
    for p in &o.problems {
        eprintln!("  not migrated: {}: {}", p.path.display(), p.reason);
    }
    if let Some(advice) = &o.advice {
        eprintln!("  advice: {advice}");
    }
}

/// With `--json`, one last line: `{"event":"done","models":N,"complete":N}`.
fn finish(ctx: &Context, outcomes: &[ModelOutcome], stream: &Stream) {
    let complete = outcomes.iter().filter(|o| o.source_removed).count();
    if ctx.json {
        stream.json_line(&serde_json::json!({
            "event": "done",
            "models": outcomes.len(),
            "complete": complete,
        }));
    } else if !outcomes.is_empty() {
        eprintln!("Migrated {complete} of {} models.", outcomes.len());
    }
}

fn print_plan(ctx: &Context, plan: &MigrationPlan) -> Result<()> {
    if ctx.json {
        return output::print_json(plan);
    }
    output::warnings(&plan.warnings);
    if let Some(nothing) = plan.nothing_to_migrate() {
        return outln!("{nothing}");
    }
    let mut table = output::table(&["MODEL", "FROM", "TO", "SIZE", "HOW"], &[3]);
    for m in &plan.models {
        let how = match m.method {
            Method::Move => "move",
            Method::Copy => "copy",
        };
        table.add_row(vec![
            Cell::new(m.repo.id()),
            Cell::new(m.source.display()),
            Cell::new(m.target.display()),
            Cell::new(output::size(m.bytes)),
            Cell::new(how),
        ]);
    }
    output::print_table(&table)?;
    outln!(
        "{} models, {} — nothing was changed (dry run).",
        plan.models.len(),
        output::size(plan.bytes())
    )
}
