//! `haid-models verify ID [--revision R]`: every file re-hashed against its
//! blob name, and, when the hub answers, against the hub's listing.

use clap::Args;
use haid_models::cache::verify::{verify, FileVerdict, VerifyReport};
use haid_models::cache::RepoId;
use haid_models::download::Hub;
use haid_models::Result;

use crate::context::Context;
use crate::output::print_json;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The model id, e.g. BAAI/bge-large-en-v1.5.
    id: String,
    /// A ref (main), a commit hash or its first characters.
    #[arg(long)]
    revision: Option<String>,
}

pub fn run(ctx: &Context, args: &VerifyArgs) -> Result<()> {
    let repo = RepoId::model(&args.id)?;
    let loc = ctx.location()?;
    let hub = Hub::new(ctx.hub_config()?, &loc.cache_dir)?;
    let revision = args.revision.as_deref();
    let report = ctx.block_on(verify(&loc.cache_dir, Some(&hub), &repo, revision))??;
    let printed = if ctx.json {
        print_json(&report)
    } else {
        print_human(&report);
        Ok(())
    };
    // The verdict is the exit status: a reader that stopped reading (a
    // broken pipe, which ends quietly with 0) must not hide damage.
    report.verdict().and(printed)
}

fn print_human(report: &VerifyReport) {
    let bad: Vec<_> = report
        .files
        .iter()
        .filter(|f| !matches!(f.verdict, FileVerdict::Ok))
        .collect();
    for f in &bad {
        let detail = match (&f.expected, &f.actual) {
            (Some(e), Some(a)) => format!(" (expected {e}, got {a})"),
            _ => String::new(),
        };
        eprintln!("  {:?}: {}{detail}", f.verdict, f.path);
    }
    for problem in &report.problems {
        eprintln!("  {problem}");
    }
    let hub = match report.hub.as_str() {
        "checked" => "and against the hub's listing".to_owned(),
        "offline" => "offline (HF_HUB_OFFLINE)".to_owned(),
        other => format!("offline only; the hub was {other}"),
    };
    if report.ok {
        eprintln!(
            "✓ {} files of {} at {} match their hashes, {hub}.",
            report.checked,
            report.repo,
            &report.commit_hash[..12.min(report.commit_hash.len())]
        );
    } else {
        eprintln!(
            "✗ {} problem(s) in {} at {} ({} files checked, {hub}).",
            bad.len() + report.problems.len(),
            report.repo,
            &report.commit_hash[..12.min(report.commit_hash.len())],
            report.checked
        );
    }
}
