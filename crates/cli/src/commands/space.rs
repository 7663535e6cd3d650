//! `haid-models space`: where the space goes (each repo by size, unfinished
//! downloads, what prune frees, the free space, the rest of the HF home).
//! `haid-models clear-xet`: empties huggingface_hub's xet chunk cache.

use std::path::PathBuf;

use clap::Args;
use haid_models::cache::space::{clear_xet, space, SharedSpace, XET};
use haid_models::Result;

use crate::confirm::confirm;
use crate::context::Context;
use crate::output;

#[derive(Debug, Args)]
pub struct SpaceArgs {
    /// A manifest merged over the bundled one (else HAID_MODELS_MANIFEST).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClearXetArgs {
    /// Say what would be freed; delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

pub fn run(ctx: &Context, args: &SpaceArgs) -> Result<()> {
    let manifest = ctx.manifest(args.manifest.as_deref())?;
    let report = space(ctx.location()?, &manifest)?;
    if ctx.json {
        return output::print_json(&report);
    }
    let free = report.free_bytes.map_or("unknown".to_owned(), output::size);
    println!(
        "Cache {}: {} ({} unfinished downloads, {} that prune frees); {free} free",
        report.cache_dir.display(),
        output::size(report.cache_bytes),
        output::size(report.incomplete_bytes),
        output::size(report.prunable_bytes),
    );
    let mut table = output::table(&["ID", "TYPE", "MANIFEST", "SIZE", "SHARED"], &[3, 4]);
    for r in &report.repos {
        table.add_row(vec![
            output::terminal_safe(&r.id).into_owned(),
            output::terminal_safe(&r.model_type).into_owned(),
            if r.in_manifest { "yes" } else { "" }.to_owned(),
            output::size(r.size_on_disk),
            if r.shared_bytes > 0 {
                output::size(r.shared_bytes)
            } else {
                String::new()
            },
        ]);
    }
    output::print_table(&table)?;
    print_shared(&report.shared);
    println!("\nHF home {}:", report.hf_home.display());
    for f in &report.home {
        let hint = if f.clearable {
            "  (a cache: `haid-models clear-xet` empties it)"
        } else {
            ""
        };
        println!(
            "  {:<20} {:>10}{hint}",
            output::terminal_safe(&f.name),
            output::size(f.bytes)
        );
    }
    Ok(())
}

/// huggingface_hub 2.5's shared files: each once, with the models sharing it
/// (their SIZE above counts it in full, as `hf cache ls` does).
fn print_shared(shared: &[SharedSpace]) {
    if shared.is_empty() {
        return;
    }
    let total: u64 = shared.iter().map(|s| s.bytes).sum();
    println!(
        "\nStored once in the shared store ({} in {} file(s); each model's SIZE counts them in full):",
        output::size(total),
        shared.len()
    );
    for s in shared {
        let by = if s.repos.is_empty() {
            "no model (prune frees it)".to_owned()
        } else {
            s.repos
                .iter()
                .map(|r| output::terminal_safe(r))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("  {:>10}  {}…  {by}", output::size(s.bytes), &s.hash[..12]);
    }
}

pub fn clear(ctx: &Context, args: &ClearXetArgs) -> Result<()> {
    let hf_home = &ctx.location()?.hf_home;
    let xet = hf_home.join(XET);
    let bytes = haid_models::cache::safe_fs::size_of(&xet);
    let report = |freed: u64, dry_run: bool| {
        if ctx.json {
            output::print_json(
                &serde_json::json!({"path": xet, "freed_bytes": freed, "dry_run": dry_run}),
            )
        } else {
            Ok(())
        }
    };
    if args.dry_run || bytes == 0 {
        if !ctx.json {
            eprintln!("{} holds {}.", xet.display(), output::size(bytes));
        }
        return report(bytes, args.dry_run);
    }
    let question = format!(
        "Empty {} ({})? It is huggingface_hub's chunk cache; Xet downloads refill it.",
        xet.display(),
        output::size(bytes)
    );
    if !confirm(&question, args.yes)? {
        eprintln!("Nothing was deleted.");
        return Ok(());
    }
    let freed = clear_xet(hf_home)?;
    if !ctx.json {
        eprintln!("Emptied {}; {} freed.", xet.display(), output::size(freed));
    }
    report(freed, false)
}
