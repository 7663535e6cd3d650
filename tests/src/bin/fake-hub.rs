//! `fake-hub --root DIR [--port N] [faults…]`: the test hub as a process, for
//! Python clients, benchmarks and offline demos. Prints `{"url": …}` on one
//! line once it listens. `GET /_fake/stats` gives the bytes served;
//! `POST /_fake/faults` (JSON, the fields below) changes the faults live.
//! `POST /_fake/advance/{org}/{name}` keeps the repo's current commit (still
//! served by its sha) and forgets the cached `main`: change the repo's files
//! right after it, before any other request, and the next request serves the
//! new commit at `main` (see `advance` in fake_hub/routes.rs).
//! `--hostile-json FILE` makes it lie from the start (a `Hostile` as JSON).

use std::path::PathBuf;

use clap::Parser;
use haid_models_tests::fake_hub::{serve, Faults, Hostile, HubState};

#[derive(Debug, Parser)]
struct Args {
    /// Folder with `<org>/<name>/<files>` to serve as model repos.
    #[arg(long)]
    root: PathBuf,
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Send each file body at this many bytes per second (a throttle per
    /// connection: each range of a parallel download has its own).
    #[arg(long, alias = "throttle-per-connection")]
    throttle_bps: Option<u64>,
    /// Stall one transfer (keep it open, send nothing) after this many bytes.
    #[arg(long)]
    stall_after: Option<u64>,
    /// Cut each transfer after this many bytes.
    #[arg(long)]
    cut_after: Option<u64>,
    /// A repo that needs `--token`.
    #[arg(long)]
    gated: Vec<String>,
    #[arg(long)]
    token: Option<String>,
    /// Always answer 200 with the whole file.
    #[arg(long)]
    ignore_range: bool,
    /// A JSON file holding a `Hostile`: the lies to tell (see faults.rs).
    #[arg(long)]
    hostile_json: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let hostile = match &args.hostile_json {
        Some(file) => serde_json::from_slice(&std::fs::read(file)?)?,
        None => Hostile::default(),
    };
    let faults = Faults {
        throttle_bps: args.throttle_bps,
        cut_after: args.cut_after,
        stall_after: args.stall_after,
        gated: args.gated,
        token: args.token,
        ignore_range: args.ignore_range,
        hostile,
        ..Faults::default()
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    println!("{}", serde_json::json!({ "url": url }));
    serve(listener, HubState::new(args.root, faults)).await
}
