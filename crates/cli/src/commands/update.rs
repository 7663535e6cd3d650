//! `haid-models outdated`: the cached models whose branch moved on the hub,
//! with the files that changed and what an update would download.
//! `haid-models update`: fetches the new commit (only changed files travel:
//! unchanged ones are the same blobs), then moves the ref. The old revision
//! stays, detached, until `prune`; `--prune` removes it once the new one
//! verified.

use std::sync::Arc;

use clap::Args;
use haid_models::cache::RepoId;
use haid_models::download::{self, DownloadEvent, EventSink, Hub};
use haid_models::sync::outdated::{self, Followed, Outdated, OutdatedReport};
use haid_models::{Error, ErrorReport, Result};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::output;
use crate::stdout::Stream;

#[derive(Debug, Args)]
pub struct OutdatedArgs {
    /// A manifest merged over the bundled one (else HAID_MODELS_MANIFEST).
    #[arg(long, value_name = "FILE")]
    manifest: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The models to update (each must be cached and follow a branch).
    ids: Vec<String>,
    /// Every outdated model.
    #[arg(long, conflicts_with = "ids")]
    all: bool,
    /// Remove the old revision once the new one verified.
    #[arg(long)]
    prune: bool,
    /// Limit the bandwidth of all downloads together, as curl's --limit-rate: 10MB, 500K (0: none).
    #[arg(long, value_name = "RATE", value_parser = haid_models::download::rate::parse_rate)]
    limit_rate: Option<u64>,

    /// A manifest merged over the bundled one (else HAID_MODELS_MANIFEST).
    #[arg(long, value_name = "FILE")]
    manifest: Option<std::path::PathBuf>,
}

pub fn outdated(ctx: &Context, args: &OutdatedArgs) -> Result<()> {
    let (hub, followed) = prepare(ctx, args.manifest.as_deref())?;
    let report = ctx.block_on(outdated::outdated(&hub, &followed))?;
    if ctx.json {
        return output::print_json(&report);
    }
    print_outdated(&report, followed.len())
}

fn print_outdated(report: &OutdatedReport, checked: usize) -> Result<()> {
    for u in &report.unchecked {
        eprintln!(
            "warning: {} was not checked: {}",
            output::terminal_safe(&u.id),
            output::terminal_safe(&u.error.message)
        );
    }
    if report.models.is_empty() {
        eprintln!("All {checked} models that follow a branch are up to date.");
        return Ok(());
    }
    let mut table = output::table(
        &["ID", "REVISION", "LOCAL", "REMOTE", "FILES", "DOWNLOAD"],
        &[4, 5],
    );
    for m in &report.models {
        table.add_row(vec![
            output::terminal_safe(&m.id).into_owned(),
            output::terminal_safe(&m.revision).into_owned(),
            m.local_commit[..12].to_owned(),
            m.remote_commit[..12].to_owned(),
            m.changed_files.len().to_string(),
            output::size(m.download_bytes),
        ]);
    }
    output::print_table(&table)?;
    eprintln!("Run `haid-models update ID` (or `update --all`) to fetch the changed files.");
    Ok(())
}

/// The hub, and the cached models that follow a branch.
fn prepare(ctx: &Context, manifest: Option<&std::path::Path>) -> Result<(Hub, Vec<Followed>)> {
    let manifest = ctx.manifest(manifest)?;
    let cache_dir = &ctx.location()?.cache_dir;
    let hub = Hub::new(ctx.hub_config()?, cache_dir)?;
    Ok((hub, outdated::followed(cache_dir, &manifest)?))
}

/// One NDJSON line per updated model.
#[derive(Serialize)]
struct Updated<'a> {
    event: &'static str,
    id: &'a str,
    revision: &'a str,
    from: &'a str,
    to: &'a str,
    download_bytes: u64,
    old: outdated::OldRevision,
}

pub fn update(ctx: &Context, args: &UpdateArgs) -> Result<()> {
    if args.ids.is_empty() && !args.all {
        return Err(Error::InvalidArgument {
            what: "update",
            value: String::new(),
            reason: "name the models to update, or give --all (`haid-models outdated` lists them)"
                .into(),
        });
    }
    let asked: Vec<RepoId> = args
        .ids
        .iter()
        .map(|id| RepoId::model(id))
        .collect::<Result<_>>()?;
    let (hub, followed) = prepare(ctx, args.manifest.as_deref())?;
    hub.rate.set(args.limit_rate.unwrap_or(0));
    let chosen = choose(followed, &asked)?;
    let cache_dir = ctx.location()?.cache_dir.clone();
    let cancel = CancellationToken::new();
    let stream = Stream::new(cancel.clone());
    let result = ctx.block_on(async {
        crate::signals::cancel_on_signals(&cancel)?;
        let report = outdated::outdated(&hub, &chosen).await;
        let mut failed = report.unchecked.len();
        for u in &report.unchecked {
            say_failed(ctx, &stream, &u.id, &u.error);
        }
        let updater = Updater {
            cache_dir: &cache_dir,
            hub: &hub,
            prune: args.prune,
            stream: &stream,
            json: ctx.json,
            cancel: &cancel,
        };
        for m in &report.models {
            let model = chosen.iter().find(|f| f.repo.repo.id() == m.id);
            let Some(model) = model else { continue };
            match updater.run(model, m).await {
                Ok(()) => {}
                Err(e) => {
                    failed += 1;
                    say_failed(ctx, &stream, &m.id, &ErrorReport::from(e));
                }
            }
        }
        Ok::<_, Error>((report.models.len(), chosen.len(), failed))
    })?;
    stream.result()?;
    let (moved, asked_n, failed) = result?;
    if ctx.json {
        stream.json_line(&serde_json::json!({
            "event": "summary",
            "updated": moved - failed.min(moved),
            "up_to_date": asked_n - moved,
            "failed": failed,
        }));
        stream.result()?;
    } else if moved == 0 && failed == 0 {
        eprintln!("Everything is up to date.");
    }
    if failed > 0 {
        return Err(Error::NotReady {
            count: failed,
            verb: if failed == 1 { "is" } else { "are" },
            names: "see the messages above".into(),
        });
    }
    Ok(())
}

/// The models to update: those asked for (each must follow a branch here), or all.
fn choose(followed: Vec<Followed>, asked: &[RepoId]) -> Result<Vec<Followed>> {
    if asked.is_empty() {
        return Ok(followed);
    }
    asked
        .iter()
        .map(|id| {
            followed
                .iter()
                .find(|f| haid_models::manifest::same_repo(&f.repo.repo, id))
                .cloned()
                .ok_or_else(|| Error::NotFound {
                    what: format!(
                        "{id} in the cache following a branch (download it first; a model pinned to a commit never updates)"
                    ),
                })
        })
        .collect()
}

/// What every model's update shares.
struct Updater<'a> {
    cache_dir: &'a std::path::Path,
    hub: &'a Hub,
    prune: bool,
    stream: &'a Stream,
    json: bool,
    cancel: &'a CancellationToken,
}

impl Updater<'_> {
    async fn run(&self, model: &Followed, moved: &Outdated) -> Result<()> {
        let Updater {
            cache_dir,
            hub,
            prune,
            stream,
            json,
            cancel,
        } = *self;
        let req = model.request();
        let sink: EventSink = if json {
            let stream = stream.clone();
            Arc::new(move |e: DownloadEvent| stream.json_line(&e))
        } else {
            Arc::new(|_| {})
        };
        let done = download::download(
            cache_dir,
            hub,
            &req,
            sink,
            cancel,
            download::DEFAULT_FILE_CONCURRENCY,
        )
        .await?;
        let old = outdated::settle_old(
            cache_dir,
            model,
            &moved.local_commit,
            &done.commit_hash,
            prune,
        )
        .await?;
        if json {
            stream.json_line(&Updated {
                event: "updated",
                id: &moved.id,
                revision: &moved.revision,
                from: &moved.local_commit,
                to: &done.commit_hash,
                download_bytes: moved.download_bytes,
                old,
            });
        } else {
            let tail = if old.pruned {
                format!(
                    "the old revision was removed ({})",
                    output::size(old.prunable_bytes)
                )
            } else if old.prunable_bytes > 0 {
                format!(
                    "the old revision stays, detached: `haid-models prune` frees {}",
                    output::size(old.prunable_bytes)
                )
            } else {
                "the old revision is still used by another ref".to_owned()
            };
            eprintln!(
                "Updated {} {} → {} ({} downloaded); {tail}",
                output::terminal_safe(&moved.id),
                &moved.local_commit[..12],
                &done.commit_hash[..12.min(done.commit_hash.len())],
                output::size(moved.download_bytes),
            );
        }
        Ok(())
    }
}

fn say_failed(ctx: &Context, stream: &Stream, id: &str, error: &ErrorReport) {
    if ctx.json {
        stream.json_line(&serde_json::json!({
            "event": "update_failed", "id": id, "kind": error.kind, "message": error.message,
        }));
    } else {
        eprintln!(
            "error: {} was not updated: {}",
            output::terminal_safe(id),
            output::terminal_safe(&error.message)
        );
    }
}
