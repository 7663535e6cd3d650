//! `haid-models where`.

use haid_models::Result;

use crate::context::Context;
use crate::output::print_json;
use crate::stdout::outln;

pub fn run(ctx: &Context) -> Result<()> {
    let loc = ctx.location()?;
    if ctx.json {
        return print_json(&loc);
    }
    let source = serde_json::to_value(loc.source).unwrap_or_default();
    outln!("cache dir:     {}", loc.cache_dir.display())?;
    outln!("chosen by:     {}", source.as_str().unwrap_or("?"))?;
    outln!("HF_HOME:       {}", loc.hf_home.display())?;
    outln!("data dir:      {}", loc.data_dir.display())?;
    outln!("settings file: {}", loc.settings_file.display())
}
