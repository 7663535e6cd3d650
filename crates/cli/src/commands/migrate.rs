//! `haid-models migrate [--from DIR] [--dry-run]`: the old per-service model
//! folders into the cache. The plan (with `--dry-run`) as a table or one JSON
//! object; the run as lines on stderr, or NDJSON events with `--json`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use comfy_table::Cell;
use haid_models::download::HubConfig;
use haid_models::env::Env;
use haid_models::location::CacheLocation;
use haid_models::migrate::{
    self, Method, MigrateEvent, MigrateOptions, MigrateSink, MigrationPlan, ModelOutcome,
};
use haid_models::{Error, Result};

use crate::output;
use crate::stdout::{outln, Stream};
use crate::GlobalArgs;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The old data folder, with embedding/models/… and image-caption/…
    /// [default: HAID_DATA_DIR, else the platform data folder's haid/]
    #[arg(long, value_name = "DIR")]
    from: Option<PathBuf>,
    /// Print the plan (each model, source, target, bytes, move or copy) and touch nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Test hook: abort (as a SIGKILL would) after this many files reached the
/// cache, so tests can check that a rerun finishes a cut-short migration.
const CRASH_AFTER: &str = "HAID_MIGRATE_CRASH_AFTER";

pub fn run(global: &GlobalArgs, args: &MigrateArgs) -> Result<()> {
    let env = Env::from_process();
    let loc = CacheLocation::from_system(global.cache_dir.as_deref())?;
    let from = args.from.clone().unwrap_or_else(|| loc.data_dir.clone());
    let plan = migrate::detect(&from, &loc.cache_dir)?;
    if args.dry_run {
        return print_plan(global, &plan);
    }
    // The migration does not stop when stdout's reader goes away: a model
    // half moved is safe (the journal) but a finished one is better. Only
    // the events stop, and a broken pipe then ends the command quietly.
    let stream = Stream::new(tokio_util::sync::CancellationToken::new());
    if plan.models.is_empty() {
        eprintln!("Nothing to migrate under {}.", from.display());
        finish(global, &[], &stream);
        return stream.result();
    }
    let options = MigrateOptions::from_config(HubConfig::load(&env, &loc)?, &loc.cache_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start", "the async runtime", e))?;
    let sink = sink(global.json, &env, stream.clone());
    let outcomes = runtime.block_on(migrate::run(&plan, &options, sink))?;
    finish(global, &outcomes, &stream);
    // Files left behind are a failure whether or not anyone still reads stdout.
    if outcomes.iter().any(|o| !o.source_removed) {
        return Err(Error::InvalidArgument {
            what: "migration",
            value: from.display().to_string(),
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
fn finish(global: &GlobalArgs, outcomes: &[ModelOutcome], stream: &Stream) {
    let complete = outcomes.iter().filter(|o| o.source_removed).count();
    if global.json {
        stream.json_line(&serde_json::json!({
            "event": "done",
            "models": outcomes.len(),
            "complete": complete,
        }));
    } else if !outcomes.is_empty() {
        eprintln!("Migrated {complete} of {} models.", outcomes.len());
    }
}

fn print_plan(global: &GlobalArgs, plan: &MigrationPlan) -> Result<()> {
    if global.json {
        return output::print_json(plan);
    }
    output::warnings(&plan.warnings);
    if plan.models.is_empty() {
        return outln!("Nothing to migrate under {}.", plan.from.display());
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
