//! The shells only call core (issue 15): what a CLI command prints is what
//! the one core call it makes answers, and the app makes the same call.

use std::fs;
use std::path::Path;
use std::process::Output;

use haid_models::cache::verify::verify;
use haid_models::cache::RepoId;
use haid_models::download::{Hub, HubConfig};
use haid_models::env::Env;
use haid_models::migrate::{self, OldFolder};
use haid_models_tests::fake_hub::FakeHub;
use haid_models_tests::fixture::{weights, CacheFixture};
use haid_models_tests::haid;
use serde_json::Value;

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn verify_with_the_hub_answers_the_same_from_the_cli_and_from_core() {
    let fx = CacheFixture::new();
    let hub = FakeHub::start(fx.dir.path().join("hub-root"));
    let dir = hub.root.join("acme/v");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("config.json"), "{}").unwrap();
    fs::write(dir.join("w.bin"), weights(5, 3000)).unwrap();
    let cli = |args: &[&str]| {
        haid(fx.dir.path())
            .env("HF_ENDPOINT", &hub.url)
            .arg("--cache-dir")
            .arg(&fx.cache)
            .args(args)
            .output()
            .unwrap()
    };
    let dl = cli(&["download", "acme/v"]);
    assert!(dl.status.success(), "{}", text(&dl));
    // A file the hub lists is gone from the snapshot.
    let snapshot = fx.cache.join("models--acme--v/snapshots");
    let commit = fs::read_dir(&snapshot).unwrap().next().unwrap().unwrap();
    fs::remove_file(commit.path().join("w.bin")).unwrap();

    let out = cli(&["verify", "acme/v", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();

    let env = Env::from_pairs([("HF_ENDPOINT", hub.url.as_str())]);
    let config = HubConfig::from_env(&env, &fx.dir.path().join("no-hf-home"));
    let core_hub = Hub::new(config, &fx.cache).unwrap();
    let repo = RepoId::model("acme/v").unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime
        .block_on(verify(&fx.cache, Some(&core_hub), &repo, None))
        .unwrap();
    assert_eq!(report.hub, "checked");
    assert_eq!(serde_json::to_value(&report).unwrap(), printed);
    let said = String::from_utf8_lossy(&out.stderr);
    let damaged = report.verdict().unwrap_err().to_string();
    assert!(said.contains(&damaged), "{said}\nvs {damaged}");
}

/// Runs `migrate` with the usual old data folder at `data` (HAID_DATA_DIR).
fn migrate_from_usual(fx: &CacheFixture, data: &Path, args: &[&str]) -> Output {
    haid(fx.dir.path())
        .env("HAID_DATA_DIR", data)
        .arg("--cache-dir")
        .arg(&fx.cache)
        .arg("migrate")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn no_old_data_folder_is_nothing_to_migrate_for_the_cli_as_for_the_app() {
    let fx = CacheFixture::new();
    let gone = fx.dir.path().join("never-had-the-old-services");

    let out = migrate_from_usual(&fx, &gone, &["--dry-run", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The app's banner asks core the same question.
    let plan = migrate::plan(OldFolder::Usual(&gone), &fx.cache).unwrap();
    assert_eq!(serde_json::to_value(&plan).unwrap(), printed);
    assert_eq!(printed["from_exists"], false);

    let out = migrate_from_usual(&fx, &gone, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Nothing to migrate: there is no old data folder at"),
        "{}",
        text(&out)
    );
    let out = migrate_from_usual(&fx, &gone, &["--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["models"], 0);
    assert!(!gone.exists(), "nothing was created");

    // A folder the user names is another matter: a typo is an error.
    let out = migrate_from_usual(&fx, &gone, &["--from", gone.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not a folder"), "{}", text(&out));
}
