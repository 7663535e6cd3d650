//! `haid-models verify ID [--revision R]`: every file re-hashed against its
//! blob name, and, when the hub answers, against the hub's listing.

use clap::Args;
use haid_models::cache::verify::{verify_local, FileVerdict, VerifyReport};
use haid_models::cache::RepoId;
use haid_models::download::{Hub, HubConfig};
use haid_models::env::Env;
use haid_models::location::CacheLocation;
use haid_models::{Error, Result};

use crate::output::print_json;
use crate::GlobalArgs;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The model id, e.g. BAAI/bge-large-en-v1.5.
    id: String,
    /// A ref (main), a commit hash or its first characters.
    #[arg(long)]
    revision: Option<String>,
}

pub fn run(global: &GlobalArgs, args: &VerifyArgs) -> Result<()> {
    let repo = RepoId::model(&args.id)?;
    let env = Env::from_process();
    let loc = CacheLocation::from_system(global.cache_dir.as_deref())?;
    let mut report = verify_local(&loc.cache_dir, &repo, args.revision.as_deref())?;
    let config = HubConfig::load(&env, &loc)?;
    if !config.offline {
        compare_with_hub(&mut report, config, &loc)?;
    }
    let printed = if global.json {
        print_json(&report)
    } else {
        print_human(&report);
        Ok(())
    };
    // The verdict is the exit status: a reader that stopped reading (a
    // broken pipe, which ends quietly with 0) must not hide damage.
    if report.ok {
        printed
    } else {
        let reason = match report.problems.as_slice() {
            [] => "some files are damaged or missing; download the model again to repair it"
                .to_owned(),
            problems => problems.join("; "),
        };
        Err(Error::InvalidArgument {
            what: "cache content of",
            value: repo.id(),
            reason,
        })
    }
}

fn compare_with_hub(
    report: &mut VerifyReport,
    config: HubConfig,
    loc: &CacheLocation,
) -> Result<()> {
    let hub = Hub::new(config, &loc.cache_dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start", "the async runtime", e))?;
    match runtime.block_on(hub.listing(&report.repo, &report.commit_hash)) {
        Ok(listing) => {
            report.compare_with_listing(&listing, true);
            report.hub = "checked".into();
        }
        Err(e) => report.hub = format!("unreachable: {e}"),
    }
    Ok(())
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
