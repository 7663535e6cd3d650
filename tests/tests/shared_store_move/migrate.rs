//! Migrating a private cache that has a shared store: each shared blob
//! comes as its payload's bytes, never as a link that would dangle.

use std::fs;

use haid_models_tests::fixture::{etag, weights};
use haid_models_tests::haid;
use haid_models_tests::output::assert_ok;

use super::{assert_scans_agree, publish, python_reads, repo, CONFIG_A, CONFIG_B};

#[test]
fn a_migration_from_a_private_cache_with_a_store_brings_the_payload_s_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let private = data.join("image-caption/org--a");
    let w = weights(7, 300_000);
    let e = etag(&w);
    repo(
        &private,
        "a",
        &[("config.json", CONFIG_A), ("model.safetensors", &w)],
    );
    repo(
        &private,
        "b",
        &[("config.json", CONFIG_B), ("model.safetensors", &w)],
    );
    let hash = publish(&private, "models--org--a", &e);
    assert_eq!(publish(&private, "models--org--b", &e), hash);

    let cache = tmp.path().join("cache");
    // The plan counts each shared blob's bytes for each repo (each gets a
    // copy), beside its own files (config, ref, listing).
    let plan = haid(tmp.path())
        .env("HF_HUB_OFFLINE", "1")
        .arg("--cache-dir")
        .arg(&cache)
        .args(["--json", "migrate", "--dry-run", "--from"])
        .arg(&data)
        .output()
        .unwrap();
    let plan = haid_models_tests::output::json_ok(&plan);
    for model in plan["models"].as_array().unwrap() {
        let bytes = model["bytes"].as_u64().unwrap() as usize;
        assert!((w.len()..w.len() + 2000).contains(&bytes), "{plan}");
    }
    let out = haid(tmp.path())
        .env("HF_HUB_OFFLINE", "1")
        .arg("--cache-dir")
        .arg(&cache)
        .args(["--json", "migrate", "--from"])
        .arg(&data)
        .output()
        .unwrap();
    assert_ok(&out);
    for name in ["a", "b"] {
        let blob = cache.join(format!("models--org--{name}/blobs")).join(&e);
        let meta = fs::symlink_metadata(&blob).unwrap();
        assert!(meta.is_file(), "{name}: a regular blob, not a moved link");
        assert_eq!(fs::read(&blob).unwrap(), w);
        assert_eq!(python_reads(&cache, name), e);
    }
    assert_scans_agree(tmp.path(), &cache);
    assert!(
        !private.exists(),
        "the private cache, its store with it, is gone"
    );
}
