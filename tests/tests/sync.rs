//! The manifest as a contract: `sync`, `sync --check`, pinned revisions,
//! file sets, `outdated` and `update`, against the fake hub, which counts
//! what it serves, and with Python's huggingface_hub reading the result.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use haid_models_tests::fake_hub::{FakeHub, HubRepo};
use haid_models_tests::fixture::weights;
use haid_models_tests::output::{assert_ok, json, ndjson, stderr};
use haid_models_tests::{haid, python};
use serde_json::{json, Value};

struct World {
    tmp: tempfile::TempDir,
    hub: FakeHub,
    cache: PathBuf,
    manifest: PathBuf,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        let cache = tmp.path().join("cache");
        let manifest = tmp.path().join("manifest.json");
        Self {
            tmp,
            hub,
            cache,
            manifest,
        }
    }

    /// A repo with a config, a tokenizer, weights in two formats.
    fn model(&self, id: &str, seed: u8) -> HubRepo {
        let files: [(&str, Vec<u8>); 4] = [
            ("config.json", format!("{{\"seed\": {seed}}}").into_bytes()),
            ("tokenizer.json", weights(seed, 5_000)),
            ("model.safetensors", weights(seed + 1, 300_000)),
            ("onnx/model.onnx", weights(seed + 2, 200_000)),
        ];
        for (path, content) in files {
            let p = self.hub.root.join(id).join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        self.hub.repo(id)
    }

    /// Writes the user manifest: one `test` group of `models`. (It is merged
    /// over the bundled manifest, whose models this hub does not have: `sync`
    /// is given `--type test`.)
    fn manifest(&self, models: Value) {
        std::fs::write(&self.manifest, json!({ "test": models }).to_string()).unwrap();
    }

    fn haid(&self, args: &[&str]) -> Output {
        let mut cmd: Command = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        if ["sync", "outdated", "update"].contains(&args[0]) {
            cmd.arg("--manifest").arg(&self.manifest);
        }
        if args[0] == "sync" && !args.contains(&"--type") {
            cmd.args(["--type", "test"]);
        }
        cmd.output().unwrap()
    }

    fn repo_dir(&self, id: &str) -> PathBuf {
        self.cache
            .join(format!("models--{}", id.replace('/', "--")))
    }
}

fn entry(id: &str, extra: Value) -> Value {
    let mut e = json!({"id": id, "name": id, "team": "acme"});
    e.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    e
}

fn size_of(repo: &HubRepo, keep: impl Fn(&str) -> bool) -> u64 {
    repo.files
        .iter()
        .filter(|f| keep(&f.path))
        .map(|f| f.size)
        .sum()
}

/// A model's row in `list --json`'s `test` group.
fn test_row(list: &Value, id: &str) -> Value {
    let group = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["type"] == "test")
        .unwrap();
    group["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap()
        .clone()
}

fn read_ref(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("refs/main")).unwrap()
}

#[test]
fn sync_fetches_only_what_is_missing_never_an_excluded_file_and_a_second_sync_nothing() {
    let w = World::new();
    let full = w.model("acme/full", 1);
    let onnx = w.model("acme/onnx", 10);
    w.manifest(json!([
        entry("acme/full", json!({})),
        entry("acme/onnx", json!({"include": ["*.json", "onnx/*"]})),
    ]));
    // Python downloaded part of one model first: its blobs are reused.
    python::hf_ok(
        &["download", "acme/full", "config.json", "tokenizer.json"],
        &w.cache,
        &w.hub.url,
    );
    w.hub.reset_counts();

    let out = w.haid(&["sync", "--json"]);
    assert_ok(&out);
    let events = ndjson(&out);
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(
        (summary["ready"].as_u64(), summary["not_ready"].as_u64()),
        (Some(2), Some(0))
    );
    let needed = size_of(&full, |p| p != "config.json" && p != "tokenizer.json")
        + size_of(&onnx, |p| p.ends_with(".json") || p.starts_with("onnx/"));
    assert_eq!(
        w.hub.bytes_served(),
        needed,
        "only the missing bytes, and no excluded file"
    );
    assert!(!w
        .repo_dir("acme/onnx")
        .join("snapshots")
        .join(&onnx.sha)
        .join("model.safetensors")
        .exists());
    let progress: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "sync_progress")
        .collect();
    let last = progress.last().expect("an aggregate progress");
    assert_eq!(last["models"], 2);
    assert_eq!(last["bytes"], last["total"]);
    for id in ["acme/full", "acme/onnx"] {
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "model_ready" && e["repo_id"] == id),
            "{id}"
        );
    }
    // `list` says downloaded for the one with a file set, whose other files are absent.
    let list = json(&w.haid(&["list", "--json", "--manifest", w.manifest.to_str().unwrap()]));
    let row = |id: &str| -> Value { test_row(&list, id) };
    assert_eq!(row("acme/onnx")["state"], "downloaded");
    assert_eq!(row("acme/onnx")["to_get_bytes"], 0);

    w.hub.reset_counts();
    let again = w.haid(&["sync"]);
    assert_ok(&again);
    assert_eq!(w.hub.bytes_served(), 0, "a second sync downloads nothing");
    assert!(
        stderr(&again).contains("2 of 2 models ready"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn sync_check_makes_no_request_writes_nothing_and_gates_on_readiness() {
    let w = World::new();
    w.model("acme/full", 1);
    w.manifest(json!([entry("acme/full", json!({}))]));
    let out = w.haid(&["sync", "--check", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["not_ready"], 1);
    assert_eq!(report["models"][0]["state"], "not_downloaded");
    assert!(
        stderr(&out).contains("acme/full (not_downloaded)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.hub.requests(), 0);
    assert!(!w.cache.exists(), "--check creates nothing");

    assert_ok(&w.haid(&["sync"]));
    w.hub.reset_counts();
    let out = w.haid(&["sync", "--check"]);
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("downloaded"));
    assert_eq!(w.hub.requests(), 0);
}

#[test]
fn a_pinned_commit_stays_pinned_when_main_moves_and_needs_no_request_once_whole() {
    let w = World::new();
    let v1 = w.model("acme/pinned", 1);
    w.manifest(json!([entry("acme/pinned", json!({"revision": v1.sha}))]));
    assert_ok(&w.haid(&["sync"]));
    let v2 = w.hub.advance("acme/pinned", |dir| {
        std::fs::write(dir.join("config.json"), "{\"seed\": 2}").unwrap();
    });
    assert_ne!(v1.sha, v2);
    w.hub.reset_counts();
    let out = w.haid(&["sync", "--json"]);
    assert_ok(&out);
    assert_eq!(w.hub.requests(), 0, "a whole pinned commit asks nothing");
    let ready = ndjson(&out)
        .into_iter()
        .find(|e| e["event"] == "model_ready")
        .unwrap();
    assert_eq!(ready["commit_hash"], v1.sha.as_str());
    assert_eq!(ready["asked_hub"], false);
    // Pinned models are not candidates for an update.
    let outdated = json(&w.haid(&["outdated", "--json"]));
    assert_eq!(outdated["models"], json!([]));
    let list = json(&w.haid(&["list", "--json", "--manifest", w.manifest.to_str().unwrap()]));
    let row = &test_row(&list, "acme/pinned");
    assert_eq!(row["commit"], v1.sha.as_str());
    assert_eq!(row["revision"], v1.sha.as_str());
    let snapshot = w.repo_dir("acme/pinned").join("snapshots").join(&v1.sha);
    assert_eq!(row["path"], snapshot.to_str().unwrap());
}

#[test]
fn update_sends_only_the_changed_bytes_and_leaves_the_old_revision_for_prune() {
    let w = World::new();
    let v1 = w.model("acme/moving", 1);
    w.manifest(json!([entry("acme/moving", json!({}))]));
    assert_ok(&w.haid(&["sync"]));
    let dir = w.repo_dir("acme/moving");
    let new_config = b"{\"seed\": 99, \"changed\": true}".to_vec();
    let v2 = w.hub.advance("acme/moving", |d| {
        std::fs::write(d.join("config.json"), &new_config).unwrap();
        std::fs::write(d.join("extra.txt"), "a new file").unwrap();
    });
    w.hub.reset_counts();
    let out = w.haid(&["outdated", "--json"]);
    assert_ok(&out);
    let report = json(&out);
    let m = &report["models"][0];
    assert_eq!(m["id"], "acme/moving");
    assert_eq!(m["local_commit"], v1.sha.as_str());
    assert_eq!(m["remote_commit"], v2.as_str());
    assert_eq!(m["changed_files"], json!(["config.json", "extra.txt"]));
    let changed = (new_config.len() + "a new file".len()) as u64;
    assert_eq!(m["download_bytes"], changed);
    assert_eq!(w.hub.bytes_served(), 0, "outdated downloads nothing");

    w.hub.reset_counts();
    let out = w.haid(&["update", "acme/moving", "--json"]);
    assert_ok(&out);
    assert_eq!(
        w.hub.bytes_served(),
        changed,
        "unchanged blobs are reused by their etag"
    );
    assert_eq!(read_ref(&dir), v2);
    let updated = ndjson(&out)
        .into_iter()
        .find(|e| e["event"] == "updated")
        .unwrap();
    assert_eq!(updated["from"], v1.sha.as_str());
    assert_eq!(updated["to"], v2.as_str());
    let old_config = v1.file("config.json").unwrap().size;
    assert_eq!(
        updated["old"]["prunable_bytes"], old_config,
        "only the old config is the old revision's own"
    );
    assert_eq!(updated["old"]["pruned"], false);

    // Python, offline, resolves main to the new revision.
    let read = python::run_json(
        "read_offline.py",
        &[w.cache.to_str().unwrap(), "acme/moving", "extra.txt"],
    );
    assert_eq!(
        read["snapshot"],
        dir.join("snapshots").join(&v2).to_str().unwrap()
    );
    // The old revision is detached, and prune frees exactly it.
    let plan = json(&w.haid(&["prune", "--dry-run", "--json"]));
    let revisions = plan["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 1, "{plan}");
    assert_eq!(revisions[0]["commit_hash"], v1.sha.as_str());
    assert_eq!(plan["freed_bytes"], old_config);
    let out = w.haid(&["outdated"]);
    assert_ok(&out);
    assert!(stderr(&out).contains("up to date"), "{}", stderr(&out));
}

#[test]
fn update_prune_removes_the_old_revision_once_the_new_one_verified() {
    let w = World::new();
    let v1 = w.model("acme/moving", 1);
    w.manifest(json!([entry(
        "acme/moving",
        json!({"include": ["*.json"]})
    )]));
    assert_ok(&w.haid(&["sync"]));
    let v2 = w.hub.advance("acme/moving", |d| {
        std::fs::write(d.join("config.json"), "{\"seed\": 3}").unwrap();
    });
    let out = w.haid(&["update", "--all", "--prune"]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("the old revision was removed"),
        "{}",
        stderr(&out)
    );
    let snapshots = w.repo_dir("acme/moving").join("snapshots");
    assert!(snapshots.join(&v2).join("config.json").exists());
    assert!(!snapshots.join(&v1.sha).exists());
    assert!(
        !snapshots.join(&v2).join("model.safetensors").exists(),
        "the file set still holds"
    );
}

#[test]
fn bad_manifests_and_bad_requests_get_clear_errors_and_touch_nothing() {
    let w = World::new();
    w.model("acme/full", 1);
    for (extra, needle) in [
        (
            json!({"revision": "../../etc"}),
            "\"revision\" \"../../etc\" is not valid",
        ),
        (json!({"revision": ""}), "\"revision\" \"\" is not valid"),
        (
            json!({"include": ["onnx/["]}),
            "\"onnx/[\" is not a valid glob",
        ),
        (json!({"exclude": "*.bin"}), "a sequence"),
    ] {
        w.manifest(json!([entry("acme/full", extra)]));
        for args in [&["sync"][..], &["sync", "--check"]] {
            let out = w.haid(args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            let err = stderr(&out);
            assert!(err.contains("manifest.json:1:"), "the place: {err}");
            assert!(err.contains(needle), "{needle:?} not in {err}");
        }
    }
    assert_eq!(w.hub.requests(), 0);
    assert!(!w.cache.exists());
    w.manifest(json!([entry("acme/full", json!({}))]));
    let out = w.haid(&["update"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("give --all"), "{}", stderr(&out));
    let out = w.haid(&["update", "acme/full"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("download it first"),
        "{}",
        stderr(&out)
    );
    let out = w.haid(&["sync", "--type", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("test"),
        "the known types: {}",
        stderr(&out)
    );
}

#[test]
fn a_model_that_cannot_be_fetched_is_named_and_the_others_still_sync() {
    let w = World::new();
    w.model("acme/full", 1);
    w.manifest(json!([
        entry("acme/full", json!({})),
        entry("acme/gone", json!({}))
    ]));
    let out = w.haid(&["sync", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let events = ndjson(&out);
    let failed = events
        .iter()
        .find(|e| e["event"] == "model_failed")
        .unwrap();
    assert_eq!(failed["repo_id"], "acme/gone");
    assert_eq!(failed["kind"], "not_found");
    let summary = events.last().unwrap();
    assert_eq!(
        (summary["ready"].as_u64(), summary["not_ready"].as_u64()),
        (Some(1), Some(1))
    );
    let err = stderr(&out);
    assert!(
        err.contains("1 of the manifest's models is not ready: acme/gone"),
        "{err}"
    );
}

#[test]
fn limit_rate_holds_the_bandwidth_of_the_whole_set() {
    let w = World::new();
    for id in ["acme/slow-a", "acme/slow-b"] {
        let p = w.hub.root.join(id).join("model.safetensors");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, weights(3, 1 << 20)).unwrap();
    }
    w.manifest(json!([
        entry("acme/slow-a", json!({})),
        entry("acme/slow-b", json!({}))
    ]));
    let start = std::time::Instant::now();
    // Two models at once, 2 MiB in all, under one limit of 1 MiB/s.
    let out = w.haid(&["sync", "--limit-rate", "1M", "--concurrency", "2"]);
    let took = start.elapsed().as_secs_f64();
    assert_ok(&out);
    assert_eq!(w.hub.bytes_served(), 2 << 20);
    // Never faster than the limit (within 10 %); the upper bound leaves room
    // for a loaded machine.
    assert!(took >= 1.8, "2 MiB at 1 MiB/s took {took:.2} s");
    assert!(took < 6.0, "2 MiB at 1 MiB/s took {took:.2} s");
    let out = w.haid(&["sync", "--limit-rate", "fast"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("write it as curl does"),
        "{}",
        stderr(&out)
    );
}
