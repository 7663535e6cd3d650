//! `haid-models watch`: NDJSON (`{"event":"ready"}` first, then one line per
//! repo whose state changed), or a readable log. Ends cleanly on Ctrl-C,
//! and quietly when stdout's reader goes away (`watch --json | head -1`).

use std::sync::Arc;

use haid_models::watch::{choose_mode, WatchEvent, WatchSink, Watcher};
use haid_models::Result;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::output;
use crate::stdout::{outln, Stream};

pub fn run(ctx: &Context) -> Result<()> {
    let loc = ctx.location()?;
    let mode = choose_mode(&ctx.env, &loc.cache_dir);
    // A failed write (the watcher thread's) cancels `stop`, which ends the wait below.
    let stop = CancellationToken::new();
    let stream = Stream::new(stop.clone());
    let sink: WatchSink = {
        let stream = stream.clone();
        if ctx.json {
            Arc::new(move |event| stream.json_line(&event))
        } else {
            Arc::new(move |event| log_line(&stream, event))
        }
    };
    let watcher = Watcher::start(loc.cache_dir.clone(), mode, sink)?;
    ctx.block_on(async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = stop.cancelled() => {}
        }
    })?;
    watcher.stop();
    stream.result()
}

fn log_line(stream: &Stream, event: WatchEvent) {
    match event {
        WatchEvent::Ready { cache_dir, mode } => {
            eprintln!(
                "watching {} ({mode:?}); Ctrl-C to stop",
                cache_dir.display()
            );
        }
        WatchEvent::RepoChanged(c) => {
            let extra = match c.incomplete_size_on_disk {
                0 => String::new(),
                n => format!(" (+{} downloading)", output::size(n)),
            };
            stream.write(|| {
                outln!(
                    "{} {}/{}: {}, {}{extra}",
                    output::clock(),
                    c.repo.repo_type(),
                    c.repo.id(),
                    c.state,
                    output::size(c.size_on_disk)
                )
            });
        }
        WatchEvent::Notice { message } => eprintln!("note: {message}"),
    }
}
