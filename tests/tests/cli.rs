//! `haid-models` as scripts use it: JSON on stdout, exit codes, messages.

use std::fs;
use std::path::Path;
use std::process::Output;

use haid_models_tests::fixture::{commit, weights, CacheFixture};
use haid_models_tests::haid;
use serde_json::Value;

fn run(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = haid(root);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// bge downloaded, MiniLM half-way, blip-base corrupt, one unlisted model, one dataset.
fn product_cache() -> CacheFixture {
    let fx = CacheFixture::new();
    let c = commit("v1");
    fx.repo("models--BAAI--bge-large-en-v1.5")
        .revision(
            &c,
            &[
                ("config.json", b"{}"),
                ("model.safetensors", &weights(1, 4000)),
            ],
        )
        .reference("main", &c);
    fx.repo("models--sentence-transformers--all-MiniLM-L6-v2")
        .revision(&c, &[("config.json", b"{}")])
        .reference("main", &c)
        .incomplete("0123abcd", 500);
    fx.repo("models--Salesforce--blip-image-captioning-base")
        .revision(&c, &[("config.json", b"{}")])
        .dangling(&c, "model.safetensors")
        .reference("main", &c);
    fx.repo("models--someone--extra")
        .revision(&c, &[("w.bin", &weights(2, 3000))])
        .reference("main", &c);
    fx.repo("datasets--someone--data")
        .revision(&c, &[("a.csv", b"1")])
        .reference("main", &c);
    fx
}

fn model<'a>(list: &'a Value, group: &str, id: &str) -> &'a Value {
    list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["type"] == group)
        .and_then(|g| {
            g["models"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["id"] == id)
        })
        .unwrap_or_else(|| panic!("{group}/{id} not in {list}"))
}

#[test]
fn where_names_the_rule_that_chose_the_cache() {
    let fx = CacheFixture::new();
    let root = fx.dir.path();
    let v = json(&run(root, &["where", "--json"], &[("HF_HOME", "/srv/hf")]));
    assert_eq!(v["cache_dir"], "/srv/hf/hub");
    assert_eq!(v["source"], "HF_HOME");
    assert_eq!(v["hf_home"], "/srv/hf");
    let v = json(&run(
        root,
        &["where", "--json", "--cache-dir", "/x/hub"],
        &[("HF_HOME", "/srv/hf")],
    ));
    assert_eq!(
        (v["cache_dir"].as_str(), v["source"].as_str()),
        (Some("/x/hub"), Some("--cache-dir"))
    );
    let v = json(&run(root, &["--json", "where"], &[]));
    assert_eq!(v["source"], "default");
    let data = root.join("data/haid");
    assert_eq!(v["cache_dir"], data.join("models/hub").to_str().unwrap());
    assert_eq!(v["data_dir"], data.to_str().unwrap());
    assert_eq!(
        v["settings_file"],
        root.join("config/com.haid.models/settings.json")
            .to_str()
            .unwrap()
    );
    // Null unless a move of this cache was cut short (move_cache tests it).
    assert!(v["unfinished_move"].is_null(), "{v}");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "cache_dir",
            "data_dir",
            "hf_home",
            "settings_file",
            "source",
            "unfinished_move"
        ]
    );
}

#[test]
fn list_groups_the_manifest_with_states() {
    let fx = product_cache();
    let v = json(&run(
        fx.dir.path(),
        &["list", "--json", "--cache-dir", fx.cache.to_str().unwrap()],
        &[],
    ));
    let types: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["embedding", "caption", "other"]);
    let bge = model(&v, "embedding", "BAAI/bge-large-en-v1.5");
    assert_eq!(bge["state"], "downloaded");
    assert_eq!(bge["size_on_disk"], 4002);
    assert_eq!(bge["dimensions"], 1024);
    assert_eq!(bge["team"], "BAAI");
    let snapshot = fx
        .cache
        .join("models--BAAI--bge-large-en-v1.5/snapshots")
        .join(commit("v1"));
    assert_eq!(bge["path"], snapshot.to_str().unwrap());
    let mini = model(&v, "embedding", "sentence-transformers/all-MiniLM-L6-v2");
    assert_eq!(
        (mini["state"].as_str(), mini["size_on_disk"].as_u64()),
        (Some("partial"), Some(502))
    );
    let gte = model(&v, "embedding", "Alibaba-NLP/gte-large-en-v1.5");
    assert_eq!(
        (gte["state"].as_str(), gte["size_on_disk"].as_u64()),
        (Some("not_downloaded"), Some(0))
    );
    assert!(gte["path"].is_null());
    assert_eq!(
        model(&v, "caption", "Salesforce/blip-image-captioning-base")["state"],
        "corrupt"
    );
    let extra = model(&v, "other", "someone/extra");
    assert_eq!(
        (extra["name"].as_str(), extra["team"].as_str()),
        (Some("extra"), Some("someone"))
    );
    assert_eq!(extra["link"], "https://huggingface.co/someone/extra");
    let others = v["groups"][2]["models"].as_array().unwrap();
    assert_eq!(others.len(), 1, "datasets are not models");
    assert_eq!(v["size_on_disk"], 4002 + 2 + 500 + 2 + 3000 + 1);
    assert!(!v["warnings"].as_array().unwrap().is_empty());
}

#[test]
fn list_type_and_filters() {
    let fx = product_cache();
    let cache = fx.cache.to_str().unwrap();
    let v = json(&run(
        fx.dir.path(),
        &["list", "--json", "--type", "caption", "--cache-dir", cache],
        &[],
    ));
    assert_eq!(v["groups"].as_array().unwrap().len(), 1);
    assert_eq!(v["groups"][0]["type"], "caption");
    let v = json(&run(
        fx.dir.path(),
        &[
            "list",
            "--json",
            "--filter",
            "state=not_downloaded",
            "--cache-dir",
            cache,
        ],
        &[],
    ));
    let ids: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["models"].as_array().unwrap())
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "Alibaba-NLP/gte-large-en-v1.5",
            "Salesforce/blip-image-captioning-large"
        ]
    );

    let out = run(
        fx.dir.path(),
        &["list", "--type", "audio", "--cache-dir", cache],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no model type \"audio\"") && err.contains("embedding, caption, other"),
        "{err}"
    );
}

#[test]
fn user_manifest_from_flag_or_env() {
    let fx = product_cache();
    let user = fx.dir.path().join("mine.json");
    fs::write(
        &user,
        r#"{"reranker": [{"id": "someone/extra", "name": "Extra", "team": "someone"}]}"#,
    )
    .unwrap();
    let cache = fx.cache.to_str().unwrap();
    for (args, env) in [
        (
            vec![
                "list",
                "--json",
                "--manifest",
                user.to_str().unwrap(),
                "--cache-dir",
                cache,
            ],
            vec![],
        ),
        (
            vec!["list", "--json", "--cache-dir", cache],
            vec![("HAID_MODELS_MANIFEST", user.to_str().unwrap())],
        ),
    ] {
        let v = json(&run(fx.dir.path(), &args, &env));
        assert_eq!(
            model(&v, "reranker", "someone/extra")["state"],
            "downloaded"
        );
        assert_eq!(
            v["groups"].as_array().unwrap().last().unwrap()["models"],
            serde_json::json!([])
        );
    }
}

#[test]
fn a_broken_manifest_fails_with_file_line_and_column() {
    let fx = CacheFixture::new();
    let bad = fx.dir.path().join("bad.json");
    fs::write(
        &bad,
        "{\"embedding\": [\n  {\"id\": \"a/b/c\", \"name\": \"x\", \"team\": \"y\"}\n]}",
    )
    .unwrap();
    let out = run(
        fx.dir.path(),
        &["list", "--json", "--manifest", bad.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no JSON on failure");
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:2:", bad.display())), "{err}");
    assert!(err.contains("more than one '/'"), "{err}");
}

#[test]
fn scan_json_filters_and_sorts() {
    let fx = product_cache();
    let cache = fx.cache.to_str().unwrap();
    let v = json(&run(
        fx.dir.path(),
        &["scan", "--json", "--cache-dir", cache, "--sort", "size"],
        &[],
    ));
    let sizes: Vec<u64> = v["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["size_on_disk"].as_u64().unwrap())
        .collect();
    let mut sorted = sizes.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(sizes, sorted);
    assert_eq!(sizes.len(), 5);
    let v = json(&run(
        fx.dir.path(),
        &[
            "scan",
            "--json",
            "--cache-dir",
            cache,
            "--filter",
            "type=dataset",
        ],
        &[],
    ));
    assert_eq!(v["repos"].as_array().unwrap().len(), 1);
    let repo = &v["repos"][0];
    for key in [
        "repo_id",
        "repo_type",
        "repo_path",
        "state",
        "size_on_disk",
        "nb_files",
        "incomplete_size_on_disk",
        "last_accessed",
        "last_modified",
        "refs",
        "revisions",
    ] {
        assert!(repo.get(key).is_some(), "scan --json lacks {key}");
    }
    assert_eq!(repo["refs"]["main"], commit("v1"));
}

#[test]
fn tables_for_people() {
    let fx = product_cache();
    let cache = fx.cache.to_str().unwrap();
    let out = run(fx.dir.path(), &["list", "--cache-dir", cache], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for needle in [
        "Embedding",
        "Caption",
        "Other models in the cache",
        "bge-large-en-v1.5",
        "1.34 GB",
        "4.00 kB",
        "not downloaded",
        "corrupt",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in:\n{text}");
    }
    let out = run(
        fx.dir.path(),
        &["scan", "--revisions", "--cache-dir", cache],
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("model/BAAI/bge-large-en-v1.5") && text.contains(&commit("v1")),
        "{text}"
    );
    assert!(text.contains("5 repo(s)"), "{text}");
    assert!(stderr(&out).contains("warning(s)"));
}

#[test]
fn usage_errors_exit_2_and_bad_values_exit_2() {
    let fx = CacheFixture::new();
    for args in [
        &["frobnicate"][..],
        &["list", "--bogus"],
        &["scan", "--sort", "colour"],
        &["scan", "--filter", "size>1XB"],
    ] {
        let out = run(fx.dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = run(fx.dir.path(), &["--version"], &[]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("haid-models "));
}

#[test]
fn a_cache_that_is_a_file_fails_clearly() {
    let fx = CacheFixture::new();
    let file = fx.dir.path().join("file");
    fs::write(&file, "").unwrap();
    let out = run(
        fx.dir.path(),
        &["scan", "--cache-dir", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is a file, not a folder"),
        "{}",
        stderr(&out)
    );
}
