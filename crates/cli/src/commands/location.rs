//! `haid-models where`.

use haid_models::cache::relocate::unfinished_move_of;
use haid_models::Result;

use crate::context::Context;
use crate::output::print_json;
use crate::stdout::outln;

pub fn run(ctx: &Context) -> Result<()> {
    let loc = ctx.location()?;
    // An unreadable journal is no answer here: `move` says what is wrong.
    let unfinished = unfinished_move_of(loc).ok().flatten();
    if ctx.json {
        let mut value = serde_json::to_value(loc).unwrap_or_default();
        value["unfinished_move"] = serde_json::to_value(&unfinished).unwrap_or_default();
        return print_json(&value);
    }
    if let Some(m) = &unfinished {
        outln!(
            "interrupted:   a move of the cache to {} did not finish; `haid-models move {}` finishes it",
            m.to.display(),
            m.to.display()
        )?;
    }
    let source = serde_json::to_value(loc.source).unwrap_or_default();
    outln!("cache dir:     {}", loc.cache_dir.display())?;
    outln!("chosen by:     {}", source.as_str().unwrap_or("?"))?;
    outln!("HF_HOME:       {}", loc.hf_home.display())?;
    outln!("data dir:      {}", loc.data_dir.display())?;
    outln!("settings file: {}", loc.settings_file.display())
}
