//! Ctrl-C and, on Unix, SIGTERM (what `kill`, `timeout`, systemd and
//! container runtimes send) and SIGHUP (a closed terminal or SSH session)
//! cancel a download cleanly: what was downloaded is kept, and the next run
//! resumes it.

use haid_models::Result;
use tokio_util::sync::CancellationToken;

/// Cancels `cancel` on the first SIGINT, SIGTERM or SIGHUP. Call inside the runtime,
/// before the work starts: on Unix the handlers are in place when this
/// returns, so an early signal is not met by the default action (death
/// without a word of why, and no clean end).
pub fn cancel_on_signals(cancel: &CancellationToken) -> Result<()> {
    #[cfg(unix)]
    {
        use haid_models::Error;
        use tokio::signal::unix::{signal, SignalKind};
        for kind in [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ] {
            let mut signals = signal(kind).map_err(|e| Error::io("listen for", "signals", e))?;
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if signals.recv().await.is_some() {
                    cancel.cancel();
                }
            });
        }
    }
    #[cfg(not(unix))]
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
    }
    Ok(())
}
