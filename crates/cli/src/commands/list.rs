//! `haid-models list`: the manifest's models by type, with their state.

use std::path::PathBuf;

use clap::Args;
use haid_models::cache::scan_cache;
use haid_models::query::{Filter, SortKey};
use haid_models::status::{model_list, ModelList, ModelStatus, StatusGroup};
use haid_models::Result;

use crate::context::Context;
use crate::output::{self, print_json};
use crate::stdout::outln;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this model type (embedding, caption, …, or other).
    #[arg(long = "type", value_name = "T")]
    model_type: Option<String>,
    /// A manifest merged over the bundled one (else HAID_MODELS_MANIFEST).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Order within each type: name, size, accessed or modified (:asc/:desc).
    #[arg(long, value_name = "KEY")]
    sort: Option<SortKey>,
    /// Keep models that match, e.g. "state=downloaded", "size>1GB". Repeatable.
    #[arg(long, value_name = "EXPR")]
    filter: Vec<Filter>,
}

pub fn run(ctx: &Context, args: &ListArgs) -> Result<()> {
    let loc = ctx.location()?;
    let manifest = ctx.manifest(args.manifest.as_deref())?;
    let report = scan_cache(&loc.cache_dir)?;
    // Held blob locks: downloads by this app, another haid-models or Python.
    let downloading = haid_models::download::lock::downloading_repos(&loc.cache_dir);
    let mut list = model_list(&manifest, &report, &downloading);
    if let Some(t) = &args.model_type {
        list = list.only_type(t)?;
    }
    let now = output::now();
    for group in &mut list.groups {
        group
            .models
            .retain(|m| args.filter.iter().all(|f| f.matches(m, now)));
        if let Some(sort) = &args.sort {
            sort.sort(&mut group.models);
        }
    }
    if ctx.json {
        return print_json(&list);
    }
    print_groups(&list)
}

fn print_groups(list: &ModelList) -> Result<()> {
    outln!(
        "Cache {}: {} on disk",
        list.cache_dir.display(),
        output::size(list.size_on_disk)
    )?;
    for group in &list.groups {
        outln!("\n{}", title(group))?;
        if group.models.is_empty() {
            outln!("  (none)")?;
            continue;
        }
        let mut table = output::table(
            &["NAME", "ID", "TEAM", "DIMS", "EXPECTED", "ON DISK", "STATE"],
            &[3, 4, 5],
        );
        for m in &group.models {
            table.add_row(row(m));
        }
        output::print_table(&table)?;
    }
    output::warnings(&list.warnings);
    Ok(())
}

fn row(m: &ModelStatus) -> Vec<String> {
    let dash = || "-".to_owned();
    // Names and teams come from a manifest anyone may write: shown escaped.
    vec![
        output::terminal_safe(&m.name).into_owned(),
        m.id.clone(),
        output::terminal_safe(&m.team).into_owned(),
        m.dimensions.map_or_else(dash, |d| d.to_string()),
        m.size_mb
            .map_or_else(dash, |mb| output::size(mb * 1_000_000)),
        if m.size_on_disk == 0 {
            dash()
        } else {
            output::size(m.size_on_disk)
        },
        m.state.as_str().replace('_', " "),
    ]
}

/// "Embedding", "Caption", … and "Other models in the cache".
fn title(group: &StatusGroup) -> String {
    if group.model_type == haid_models::manifest::OTHER_GROUP {
        return "Other models in the cache".into();
    }
    let model_type = output::terminal_safe(&group.model_type);
    let mut chars = model_type.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
