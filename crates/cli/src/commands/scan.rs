//! `haid-models scan`: every repo in the cache.

use clap::Args;
use haid_models::cache::{scan_cache, CacheReport};
use haid_models::query::{Filter, SortKey};
use haid_models::Result;

use crate::context::Context;
use crate::output::{self, print_json};
use crate::stdout::outln;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// One row per revision instead of per repo.
    #[arg(long)]
    revisions: bool,
    /// name, size, accessed or modified, optionally with :asc or :desc.
    #[arg(long, value_name = "KEY", default_value = "name")]
    sort: SortKey,
    /// Keep rows that match, e.g. "size>1GB", "accessed>30d", "type=model",
    /// "refs=main", "state=partial". Repeat to combine.
    #[arg(long, value_name = "EXPR")]
    filter: Vec<Filter>,
}

pub fn run(ctx: &Context, args: &ScanArgs) -> Result<()> {
    let loc = ctx.location()?;
    let mut report = scan_cache(&loc.cache_dir)?;
    let now = output::now();
    report
        .repos
        .retain(|r| args.filter.iter().all(|f| f.matches(r, now)));
    args.sort.sort(&mut report.repos);
    if ctx.json {
        return print_json(&report);
    }
    print_table(&report, args.revisions, now)
}

fn print_table(report: &CacheReport, revisions: bool, now: i64) -> Result<()> {
    let mut table = if revisions {
        output::table(
            &[
                "ID",
                "REVISION",
                "SIZE",
                "FILES",
                "STATE",
                "LAST MODIFIED",
                "REFS",
            ],
            &[2, 3],
        )
    } else {
        output::table(
            &[
                "ID",
                "SIZE",
                "FILES",
                "STATE",
                "LAST ACCESSED",
                "LAST MODIFIED",
                "REFS",
            ],
            &[1, 2],
        )
    };
    for repo in &report.repos {
        let id = format!("{}/{}", repo.repo.repo_type(), repo.repo.id());
        if revisions {
            for rev in &repo.revisions {
                table.add_row(vec![
                    id.clone(),
                    rev.commit_hash.clone(),
                    output::size(rev.size_on_disk),
                    rev.nb_files.to_string(),
                    repo.state.as_str().to_owned(),
                    output::ago(rev.last_modified, now),
                    rev.refs.join(", "),
                ]);
            }
        } else {
            table.add_row(vec![
                id,
                output::size(repo.total_size_on_disk()),
                repo.nb_files.to_string(),
                repo.state.as_str().to_owned(),
                output::ago(repo.last_accessed, now),
                output::ago(repo.last_modified, now),
                repo.refs.keys().cloned().collect::<Vec<_>>().join(", "),
            ]);
        }
    }
    if !report.repos.is_empty() {
        output::print_table(&table)?;
        outln!()?;
    }
    let unfinished = match report.incomplete_size_on_disk {
        0 => String::new(),
        n => format!(" (+ {} in unfinished downloads)", output::size(n)),
    };
    // Bytes a delete could not remove are on disk too; never hidden.
    let trash = match report.trash_size_on_disk {
        0 if report.trash.is_empty() => String::new(),
        n => format!(" (+ {} left by unfinished deletes)", output::size(n)),
    };
    outln!(
        "{} repo(s) in {}: {} on disk{unfinished}{trash}.",
        report.repos.len(),
        report.cache_dir.display(),
        output::size(report.size_on_disk),
    )?;
    output::warnings(&report.warnings);
    Ok(())
}
