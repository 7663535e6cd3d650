//! The settings as the app's page shows and changes them. A change is
//! merged over the saved file, trimmed and checked by the file's own rules
//! before anything is written; the view never holds the token, only whether
//! one is set.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{save_token, Settings};
use crate::download::manager::DEFAULT_MODEL_CONCURRENCY;
use crate::download::HubConfig;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::location::{CacheLocation, LocationSource};

/// What the page may change. A field left out, or blank, stays as it is;
/// the endpoint is the exception: blank goes back to the public hub.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
// A field may be left out (`cacheDir?: string`): serde reads it as `None`.
#[ts(optional_fields)]
pub struct SettingsUpdate {
    /// Where the cache should be from the next start on.
    pub cache_dir: Option<String>,
    /// A hub mirror; `HF_ENDPOINT` still wins when it is set.
    pub endpoint: Option<String>,
    /// Models downloaded at once.
    pub concurrency: Option<usize>,
    /// A hub token, saved where `hf auth login` saves it.
    pub token: Option<String>,
    /// Ask the hub for updates at start and daily.
    pub check_updates: Option<bool>,
    /// Keep the cache under this many bytes; 0 turns the budget off.
    pub keep_under: Option<u64>,
    /// Apply the budget without asking.
    pub keep_under_auto: Option<bool>,
    /// The bandwidth of all downloads, bytes per second; 0 is no limit.
    pub limit_rate: Option<u64>,
}

impl Settings {
    /// Applies a change from the app: the saved settings with `update`
    /// merged over them, checked, then saved (the token to `$HF_HOME/token`,
    /// the rest to the settings file). A bad value, or a new cache location
    /// while an environment variable fixes it, is refused and nothing is
    /// written. Returns the settings as saved.
    pub fn apply(update: SettingsUpdate, location: &CacheLocation) -> Result<Settings> {
        let mut saved = Settings::load(&location.settings_file)?;
        if let Some(dir) = given(update.cache_dir.as_deref()) {
            if let Some(var) = location.source.variable() {
                return Err(Error::InvalidArgument {
                    what: "cache_dir",
                    value: dir.to_owned(),
                    reason: format!(
                        "the cache location is set by {var}; change or unset {var} instead"
                    ),
                });
            }
            saved.cache_dir = Some(dir.into());
        }
        if let Some(url) = update.endpoint {
            let url = url.trim().trim_end_matches('/');
            saved.endpoint = Some(url.to_owned()).filter(|u| !u.is_empty());
        }
        if let Some(n) = update.concurrency {
            saved.concurrency = Some(n);
        }
        if let Some(check) = update.check_updates {
            saved.check_updates = Some(check);
        }
        if let Some(bytes) = update.keep_under {
            saved.keep_under = Some(bytes).filter(|b| *b > 0);
        }
        if let Some(auto) = update.keep_under_auto {
            saved.keep_under_auto = Some(auto);
        }
        if let Some(rate) = update.limit_rate {
            saved.limit_rate = Some(rate).filter(|r| *r > 0);
        }
        saved.validate()?;
        if let Some(token) = given(update.token.as_deref()) {
            save_token(&location.hf_home, token)?;
        }
        saved.save(&location.settings_file)?;
        Ok(saved)
    }
}

/// A text field's value, trimmed; `None` when it is missing or blank.
fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

/// The settings as the page shows them: what is in effect now, and what
/// the environment fixes (the page then offers no change of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SettingsView {
    /// The cache this process uses (a new location applies at the next start).
    pub cache_dir: PathBuf,
    /// The rule that chose it.
    pub source: LocationSource,
    /// The environment variable that fixes the cache location, if one does.
    pub cache_dir_forced_by: Option<String>,
    /// The hub downloads go to.
    pub endpoint: String,
    /// `HF_ENDPOINT` is set, so the saved endpoint is not used.
    pub endpoint_forced: bool,
    /// Models downloaded at once.
    pub concurrency: usize,
    /// A token is there (`HF_TOKEN`, or a token file); never the token itself.
    pub token_set: bool,
    /// Where the settings are saved.
    pub settings_file: PathBuf,
    /// The app asks the hub for updates (the setting, and not offline).
    pub check_updates: bool,
    /// `HF_HUB_OFFLINE` is set: no update check, whatever the setting.
    pub offline: bool,
    /// The cache's budget in bytes; `None` when off.
    pub keep_under: Option<u64>,
    /// The budget applies without asking.
    pub keep_under_auto: bool,
    /// The bandwidth limit of all downloads, bytes per second; `None`: no limit.
    pub limit_rate: Option<u64>,
}

impl SettingsView {
    /// Reads the saved settings for the cache at `location`, with `env` over them.
    pub fn read(location: &CacheLocation, env: &Env) -> Result<Self> {
        let saved = Settings::load(&location.settings_file)?;
        let config = HubConfig::from_env_and_settings(env, &location.hf_home, &saved);
        Ok(Self {
            cache_dir: location.cache_dir.clone(),
            source: location.source,
            cache_dir_forced_by: location.source.variable().map(str::to_owned),
            endpoint: config.endpoint,
            endpoint_forced: env.get("HF_ENDPOINT").is_some(),
            concurrency: saved.concurrency.unwrap_or(DEFAULT_MODEL_CONCURRENCY),
            token_set: config.token.is_some(),
            settings_file: location.settings_file.clone(),
            check_updates: saved.check_updates.unwrap_or(true) && !config.offline,
            offline: config.offline,
            keep_under: saved.keep_under,
            keep_under_auto: saved.keep_under_auto.unwrap_or(false),
            limit_rate: saved.limit_rate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::DATA_HUB;
    use crate::ErrorKind;

    fn location(dir: &std::path::Path, source: LocationSource) -> CacheLocation {
        CacheLocation {
            cache_dir: dir.join("hub"),
            hf_home: dir.to_owned(),
            data_dir: dir.join("data"),
            settings_file: dir.join("config/settings.json"),
            source,
        }
    }

    fn update(json: &str) -> SettingsUpdate {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_change_is_merged_trimmed_and_saved() {
        let dir = tempfile::tempdir().unwrap();
        let loc = location(dir.path(), LocationSource::Default);
        Settings {
            concurrency: Some(4),
            ..Settings::default()
        }
        .save(&loc.settings_file)
        .unwrap();
        let saved = Settings::apply(
            update(&format!(
                r#"{{"cacheDir": "  {DATA_HUB} ", "endpoint": " https://hf-mirror.com// "}}"#
            )),
            &loc,
        )
        .unwrap();
        let want = Settings {
            cache_dir: Some(DATA_HUB.into()),
            endpoint: Some("https://hf-mirror.com".into()),
            concurrency: Some(4),
            check_updates: None,
            keep_under: None,
            keep_under_auto: None,
            limit_rate: None,
        };
        assert_eq!(saved, want, "what was not sent stays");
        assert_eq!(Settings::load(&loc.settings_file).unwrap(), want);
        // Blank fields change nothing, except the endpoint: back to the hub.
        let saved = Settings::apply(
            update(r#"{"cacheDir": " ", "endpoint": "", "token": "  "}"#),
            &loc,
        )
        .unwrap();
        assert_eq!(saved.cache_dir, want.cache_dir);
        assert_eq!(saved.endpoint, None);
        assert!(!dir.path().join("token").exists());
    }

    #[test]
    fn a_bad_value_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let loc = location(dir.path(), LocationSource::Default);
        for json in [
            r#"{"endpoint": "mirror without scheme", "token": "hf_x"}"#,
            r#"{"concurrency": 0, "token": "hf_x"}"#,
            r#"{"cacheDir": "relative/hub", "token": "hf_x"}"#,
        ] {
            let err = Settings::apply(update(json), &loc).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{json}: {err}");
        }
        assert!(!loc.settings_file.exists());
        assert!(!dir.path().join("token").exists());
    }

    #[test]
    fn a_location_fixed_by_the_environment_is_not_changed() {
        let dir = tempfile::tempdir().unwrap();
        let loc = location(dir.path(), LocationSource::HfHome);
        let err = Settings::apply(update(r#"{"cacheDir": "/elsewhere"}"#), &loc).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(
            err.to_string()
                .contains("set by HF_HOME; change or unset HF_HOME instead"),
            "{err}"
        );
        assert!(!loc.settings_file.exists());
        // The rest may change all the same.
        Settings::apply(update(r#"{"concurrency": 3}"#), &loc).unwrap();
    }

    #[test]
    fn the_view_says_what_is_in_effect_and_never_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let loc = location(dir.path(), LocationSource::HfHome);
        let view = SettingsView::read(&loc, &Env::default()).unwrap();
        assert_eq!(view.concurrency, DEFAULT_MODEL_CONCURRENCY);
        assert_eq!(view.cache_dir_forced_by.as_deref(), Some("HF_HOME"));
        assert!(!view.token_set && !view.endpoint_forced);
        Settings::apply(
            update(r#"{"endpoint": "https://hf-mirror.com", "token": "hf_secret_42"}"#),
            &loc,
        )
        .unwrap();
        let view = SettingsView::read(&loc, &Env::default()).unwrap();
        assert_eq!(view.endpoint, "https://hf-mirror.com");
        assert!(view.token_set);
        let json = serde_json::to_string(&view).unwrap();
        assert!(!json.contains("hf_secret_42"), "{json}");
        let env = Env::from_pairs([("HF_ENDPOINT", "http://127.0.0.1:9")]);
        let view = SettingsView::read(&loc, &env).unwrap();
        assert_eq!(view.endpoint, "http://127.0.0.1:9");
        assert!(view.endpoint_forced);
    }

    #[test]
    fn update_checks_are_on_by_default_can_be_turned_off_and_never_run_offline() {
        let dir = tempfile::tempdir().unwrap();
        let loc = location(dir.path(), LocationSource::Default);
        assert!(
            SettingsView::read(&loc, &Env::default())
                .unwrap()
                .check_updates
        );
        let saved = Settings::apply(update(r#"{"checkUpdates": false}"#), &loc).unwrap();
        assert_eq!(saved.check_updates, Some(false));
        assert!(
            !SettingsView::read(&loc, &Env::default())
                .unwrap()
                .check_updates
        );
        Settings::apply(update(r#"{"checkUpdates": true}"#), &loc).unwrap();
        let offline = Env::from_pairs([("HF_HUB_OFFLINE", "1")]);
        let view = SettingsView::read(&loc, &offline).unwrap();
        assert!(!view.check_updates && view.offline);
    }

    #[test]
    fn the_budget_is_off_by_default_set_in_bytes_and_zero_turns_it_off() {
        let dir = tempfile::tempdir().unwrap();
        let loc = location(dir.path(), LocationSource::Default);
        let view = SettingsView::read(&loc, &Env::default()).unwrap();
        assert_eq!((view.keep_under, view.keep_under_auto), (None, false));
        Settings::apply(
            update(r#"{"keepUnder": 50000000000, "keepUnderAuto": true}"#),
            &loc,
        )
        .unwrap();
        let view = SettingsView::read(&loc, &Env::default()).unwrap();
        assert_eq!(
            (view.keep_under, view.keep_under_auto),
            (Some(50_000_000_000), true)
        );
        Settings::apply(update(r#"{"keepUnder": 0}"#), &loc).unwrap();
        assert_eq!(
            SettingsView::read(&loc, &Env::default())
                .unwrap()
                .keep_under,
            None
        );
    }
}
