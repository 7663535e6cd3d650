//! A kill at a chosen step, for the test that kills a download at every
//! step of its commit and checks that what is left reads as `partial`,
//! that Python can read it, and that the next run finishes it.
//!
//! The CLI arms it from `HAID_DOWNLOAD_CRASH_AT=STEP:N` (STEP one of `ref`,
//! `listing`, `blob`, `link`): the process aborts right after the N-th time
//! any download reaches STEP, as a SIGKILL or a power cut would. Unarmed it
//! costs one atomic load per step.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The steps of a download that change the cache, in the order they happen
/// (blob and link once per file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `refs/<revision>` written.
    Ref,
    /// `trees/<commit>.json` written.
    Listing,
    /// A verified `.incomplete` renamed to its blob name.
    Blob,
    /// A snapshot link made.
    Link,
}

impl Step {
    /// The step `HAID_DOWNLOAD_CRASH_AT` names (`ref`, `listing`, `blob`, `link`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ref" => Some(Self::Ref),
            "listing" => Some(Self::Listing),
            "blob" => Some(Self::Blob),
            "link" => Some(Self::Link),
            _ => None,
        }
    }
}

static ARMED: OnceLock<(Step, usize)> = OnceLock::new();
static REACHED: AtomicUsize = AtomicUsize::new(0);

/// Aborts the process after the `n`-th time `step` is reached; `STEP:N`
/// as in the variable. Returns false when `spec` is not of that form.
pub fn arm(spec: &str) -> bool {
    let Some((step, n)) = spec.split_once(':') else {
        return false;
    };
    match (Step::parse(step), n.parse::<usize>()) {
        (Some(step), Ok(n)) if n > 0 => ARMED.set((step, n)).is_ok(),
        _ => false,
    }
}

pub(crate) fn reached(step: Step) {
    let Some((armed, n)) = ARMED.get() else {
        return;
    };
    if *armed == step && REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_parsed_strictly() {
        assert_eq!(Step::parse("blob"), Some(Step::Blob));
        assert!(Step::parse("blobs").is_none());
        for bad in ["", "blob", "blob:", "blob:0", "blob:x", "nope:1"] {
            assert!(!arm(bad), "{bad:?}");
        }
        // Not armed: reaching a step does nothing.
        reached(Step::Blob);
    }
}
