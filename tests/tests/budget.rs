//! `prune --keep-under SIZE`: the usual prune, then whole repos no manifest
//! names, least recently used first, until the cache fits; manifest models
//! and downloads running are kept; the dry run changes nothing.

use std::fs;
use std::process::Output;
use std::time::{Duration, SystemTime};

use haid_models_tests::fixture::{commit, weights, CacheFixture};
use haid_models_tests::haid;
use haid_models_tests::output::json_ok;
use haid_models_tests::tree_walk::tree_state;
use serde_json::{json, Value};

const DAY: u64 = 86_400;

/// A one-file model of `bytes`, last used `days` ago.
fn model(fx: &CacheFixture, name: &str, bytes: usize, days: u64) {
    let c = commit(name);
    let content = weights(name.len() as u8, bytes);
    let repo = fx.repo(&format!("models--acme--{name}"));
    repo.revision(&c, &[("model.safetensors", &content)])
        .reference("main", &c);
    let used = SystemTime::now() - Duration::from_secs(days * DAY);
    for blob in fs::read_dir(repo.path.join("blobs")).unwrap() {
        let file = fs::File::options()
            .write(true)
            .open(blob.unwrap().path())
            .unwrap();
        file.set_times(fs::FileTimes::new().set_accessed(used))
            .unwrap();
    }
}

fn prune(fx: &CacheFixture, manifest: &std::path::Path, args: &[&str]) -> Output {
    haid(fx.dir.path())
        .arg("--cache-dir")
        .arg(&fx.cache)
        .args(["prune", "--json", "--manifest"])
        .arg(manifest)
        .args(args)
        .output()
        .unwrap()
}

fn ids(plan: &Value) -> Vec<String> {
    plan["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repo_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_least_recently_used_go_first_and_manifest_models_and_downloads_stay() {
    let fx = CacheFixture::new();
    model(&fx, "oldest", 30_000, 300); // named by the manifest: kept however old
    model(&fx, "old", 20_000, 100);
    model(&fx, "busy", 25_000, 90); // a download holds its lock: kept
    model(&fx, "mid", 10_000, 50);
    model(&fx, "new", 5_000, 1);
    let manifest = fx.dir.path().join("manifest.json");
    let entry = json!({"id": "acme/oldest", "name": "o", "team": "acme"});
    fs::write(&manifest, json!({"test": [entry]}).to_string()).unwrap();
    let locks = fx.cache.join(".locks/models--acme--busy");
    fs::create_dir_all(&locks).unwrap();
    let lock = fs::File::create(locks.join(format!("{}.lock", "ab".repeat(20)))).unwrap();
    lock.lock().unwrap();

    let before = tree_state(&fx.cache, &[]);
    // 90,000 bytes now; under 56,000: old, mid, then new go (oldest and busy stay).
    let plan = json_ok(&prune(
        &fx,
        &manifest,
        &["--keep-under", "56KB", "--dry-run"],
    ));
    assert_eq!(ids(&plan), ["acme/old", "acme/mid", "acme/new"]);
    assert_eq!(plan["size_before"], 90_000);
    assert_eq!(plan["size_after"], 55_000);
    assert_eq!(plan["fits"], true);
    assert_eq!(plan["freed_bytes"], 35_000);
    assert_eq!(plan["dry_run"], true);
    assert!(
        plan["repos"][0]["last_accessed"].as_i64().unwrap()
            < plan["repos"][1]["last_accessed"].as_i64().unwrap()
    );
    assert_eq!(plan["repos"][0]["size_on_disk"], 20_000);
    assert_eq!(
        tree_state(&fx.cache, &[]),
        before,
        "the dry run changes nothing"
    );
    // Under 50,000 it cannot fit: what is left is the manifest's and a download's.
    let plan = json_ok(&prune(
        &fx,
        &manifest,
        &["--keep-under", "50KB", "--dry-run"],
    ));
    assert_eq!(plan["fits"], false);
    assert_eq!(plan["size_after"], 55_000);

    let plan = json_ok(&prune(&fx, &manifest, &["--keep-under", "70000B", "--yes"]));
    assert_eq!(ids(&plan), ["acme/old"]);
    assert_eq!(plan["fits"], true);
    assert!(!fx.cache.join("models--acme--old").exists());
    for kept in ["oldest", "busy", "mid", "new"] {
        assert!(
            fx.cache.join(format!("models--acme--{kept}")).exists(),
            "{kept}"
        );
    }
    drop(lock);
}

#[test]
fn a_cache_under_its_budget_loses_nothing_and_bad_sizes_are_refused() {
    let fx = CacheFixture::new();
    model(&fx, "small", 1_000, 400);
    let manifest = fx.dir.path().join("manifest.json");
    fs::write(&manifest, "{}").unwrap();
    let plan = json_ok(&prune(&fx, &manifest, &["--keep-under", "1GB", "--yes"]));
    assert_eq!(plan["repos"], json!([]));
    assert_eq!(plan["fits"], true);
    assert!(fx.cache.join("models--acme--small").exists());
    let out = prune(&fx, &manifest, &["--keep-under", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lots"));
}
