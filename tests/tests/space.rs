//! `haid-models space` and `clear-xet`: where the space goes, and the xet
//! chunk cache emptied without touching anything else.

use std::fs;
use std::path::Path;
use std::process::Output;

use haid_models_tests::fixture::{commit, symlink, weights};
use haid_models_tests::haid;
use haid_models_tests::output::json_ok;
use haid_models_tests::tree_walk::tree_state;
use serde_json::json;

fn run(root: &Path, home: &Path, args: &[&str]) -> Output {
    haid(root).env("HF_HOME", home).args(args).output().unwrap()
}

/// A one-file model in the cache under `home`.
fn model(home: &Path, name: &str, bytes: usize) -> std::path::PathBuf {
    let repo = home.join(format!("hub/models--acme--{name}"));
    let c = commit(name);
    let content = weights(3, bytes);
    let etag = haid_models_tests::fixture::etag(&content);
    fs::create_dir_all(repo.join("blobs")).unwrap();
    fs::create_dir_all(repo.join("snapshots").join(&c)).unwrap();
    fs::create_dir_all(repo.join("refs")).unwrap();
    fs::write(repo.join("blobs").join(&etag), &content).unwrap();
    fs::write(repo.join("refs/main"), &c).unwrap();
    symlink(
        Path::new(&format!("../../blobs/{etag}")),
        &repo.join("snapshots").join(&c).join("model.safetensors"),
    );
    repo
}

#[test]
fn space_shows_each_repo_the_unfinished_the_prunable_and_the_hf_home() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("hf");
    model(&home, "big", 5_000);
    let small = model(&home, "small", 2_000);
    fs::write(
        small
            .join("blobs")
            .join(format!("{}.incomplete", "e".repeat(64))),
        vec![1u8; 300],
    )
    .unwrap();
    fs::create_dir_all(home.join("xet/chunks")).unwrap();
    fs::write(home.join("xet/chunks/a"), vec![0u8; 7_000]).unwrap();
    fs::create_dir_all(home.join("assets")).unwrap();
    fs::write(home.join("assets/x"), vec![0u8; 100]).unwrap();
    let manifest = tmp.path().join("m.json");
    fs::write(
        &manifest,
        json!({"test": [{"id": "acme/big", "name": "b", "team": "acme"}]}).to_string(),
    )
    .unwrap();

    let report = json_ok(&run(
        tmp.path(),
        &home,
        &["space", "--json", "--manifest", manifest.to_str().unwrap()],
    ));
    assert_eq!(report["cache_bytes"], 7_300);
    assert_eq!(report["incomplete_bytes"], 300);
    assert_eq!(report["prunable_bytes"], 300, "the abandoned partial");
    assert_eq!(
        report["repos"],
        json!([
            {"id": "acme/big", "type": "test", "in_manifest": true, "size_on_disk": 5_000, "shared_bytes": 0},
            {"id": "acme/small", "type": "other", "in_manifest": false, "size_on_disk": 2_300, "shared_bytes": 0},
        ])
    );
    assert_eq!(report["shared"], json!([]), "no shared store here");
    let names: Vec<(&str, u64, bool)> = report["home"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["bytes"].as_u64().unwrap(),
                f["clearable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [("xet", 7_000, true), ("assets", 100, false)],
        "the cache itself is not listed"
    );
    assert!(report["free_bytes"].as_u64().unwrap() > 0);
    let text = run(tmp.path(), &home, &["space"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("clear-xet"));
}

#[test]
fn clear_xet_empties_only_the_xet_cache_and_never_follows_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("hf");
    model(&home, "m", 1_000);
    fs::create_dir_all(home.join("xet/chunks")).unwrap();
    fs::write(home.join("xet/chunks/a"), vec![0u8; 4_000]).unwrap();
    let before = tree_state(tmp.path(), &[&home.join("xet")]);
    let dry = json_ok(&run(
        tmp.path(),
        &home,
        &["clear-xet", "--dry-run", "--json"],
    ));
    assert_eq!(
        (dry["freed_bytes"].as_u64(), dry["dry_run"].as_bool()),
        (Some(4_000), Some(true))
    );
    assert!(home.join("xet/chunks/a").exists());
    let out = run(tmp.path(), &home, &["clear-xet", "--yes", "--json"]);
    assert_eq!(json_ok(&out)["freed_bytes"], 4_000);
    assert!(!home.join("xet").exists());
    assert_eq!(
        tree_state(tmp.path(), &[]),
        before,
        "nothing but xet changed"
    );

    // A link named xet (to a folder elsewhere) is removed; what it points to is not.
    let elsewhere = tmp.path().join("precious");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::write(elsewhere.join("keep"), "data").unwrap();
    symlink(&elsewhere, &home.join("xet"));
    let out = run(tmp.path(), &home, &["clear-xet", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read_to_string(elsewhere.join("keep")).unwrap(), "data");
}
