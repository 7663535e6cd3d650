//! Where the cache is: the six rules of DESIGN.md, first match wins.
//!
//! 1. `--cache-dir`
//! 2. `HF_HUB_CACHE`, then `HUGGINGFACE_HUB_CACHE`
//! 3. `HF_HOME`/hub
//! 4. the app's settings
//! 5. `HAID_DATA_DIR`/models/hub
//! 6. `<data dir>/haid/models/hub`

use std::path::{Path, PathBuf};

use serde::Serialize;
use ts_rs::TS;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::settings::Settings;

/// The app's identifier; also the folder of its settings (as Tauri's `app_config_dir`).
pub const APP_IDENTIFIER: &str = "com.haid.models";

/// The platform folders the rules fall back to, injected so tests control them.
#[derive(Debug, Clone, Default)]
pub struct PlatformDirs {
    /// The user's home, for `~` in paths.
    pub home: Option<PathBuf>,
    /// The platform's data folder (`~/.local/share`): the default cache and old data are under it.
    pub data: Option<PathBuf>,
    /// The platform's config folder (`~/.config`): the settings are under it.
    pub config: Option<PathBuf>,
}

impl PlatformDirs {
    /// This machine's folders, as the `dirs` crate finds them.
    pub fn from_system() -> Self {
        Self {
            home: dirs::home_dir(),
            data: dirs::data_dir(),
            config: dirs::config_dir(),
        }
    }
}

/// Which rule chose the cache dir. Serialised as the name a user would look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub enum LocationSource {
    /// Rule 1: `--cache-dir` on the CLI.
    #[serde(rename = "--cache-dir")]
    CliFlag,
    /// Rule 2: `HF_HUB_CACHE`.
    #[serde(rename = "HF_HUB_CACHE")]
    HfHubCache,
    /// Rule 2: `HUGGINGFACE_HUB_CACHE`, its older name.
    #[serde(rename = "HUGGINGFACE_HUB_CACHE")]
    HuggingfaceHubCache,
    /// Rule 3: `$HF_HOME/hub`.
    #[serde(rename = "HF_HOME")]
    HfHome,
    /// Rule 4: the location saved in the app's settings.
    #[serde(rename = "settings")]
    Settings,
    /// Rule 5: `$HAID_DATA_DIR/models/hub`.
    #[serde(rename = "HAID_DATA_DIR")]
    HaidDataDir,
    /// Rule 6: `<data dir>/haid/models/hub`.
    #[serde(rename = "default")]
    Default,
}

impl LocationSource {
    /// True when an environment variable forces the location, so the app must
    /// not offer to change it in its settings.
    pub fn is_environment(self) -> bool {
        self.variable().is_some()
    }

    /// The environment variable that chose the location, if one did: what
    /// the user must change or unset to choose another place.
    pub fn variable(self) -> Option<&'static str> {
        match self {
            Self::HfHubCache => Some("HF_HUB_CACHE"),
            Self::HuggingfaceHubCache => Some("HUGGINGFACE_HUB_CACHE"),
            Self::HfHome => Some("HF_HOME"),
            Self::HaidDataDir => Some("HAID_DATA_DIR"),
            Self::CliFlag | Self::Settings | Self::Default => None,
        }
    }
}

/// The answer of `haid-models where`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheLocation {
    /// The hub folder itself (`…/hub`), absolute.
    pub cache_dir: PathBuf,
    /// Home of the other HF files (`token`); `HF_HOME` when set.
    pub hf_home: PathBuf,
    /// The old services' data folder (`HAID_DATA_DIR`, else `<data dir>/haid`):
    /// where `migrate` looks.
    pub data_dir: PathBuf,
    /// The app's settings file, whatever rule chose the cache.
    pub settings_file: PathBuf,
    /// The rule that chose `cache_dir`.
    pub source: LocationSource,
}

/// Where the cache is, which rule chose it, and the room left there: the
/// page's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CacheInfo {
    /// The hub folder.
    pub cache_dir: PathBuf,
    /// The rule that chose it.
    pub source: LocationSource,
    /// Bytes free on its file system; `None` when that cannot be read.
    pub free_bytes: Option<u64>,
    /// A move of this cache that was cut short: the same move finishes it.
    pub unfinished_move: Option<crate::cache::relocate::UnfinishedMove>,
}

impl CacheInfo {
    /// Reads the free space under `location`'s cache now.
    pub fn of(location: &CacheLocation) -> Self {
        Self {
            free_bytes: crate::download::free_space(&location.cache_dir),
            // An unreadable journal shows no banner: `move` itself says what is wrong.
            unfinished_move: crate::cache::relocate::unfinished_move_of(location)
                .ok()
                .flatten(),
            cache_dir: location.cache_dir.clone(),
            source: location.source,
        }
    }
}

impl CacheLocation {
    /// Resolves the location for this process.
    pub fn from_system(cli_dir: Option<&Path>) -> Result<Self> {
        resolve(cli_dir, &Env::from_process(), &PlatformDirs::from_system())
    }
}

/// Applies the rules in order. Only reads the settings file when rules 1–3 did not match.
pub fn resolve(cli_dir: Option<&Path>, env: &Env, dirs: &PlatformDirs) -> Result<CacheLocation> {
    let home = dirs.home.as_deref();
    let data_dir = match env.path("HAID_DATA_DIR", home) {
        Some(dir) => dir,
        None => required(dirs.data.as_deref(), "the platform data directory")?.join("haid"),
    };
    let settings_file = settings_file(env, dirs)?;
    let hf_home_env = env.path("HF_HOME", home);

    let (cache_dir, source) = if let Some(dir) = cli_dir {
        (
            env.expand_path(&dir.to_string_lossy(), home),
            LocationSource::CliFlag,
        )
    } else if let Some(dir) = env.path("HF_HUB_CACHE", home) {
        (dir, LocationSource::HfHubCache)
    } else if let Some(dir) = env.path("HUGGINGFACE_HUB_CACHE", home) {
        (dir, LocationSource::HuggingfaceHubCache)
    } else if let Some(hf_home) = &hf_home_env {
        (hf_home.join("hub"), LocationSource::HfHome)
    } else if let Some(dir) = Settings::load(&settings_file)?.cache_dir {
        (
            env.expand_path(&dir.to_string_lossy(), home),
            LocationSource::Settings,
        )
    } else if env.get("HAID_DATA_DIR").is_some() {
        (
            data_dir.join("models").join("hub"),
            LocationSource::HaidDataDir,
        )
    } else {
        (data_dir.join("models").join("hub"), LocationSource::Default)
    };

    let cache_dir = absolute(&cache_dir)?;
    let hf_home = match hf_home_env {
        Some(dir) => absolute(&dir)?,
        None => implied_hf_home(&cache_dir, &data_dir),
    };
    Ok(CacheLocation {
        cache_dir,
        hf_home,
        data_dir: absolute(&data_dir)?,
        settings_file,
        source,
    })
}

/// `<config dir>/com.haid.models/settings.json`: the folder Tauri gives the app.
fn settings_file(env: &Env, dirs: &PlatformDirs) -> Result<PathBuf> {
    // XDG_CONFIG_HOME is honoured by `dirs` already; reading it here too keeps
    // the injected environment the single source of truth in tests.
    let config = match env.path("XDG_CONFIG_HOME", dirs.home.as_deref()) {
        Some(dir) if cfg!(target_os = "linux") => dir,
        _ => required(dirs.config.as_deref(), "the platform config directory")?.to_owned(),
    };
    Ok(config.join(APP_IDENTIFIER).join("settings.json"))
}

/// Without HF_HOME, the cache's parent plays its part when the cache is the usual
/// `…/hub`; otherwise the data dir's `models` folder does (as the refactoring plan sets it).
fn implied_hf_home(cache_dir: &Path, data_dir: &Path) -> PathBuf {
    match (cache_dir.file_name(), cache_dir.parent()) {
        (Some(name), Some(parent)) if name == "hub" => parent.to_owned(),
        _ => data_dir.join("models"),
    }
}

fn required<'a>(dir: Option<&'a Path>, what: &str) -> Result<&'a Path> {
    dir.ok_or_else(|| Error::CacheDir {
        path: PathBuf::new(),
        message: format!(
            "{what} is unknown on this system; set HF_HOME or HAID_DATA_DIR, or pass --cache-dir"
        ),
    })
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io("make absolute", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> PlatformDirs {
        PlatformDirs {
            home: Some("/home/ann".into()),
            data: Some("/home/ann/.local/share".into()),
            config: Some("/home/ann/.config".into()),
        }
    }

    /// `/a/hub` as the resolver makes it absolute: itself on Unix, on the
    /// current drive on Windows (`Z:\\a\\hub` under Wine).
    fn abs(path: &str) -> PathBuf {
        std::path::absolute(path).unwrap()
    }

    fn resolve_with(cli: Option<&str>, pairs: &[(&str, &str)]) -> CacheLocation {
        resolve(
            cli.map(Path::new),
            &Env::from_pairs(pairs.iter().copied()),
            &dirs(),
        )
        .unwrap()
    }

    const ALL: &[(&str, &str)] = &[
        ("HF_HUB_CACHE", "/a/hub"),
        ("HUGGINGFACE_HUB_CACHE", "/b/hub"),
        ("HF_HOME", "/c"),
        ("HAID_DATA_DIR", "/d"),
    ];

    #[test]
    fn the_variable_of_a_source_is_its_name_in_json() {
        for source in [
            LocationSource::CliFlag,
            LocationSource::HfHubCache,
            LocationSource::HuggingfaceHubCache,
            LocationSource::HfHome,
            LocationSource::Settings,
            LocationSource::HaidDataDir,
            LocationSource::Default,
        ] {
            let json = serde_json::to_value(source).unwrap();
            match source.variable() {
                Some(var) => assert_eq!(json, var),
                None => assert!(!source.is_environment()),
            }
        }
    }

    #[test]
    fn rule1_cli_flag_beats_everything() {
        let loc = resolve_with(Some("/flag/hub"), ALL);
        assert_eq!(loc.cache_dir, abs("/flag/hub"));
        assert_eq!(loc.source, LocationSource::CliFlag);
        assert_eq!(loc.hf_home, abs("/c"));
    }

    #[test]
    fn rule2_hf_hub_cache_then_legacy_name() {
        let loc = resolve_with(None, ALL);
        assert_eq!(loc.cache_dir, abs("/a/hub"));
        assert_eq!(loc.source, LocationSource::HfHubCache);
        let loc = resolve_with(None, &ALL[1..]);
        assert_eq!(loc.cache_dir, abs("/b/hub"));
        assert_eq!(loc.source, LocationSource::HuggingfaceHubCache);
    }

    #[test]
    fn rule3_hf_home() {
        let loc = resolve_with(None, &ALL[2..]);
        assert_eq!(loc.cache_dir, abs("/c/hub"));
        assert_eq!(loc.source, LocationSource::HfHome);
        assert_eq!(loc.hf_home, abs("/c"));
    }

    // XDG_CONFIG_HOME names the settings folder on Linux only.
    #[cfg(target_os = "linux")]
    #[test]
    fn rule4_settings_file() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join(APP_IDENTIFIER);
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(cfg.join("settings.json"), r#"{"cache_dir":"~/models/hub"}"#).unwrap();
        let xdg = tmp.path().to_string_lossy().into_owned();
        let loc = resolve_with(None, &[("XDG_CONFIG_HOME", &xdg), ("HAID_DATA_DIR", "/d")]);
        assert_eq!(loc.source, LocationSource::Settings);
        assert_eq!(loc.cache_dir, abs("/home/ann/models/hub"));
        assert_eq!(loc.settings_file, cfg.join("settings.json"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn rule4_broken_settings_is_an_error_only_when_reached() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join(APP_IDENTIFIER);
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(cfg.join("settings.json"), "{oops").unwrap();
        let env = Env::from_pairs([("XDG_CONFIG_HOME", tmp.path().to_str().unwrap())]);
        let err = resolve(None, &env, &dirs()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Settings);
        let env = Env::from_pairs([
            ("XDG_CONFIG_HOME", tmp.path().to_str().unwrap()),
            ("HF_HOME", "/c"),
        ]);
        assert_eq!(
            resolve(None, &env, &dirs()).unwrap().source,
            LocationSource::HfHome
        );
    }

    #[test]
    fn rule5_haid_data_dir() {
        let loc = resolve_with(None, &ALL[3..]);
        assert_eq!(loc.cache_dir, abs("/d/models/hub"));
        assert_eq!(loc.source, LocationSource::HaidDataDir);
        assert_eq!(loc.data_dir, abs("/d"));
        assert_eq!(loc.hf_home, abs("/d/models"));
    }

    #[test]
    fn rule6_default_under_platform_data_dir() {
        let loc = resolve_with(None, &[]);
        assert_eq!(loc.cache_dir, abs("/home/ann/.local/share/haid/models/hub"));
        assert_eq!(loc.source, LocationSource::Default);
        assert_eq!(
            loc.settings_file,
            PathBuf::from("/home/ann/.config/com.haid.models/settings.json")
        );
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let loc = resolve_with(
            None,
            &[
                ("HF_HUB_CACHE", ""),
                ("HUGGINGFACE_HUB_CACHE", ""),
                ("HF_HOME", ""),
            ],
        );
        assert_eq!(loc.source, LocationSource::Default);
    }

    #[test]
    fn values_are_expanded_like_huggingface_hub() {
        let loc = resolve_with(None, &[("HOME", "/home/ann"), ("HF_HOME", "~/hf")]);
        assert_eq!(loc.cache_dir, abs("/home/ann/hf/hub"));
        let loc = resolve_with(None, &[("BASE", "/srv"), ("HF_HUB_CACHE", "$BASE/hub")]);
        assert_eq!(loc.cache_dir, abs("/srv/hub"));
        assert_eq!(loc.hf_home, abs("/srv"));
    }

    #[test]
    fn relative_paths_become_absolute() {
        let loc = resolve_with(Some("rel/hub"), &[]);
        assert!(loc.cache_dir.is_absolute());
        assert!(loc.cache_dir.ends_with("rel/hub"));
    }

    #[test]
    fn environment_sources_are_marked() {
        assert!(LocationSource::HfHome.is_environment());
        assert!(!LocationSource::Settings.is_environment());
        assert!(!LocationSource::CliFlag.is_environment());
    }
}
