//! `haid-models delete ID [--revision HASH]…` and `haid-models prune`.

use std::path::PathBuf;

use clap::Args;
use haid_models::cache::budget::{execute_budget, plan_budget};
use haid_models::cache::delete::{execute_delete, plan_delete};
use haid_models::cache::prune::{execute_prune, plan_prune};
use haid_models::cache::RepoId;
use haid_models::Result;
use serde::Serialize;

use crate::confirm::confirm;
use crate::context::Context;
use crate::output::{self, print_json};

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The model id, e.g. BAAI/bge-large-en-v1.5.
    id: String,
    /// Only this revision (a commit hash or its first characters); repeatable.
    #[arg(long, value_name = "HASH")]
    revision: Vec<String>,
    /// Show what would be deleted and the bytes freed; delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Show what would be deleted and the bytes freed; delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Then remove repos no manifest names, least recently used first, until
    /// the cache is under SIZE (50GB, 800MB, 123B; decimal units, as hf's).
    #[arg(long, value_name = "SIZE", value_parser = haid_models::query::parse_size)]
    keep_under: Option<u64>,
    /// A manifest merged over the bundled one (else HAID_MODELS_MANIFEST): its models are kept.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
}

/// The JSON answer of delete and prune.
#[derive(Debug, Serialize)]
struct Outcome<'a, T: Serialize> {
    deleted: &'a [PathBuf],
    freed_bytes: u64,
    dry_run: bool,
    #[serde(flatten)]
    detail: T,
}

/// Kills the run after the N-th change to the shared store, for the tests
/// that check a kill at every step loses nothing (`shared_store::crash`).
pub const STORE_CRASH_AFTER: &str = "HAID_STORE_CRASH_AFTER";

/// Arms [`STORE_CRASH_AFTER`] when it is set.
pub fn arm_store_crash(ctx: &Context) {
    if let Some(n) = ctx.env.get(STORE_CRASH_AFTER).and_then(|v| v.parse().ok()) {
        haid_models::cache::shared_store::crash::arm_crash_after(n);
    }
}

pub fn delete(ctx: &Context, args: &DeleteArgs) -> Result<()> {
    arm_store_crash(ctx);
    let repo = RepoId::model(&args.id)?;
    let loc = ctx.location()?;
    let plan = plan_delete(&loc.cache_dir, &repo, &args.revision)?;
    let what = if plan.whole_repo && plan.revisions.is_empty() {
        // Only the trash an earlier delete could not finish is left.
        format!("what an unfinished delete of {repo} left")
    } else if plan.whole_repo {
        format!("{repo} (all {} revision(s))", plan.revisions.len())
    } else {
        format!("{} revision(s) of {repo}", plan.revisions.len())
    };
    let detail = DeleteDetail {
        repo: &plan.repo,
        whole_repo: plan.whole_repo,
        revisions: &plan.revisions,
    };
    finish(
        ctx,
        args.dry_run,
        args.yes,
        &what,
        &plan.deleted,
        plan.freed_bytes,
        &detail,
        || execute_delete(&loc.cache_dir, &plan),
    )
}

pub fn prune(ctx: &Context, args: &PruneArgs) -> Result<()> {
    arm_store_crash(ctx);
    if let Some(limit) = args.keep_under {
        return keep_under(ctx, args, limit);
    }
    let loc = ctx.location()?;
    let plan = plan_prune(&loc.cache_dir)?;
    if !ctx.json {
        // Repos with a broken ref, or a download running: what is left alone, and why.
        for s in &plan.skipped {
            eprintln!("warning: {}: {}", s.path.display(), s.message);
        }
    }
    let what = format!(
        "{} detached revision(s), {} unreferenced blob(s), {} blob(s) already copied into \
         their snapshots, {} unfinished download(s), {} stale temp file(s), {} unfinished delete(s), \
         {} unreferenced shared blob(s)",
        plan.revisions
            .iter()
            .map(|r| r.revisions.len())
            .sum::<usize>(),
        plan.orphan_blobs.len(),
        plan.stray_blobs.len(),
        plan.incomplete.len(),
        plan.temp_files.len(),
        plan.trash.len(),
        plan.shared_payloads.len()
    );
    let detail = PruneDetail {
        revisions: plan
            .revisions
            .iter()
            .flat_map(|r| {
                r.revisions.iter().map(move |h| PrunedRevision {
                    repo: &r.repo,
                    commit_hash: h,
                })
            })
            .collect(),
        orphan_blobs: &plan.orphan_blobs,
        stray_blobs: &plan.stray_blobs,
        incomplete: &plan.incomplete,
        temp_files: &plan.temp_files,
        trash: &plan.trash,
        shared_payloads: &plan.shared_payloads,
        skipped: &plan.skipped,
    };
    finish(
        ctx,
        args.dry_run,
        args.yes,
        &what,
        &plan.deleted,
        plan.freed_bytes,
        &detail,
        || execute_prune(&loc.cache_dir, &plan),
    )
}

/// `prune --keep-under`: the prune, then whole repos by last use.
fn keep_under(ctx: &Context, args: &PruneArgs, limit: u64) -> Result<()> {
    let manifest = ctx.manifest(args.manifest.as_deref())?;
    let loc = ctx.location()?;
    let plan = plan_budget(&loc.cache_dir, &manifest, limit)?;
    if !ctx.json {
        eprintln!(
            "The cache takes {}; the budget is {}.",
            output::size(plan.size_before),
            output::size(limit)
        );
        let now = output::now();
        for r in &plan.repos {
            eprintln!(
                "  {:<50} last used {:>12}  {:>9}",
                output::terminal_safe(&r.repo.id()),
                output::ago(r.last_accessed, now),
                output::size(r.size_on_disk)
            );
        }
        if !plan.fits {
            eprintln!(
                "warning: the cache stays at {}, over the budget: what is left are manifest models and downloads running",
                output::size(plan.size_after)
            );
        }
    }
    let mut deleted = plan.prune.deleted.clone();
    deleted.extend(
        plan.repos
            .iter()
            .flat_map(|r| r.delete.deleted.iter().cloned()),
    );
    let freed = plan.size_before - plan.size_after;
    let what = format!(
        "the usual prune and {} repo(s) no manifest names",
        plan.repos.len()
    );
    finish(
        ctx,
        args.dry_run,
        args.yes,
        &what,
        &deleted,
        freed,
        &plan,
        || execute_budget(&loc.cache_dir, &plan),
    )
}

#[derive(Debug, Serialize)]
struct DeleteDetail<'a> {
    #[serde(flatten)]
    repo: &'a RepoId,
    whole_repo: bool,
    revisions: &'a [String],
}

#[derive(Debug, Serialize)]
struct PruneDetail<'a> {
    revisions: Vec<PrunedRevision<'a>>,
    orphan_blobs: &'a [PathBuf],
    stray_blobs: &'a [PathBuf],
    incomplete: &'a [PathBuf],
    temp_files: &'a [PathBuf],
    trash: &'a [PathBuf],
    shared_payloads: &'a [PathBuf],
    skipped: &'a [haid_models::cache::ScanWarning],
}

#[derive(Debug, Serialize)]
struct PrunedRevision<'a> {
    #[serde(flatten)]
    repo: &'a RepoId,
    commit_hash: &'a str,
}

/// Shows the plan, asks, executes, reports — the same for delete and prune.
#[allow(clippy::too_many_arguments)]
fn finish<T: Serialize>(
    ctx: &Context,
    dry_run: bool,
    yes: bool,
    what: &str,
    deleted: &[PathBuf],
    freed: u64,
    detail: &T,
    execute: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let report = |dry_run| {
        if ctx.json {
            print_json(&Outcome {
                deleted,
                freed_bytes: freed,
                dry_run,
                detail,
            })
        } else {
            Ok(())
        }
    };
    if deleted.is_empty() {
        if !ctx.json {
            eprintln!("Nothing to delete.");
        }
        return report(dry_run);
    }
    if !ctx.json {
        eprintln!(
            "{} {what}, freeing {}:",
            if dry_run {
                "Would delete"
            } else {
                "About to delete"
            },
            output::size(freed)
        );
        for path in deleted {
            eprintln!("  {}", path.display());
        }
    }
    if dry_run {
        return report(true);
    }
    if !confirm(&format!("Delete {what} ({})?", output::size(freed)), yes)? {
        eprintln!("Nothing was deleted.");
        return Ok(());
    }
    execute()?;
    if !ctx.json {
        eprintln!("Deleted; {} freed.", output::size(freed));
    }
    report(false)
}
