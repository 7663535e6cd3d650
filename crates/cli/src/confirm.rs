//! Asking before destroying: a yes/no on the terminal, or `--yes`.

use std::io::{BufRead, IsTerminal, Write};

use haid_models::{Error, Result};

/// `true` when the user agreed. Without a terminal to ask on, refuses
/// unless `--yes` was given: scripts must say what they mean.
pub fn confirm(question: &str, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::InvalidArgument {
            what: "confirmation",
            value: question.to_owned(),
            reason: "stdin is not a terminal, so nobody can answer; pass --yes to confirm (or --dry-run to see the plan)".into(),
        });
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::io("read", "stdin", e))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
