//! Writing to stdout without panicking. Rust ignores SIGPIPE, so `println!`
//! to a reader that went away (`haid-models scan | head -1`) panics. Here
//! every write returns an error instead, and `main` ends quietly with 0 when
//! that error is a broken pipe, as ripgrep does: the reader has had what it
//! wanted, and a shell pipeline under `set -o pipefail` must not fail for it.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use haid_models::{Error, Result};
use tokio_util::sync::CancellationToken;

/// The "path" of a failed write's error: "cannot write to stdout: …".
const STDOUT: &str = "stdout";

fn write_error(source: io::Error) -> Error {
    Error::Io {
        action: "write to",
        path: STDOUT.into(),
        source,
    }
}

/// `true` when a write to stdout failed because its reader is gone. Only
/// stdout counts: a broken pipe elsewhere (a socket) is a real failure.
pub fn is_broken_pipe(e: &Error) -> bool {
    matches!(e, Error::Io { path, source, .. }
        if source.kind() == io::ErrorKind::BrokenPipe && path.as_os_str() == STDOUT)
}

/// Runs `write` on one locked, buffered stdout and flushes it: big outputs
/// (a table or pretty JSON of a large cache) leave in few system calls.
pub fn write_with(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(write_error)
}

/// One line on stdout (use [`outln!`]).
pub fn line(args: fmt::Arguments<'_>) -> Result<()> {
    writeln!(io::stdout().lock(), "{args}").map_err(write_error)
}

/// `println!` that returns a `Result` instead of panicking.
macro_rules! outln {
    () => {
        $crate::stdout::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::stdout::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Lines on stdout written by a command that streams (NDJSON events, a
/// log) from callbacks that cannot return an error. The first failed write
/// is kept, nothing is written after it, and `stop` is cancelled so that the
/// command ends at its next chance and returns [`Stream::result`].
#[derive(Debug, Clone)]
pub struct Stream {
    state: Arc<Mutex<StreamState>>,
    stop: CancellationToken,
}

#[derive(Debug, Default)]
struct StreamState {
    failed: bool,
    /// The failed write's error, until `result` hands it out.
    error: Option<Error>,
}

impl Stream {
    pub fn new(stop: CancellationToken) -> Self {
        Self {
            state: Arc::default(),
            stop,
        }
    }

    /// Runs `write` unless an earlier write failed. The lock is held while
    /// writing, so writers from several threads never interleave.
    pub fn write(&self, write: impl FnOnce() -> Result<()>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.failed {
            return;
        }
        if let Err(e) = write() {
            state.failed = true;
            state.error = Some(e);
            self.stop.cancel();
        }
    }

    /// One NDJSON line.
    pub fn json_line(&self, value: &impl serde::Serialize) {
        self.write(|| crate::output::print_json_line(value));
    }

    /// The first failed write's error, else `Ok`.
    pub fn result(&self) -> Result<()> {
        match self.state.lock().ok().and_then(|mut s| s.error.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_stdout_is_quiet() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&write_error(pipe())));
        assert!(!is_broken_pipe(&Error::io("write to", "a socket", pipe())));
        assert!(!is_broken_pipe(&write_error(io::Error::from(
            io::ErrorKind::StorageFull
        ))));
    }

    #[test]
    fn a_stream_stops_at_its_first_failed_write() {
        let stop = CancellationToken::new();
        let stream = Stream::new(stop.clone());
        let mut calls = 0;
        stream.write(|| {
            calls += 1;
            Ok(())
        });
        stream.write(|| {
            calls += 1;
            Err(write_error(io::Error::from(io::ErrorKind::BrokenPipe)))
        });
        stream.write(|| {
            calls += 1;
            Ok(())
        });
        assert_eq!(calls, 2);
        assert!(stop.is_cancelled());
        assert!(stream.result().is_err_and(|e| is_broken_pipe(&e)));
    }
}
