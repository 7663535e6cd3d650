//! The same cache scanned by the reference (`huggingface_hub.scan_cache_dir`)
//! and by `haid-models scan --json`: every repo it lists must agree.

use std::fs;

use haid_models_tests::fixture::{commit, etag, weights, CacheFixture};
use haid_models_tests::{haid, python};
use serde_json::Value;

/// A cache with every case: shared blobs, detached revisions, refs/pr/N,
/// unfinished downloads, datasets, a dangling pointer, litter, a link outside.
fn rich_cache() -> CacheFixture {
    let fx = CacheFixture::new();
    let (a, b, c) = (commit("a"), commit("b"), commit("c"));
    let cfg: &[u8] = b"{\"dim\": 384}";
    let w1 = weights(1, 20_000);
    let w2 = weights(2, 30_000);
    fx.repo("models--org--shared")
        .revision(&a, &[("config.json", cfg), ("model.safetensors", &w1)])
        .revision(
            &b,
            &[
                ("config.json", cfg),
                ("model.safetensors", &w2),
                ("onnx/model.onnx", &w2),
            ],
        )
        .revision(&c, &[("config.json", cfg)])
        .reference("main", &b)
        .reference("refs/pr/1", &c);
    fx.repo("models--gpt2")
        .revision(&a, &[("config.json", b"{}")])
        .reference("main", &a);
    fx.repo("models--org--downloading")
        .revision(&a, &[("config.json", cfg)])
        .reference("main", &a)
        .incomplete(&etag(&w1), 4096);
    fx.repo("datasets--org--data")
        .revision(
            &a,
            &[
                ("train.csv", b"a,b\n1,2\n"),
                ("test.csv", &weights(3, 2048)),
            ],
        )
        .reference("main", &a);
    fx.repo("models--org--dangling")
        .revision(&a, &[("config.json", cfg)])
        .dangling(&a, "model.bin")
        .reference("main", &a);
    fs::write(fx.cache.join("stray.txt"), "x").unwrap();
    fs::create_dir_all(fx.cache.join(".locks/models--org--shared")).unwrap();
    fs::write(
        fx.cache.join("CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55",
    )
    .unwrap();
    fx
}

fn ours(fx: &CacheFixture) -> Value {
    let out = haid(fx.dir.path())
        .args(["scan", "--json", "--cache-dir"])
        .arg(&fx.cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn find<'a>(repos: &'a Value, id: &str, kind: &str) -> Option<&'a Value> {
    repos
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo_id"] == id && r["repo_type"] == kind)
}

const REPO_FIELDS: [&str; 4] = ["size_on_disk", "nb_files", "last_accessed", "last_modified"];
const REVISION_FIELDS: [&str; 5] = [
    "commit_hash",
    "refs",
    "size_on_disk",
    "nb_files",
    "last_modified",
];

#[test]
fn every_repo_the_reference_lists_agrees() {
    let fx = rich_cache();
    let reference = python::run_json("hf_scan.py", &[fx.cache.to_str().unwrap()]);
    let mine = ours(&fx);

    let listed = reference["repos"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        4,
        "the reference skips only the corrupt repo: {reference}"
    );
    for theirs in listed {
        let (id, kind) = (
            theirs["repo_id"].as_str().unwrap(),
            theirs["repo_type"].as_str().unwrap(),
        );
        let mine = find(&mine["repos"], id, kind).unwrap_or_else(|| panic!("{id} missing"));
        for field in REPO_FIELDS {
            assert_eq!(mine[field], theirs[field], "{id}: {field}");
        }
        let my_revs: Vec<Value> = mine["revisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                REVISION_FIELDS
                    .iter()
                    .map(|f| (f.to_string(), r[*f].clone()))
                    .collect()
            })
            .collect();
        assert_eq!(
            Value::Array(my_revs),
            theirs["revisions"],
            "{id}: revisions"
        );
    }
    assert_eq!(
        mine["incomplete_size_on_disk"],
        reference["incomplete_size_on_disk"]
    );
}

#[test]
fn what_the_reference_hides_we_list_as_corrupt() {
    let fx = rich_cache();
    let reference = python::run_json("hf_scan.py", &[fx.cache.to_str().unwrap()]);
    assert!(find(&reference["repos"], "org/dangling", "model").is_none());
    let mine = ours(&fx);
    let dangling = find(&mine["repos"], "org/dangling", "model").unwrap();
    assert_eq!(dangling["state"], "corrupt");
    assert_eq!(
        find(&mine["repos"], "org/downloading", "model").unwrap()["state"],
        "partial"
    );
    assert_eq!(
        find(&mine["repos"], "org/shared", "model").unwrap()["state"],
        "complete"
    );
    let warnings = mine["warnings"].as_array().unwrap();
    assert!(warnings
        .iter()
        .any(|w| w["message"].as_str().unwrap().contains("dangling")));
    assert!(warnings
        .iter()
        .any(|w| w["path"].as_str().unwrap().ends_with("stray.txt")));
}

/// A cache written by huggingface_hub 2.4 (the release before the shared
/// store), from `target/venv-hf24` (`make test-deps`): read by us as 2.5 reads it.
#[test]
fn a_cache_written_by_huggingface_hub_2_4_reads_as_2_5_reads_it() {
    use haid_models_tests::fake_hub::FakeHub;
    let tmp = tempfile::tempdir().unwrap();
    let hub = FakeHub::start(tmp.path().join("hub"));
    hub.publish(
        "acme/old",
        &[
            ("config.json", b"{\"dim\": 8}".to_vec()),
            ("model.safetensors", weights(4, 300_000)),
        ],
    );
    let cache = tmp.path().join("cache");
    let hf24 = python::workspace_root().join("target/venv-hf24/bin/hf");
    assert!(
        hf24.exists(),
        "run `make test-deps` (creates target/venv-hf24)"
    );
    let out = std::process::Command::new(hf24)
        .args(["download", "acme/old", "--cache-dir"])
        .arg(&cache)
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_XET", "1")
        .env_remove("HF_HOME")
        .env_remove("HF_HUB_CACHE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = python::run_json("shared_store.py", &["scan", cache.to_str().unwrap()]);
    let mine = haid(tmp.path())
        .args(["scan", "--json", "--cache-dir"])
        .arg(&cache)
        .output()
        .unwrap();
    let mine: Value = serde_json::from_slice(&mine.stdout).unwrap();
    assert_eq!(mine["size_on_disk"], reference["size_on_disk"]);
    assert_eq!(
        find(&mine["repos"], "acme/old", "model").unwrap()["size_on_disk"],
        reference["repos"]["model/acme/old"]
    );
    let verify = haid(tmp.path())
        .env("HF_HUB_OFFLINE", "1")
        .args(["verify", "acme/old", "--cache-dir"])
        .arg(&cache)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
