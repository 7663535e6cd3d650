//! `haid-models where`.

use haid_models::location::CacheLocation;
use haid_models::Result;

use crate::output::print_json;
use crate::stdout::outln;
use crate::GlobalArgs;

pub fn run(global: &GlobalArgs) -> Result<()> {
    let loc = CacheLocation::from_system(global.cache_dir.as_deref())?;
    if global.json {
        return print_json(&loc);
    }
    let source = serde_json::to_value(loc.source).unwrap_or_default();
    outln!("cache dir:     {}", loc.cache_dir.display())?;
    outln!("chosen by:     {}", source.as_str().unwrap_or("?"))?;
    outln!("HF_HOME:       {}", loc.hf_home.display())?;
    outln!("data dir:      {}", loc.data_dir.display())?;
    outln!("settings file: {}", loc.settings_file.display())
}
