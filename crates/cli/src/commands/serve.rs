//! `haid-models serve [--bind ADDR:PORT] [--token T]`: the cache, read-only,
//! with the hub's protocol, for the machines next to this one
//! (`HF_ENDPOINT=http://this-machine:8765`). One line per request on stderr
//! (JSON with `--json`); the first line on stdout says where it listens.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use haid_models::serve::{self, RequestLine, DEFAULT_BIND};
use haid_models::{Error, Result};

use crate::context::Context;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen. Another address than loopback must be asked for:
    /// 0.0.0.0:8765 serves the whole network.
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_BIND)]
    bind: SocketAddr,
    /// Every request must carry this token (clients: HF_TOKEN). Also read
    /// from HAID_SERVE_TOKEN, which keeps it out of the process list.
    #[arg(long, value_name = "T")]
    token: Option<String>,
}

pub fn run(ctx: &Context, args: &ServeArgs) -> Result<()> {
    let cache_dir = ctx.location()?.cache_dir.clone();
    let token = args
        .token
        .clone()
        .or_else(|| ctx.env.get("HAID_SERVE_TOKEN").map(str::to_owned))
        .filter(|t| !t.is_empty());
    let json = ctx.json;
    let log: serve::RequestLog = Arc::new(move |line: &RequestLine| say(json, line));
    let bind = args.bind;
    ctx.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| Error::io("listen on", bind.to_string(), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("listen on", bind.to_string(), e))?;
        announce(json, local, &cache_dir, token.is_some());
        // Ctrl-C or SIGTERM (systemd's stop) ends it quietly: nothing to keep.
        let stop = tokio_util::sync::CancellationToken::new();
        crate::signals::cancel_on_signals(&stop)?;
        tokio::select! {
            served = serve::run(listener, &cache_dir, token, log) => {
                served.map_err(|e| Error::io("serve", local.to_string(), e))
            }
            () = stop.cancelled() => Ok(()),
        }
    })?
}

/// Where it listens: the first line on stdout (for scripts: `url`), and
/// what to tell the clients on stderr.
fn announce(json: bool, local: SocketAddr, cache_dir: &std::path::Path, token: bool) {
    let url = format!("http://{local}");
    let line = serde_json::json!({"event": "listening", "url": url, "cache_dir": cache_dir, "token": token});
    let _ = writeln!(
        std::io::stdout(),
        "{}",
        if json { line.to_string() } else { url.clone() }
    );
    let _ = std::io::stdout().flush();
    if json {
        return;
    }
    eprintln!("Serving {} read-only at {url}", cache_dir.display());
    eprintln!("On the other machines: HF_ENDPOINT={url} hf download ORG/NAME");
    if !local.ip().is_loopback() && !token {
        eprintln!("warning: anyone who can reach {local} can read every model here; give --token (or HAID_SERVE_TOKEN) to require one");
    }
}

fn say(json: bool, line: &RequestLine) {
    let text = if json {
        serde_json::to_string(line).unwrap_or_default()
    } else {
        format!(
            "{} {} {} {} {} ms",
            line.client,
            line.method,
            crate::output::terminal_safe(&line.path),
            line.status,
            line.ms
        )
    };
    let _ = writeln!(std::io::stderr(), "{text}");
}
