//! `haid-models`: the cache from the command line. Thin over `haid_models`;
//! the contract (flags, JSON, exit codes) is in DESIGN.md.

mod commands;
mod confirm;
mod context;
mod output;
mod signals;
mod stdout;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "haid-models",
    version,
    about = "See and control the Hugging Face model cache (HF_HOME/hub).",
    long_about = None,
    after_help = "Exit status: 0 on success, 1 on failure, 2 on bad usage.\n\
                  The cache is found by: --cache-dir, HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, \
                  HF_HOME, the app's settings, HAID_DATA_DIR, then the platform data folder."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
struct GlobalArgs {
    /// Use this cache folder (the `hub` folder itself) instead of the usual rules.
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Print JSON on stdout (human text goes to stderr).
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Where the cache is, and which rule chose it.
    Where,
    /// Every repo in the cache: models, datasets, spaces.
    Scan(commands::scan::ScanArgs),
    /// The manifest's models by type, with their state on disk.
    List(commands::list::ListArgs),
    /// Download a model into the cache: resumable, verified.
    Download(commands::download::DownloadArgs),
    /// Bring every manifest model to its revision and file set (--check: only say what is missing).
    Sync(commands::sync::SyncArgs),
    /// Cached models whose branch moved on the hub, with what an update downloads.
    Outdated(commands::update::OutdatedArgs),
    /// Fetch the new commit of outdated models (only changed files), then move the ref.
    Update(commands::update::UpdateArgs),
    /// Delete a model, or chosen revisions of it, from the cache.
    Delete(commands::delete::DeleteArgs),
    /// Remove detached revisions, unreferenced blobs and abandoned partial downloads.
    Prune(commands::delete::PruneArgs),
    /// Re-hash a model's files and compare them with their names and the hub.
    Verify(commands::verify::VerifyArgs),
    /// Where the space goes: each repo by size, unfinished downloads, what prune frees, the HF home.
    Space(commands::space::SpaceArgs),
    /// Empty huggingface_hub's xet chunk cache ($HF_HOME/xet): only a cache.
    ClearXet(commands::space::ClearXetArgs),
    /// Move the whole cache to another folder or disk: a rename, or a checked copy; resumable.
    Move(commands::move_cache::MoveArgs),
    /// Write models into one tar of the cache layout, for machines with no internet.
    Export(commands::archive::ExportArgs),
    /// Read such an archive into the cache: every blob checked, anything outside the layout refused.
    Import(commands::archive::ImportArgs),
    /// Serve the cache read-only with the hub's protocol, to the machines next to this one.
    Serve(commands::serve::ServeArgs),
    /// Follow the cache live: one line per repo whose state changes.
    Watch,
    /// Move models from the old per-service folders into the cache, without downloading.
    Migrate(commands::migrate::MigrateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = context::Context::new(&cli.global);
    let result = match &cli.command {
        Command::Where => commands::location::run(&ctx),
        Command::Scan(args) => commands::scan::run(&ctx, args),
        Command::List(args) => commands::list::run(&ctx, args),
        Command::Download(args) => commands::download::run(&ctx, args),
        Command::Sync(args) => commands::sync::run(&ctx, args),
        Command::Outdated(args) => commands::update::outdated(&ctx, args),
        Command::Update(args) => commands::update::update(&ctx, args),
        Command::Delete(args) => commands::delete::delete(&ctx, args),
        Command::Prune(args) => commands::delete::prune(&ctx, args),
        Command::Verify(args) => commands::verify::run(&ctx, args),
        Command::Watch => commands::watch::run(&ctx),
        Command::Space(args) => commands::space::run(&ctx, args),
        Command::ClearXet(args) => commands::space::clear(&ctx, args),
        Command::Migrate(args) => commands::migrate::run(&ctx, args),
        Command::Move(args) => commands::move_cache::run(&ctx, args),
        Command::Serve(args) => commands::serve::run(&ctx, args),
        Command::Export(args) => commands::archive::export(&ctx, args),
        Command::Import(args) => commands::archive::import(&ctx, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of stdout went away (`… | head -1`): it has what it
        // wanted, so this is no failure and nothing is said (ripgrep does the same).
        Err(e) if stdout::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Not `eprintln!`, which panics when stderr is closed too.
            // Messages quote outside text (manifest keys, file names): escaped.
            let message = output::terminal_safe(&e.to_string()).into_owned();
            let _ = writeln!(std::io::stderr(), "error: {message}");
            ExitCode::FAILURE
        }
    }
}
