//! Export and import with a shared store: an archive holds a shared blob's
//! bytes as a regular blob, and an import into a cache whose store has
//! those bytes links to them instead of writing a second copy.

use std::fs;
use std::path::Path;
use std::process::Command;

use haid_models_tests::fixture::etag;
use haid_models_tests::output::{assert_ok, ndjson};

use super::{
    assert_scans_agree, blob_line, publish, python_reads, refs_lines, repo, Shared, CONFIG_A,
    CONFIG_B,
};

/// `org/a` exported to `a.tar` beside the cache.
fn export_a(s: &Shared) -> std::path::PathBuf {
    let tar = s.root().join("a.tar");
    let out = s
        .haid(&s.fx.cache)
        .args(["export", "org/a", "-o"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_ok(&out);
    tar
}

#[test]
fn an_export_of_a_shared_model_holds_its_bytes_as_a_regular_blob_and_imports_anywhere() {
    let s = Shared::new();
    let tar = export_a(&s);
    // Unpacked by plain tar: the blob is a regular file, its bytes the payload's.
    let unpacked = s.root().join("unpacked");
    fs::create_dir_all(&unpacked).unwrap();
    let x = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&unpacked)
        .output()
        .unwrap();
    assert_ok(&x);
    let e = etag(&s.weights);
    let blob = unpacked.join("models--org--a/blobs").join(&e);
    assert!(
        fs::symlink_metadata(&blob).unwrap().is_file(),
        "a regular entry"
    );
    let bytes = fs::read(&blob).unwrap();
    assert_eq!(etag(&bytes), e, "its sha256 is its name");
    assert!(
        !unpacked.join("blobs").exists(),
        "the store is no part of an archive"
    );

    let fresh = s.root().join("fresh");
    let out = s
        .haid(&fresh)
        .args(["--json", "import"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_ok(&out);
    let report = ndjson(&out).pop().unwrap();
    assert_eq!(report["refused"], serde_json::json!([]), "{report}");
    assert_eq!(report["blobs_added"], 2, "{report}");
    let imported = fresh.join("models--org--a/blobs").join(&e);
    assert!(fs::symlink_metadata(&imported).unwrap().is_file());
    assert_eq!(python_reads(&fresh, "a"), e);
    assert_scans_agree(s.root(), &fresh);
}

#[test]
fn an_import_into_a_cache_whose_store_holds_the_payload_links_to_it_instead_of_a_copy() {
    let s = Shared::new();
    let tar = export_a(&s);
    let target = s.root().join("target");
    let e = etag(&s.weights);
    repo(
        &target,
        "b",
        &[("config.json", CONFIG_B), ("model.safetensors", &s.weights)],
    );
    assert_eq!(publish(&target, "models--org--b", &e), s.hash);

    let out = s
        .haid(&target)
        .args(["--json", "import"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_ok(&out);
    let report = ndjson(&out).pop().unwrap();
    assert_eq!(report["damaged"], serde_json::json!([]), "{report}");
    assert_eq!(
        report["bytes_written"],
        CONFIG_A.len(),
        "only the config: {report}"
    );
    assert_eq!(report["blobs_present"], 1, "{report}");
    let blob = target.join("models--org--a/blobs").join(&e);
    let relative = format!("../../blobs/{}/{}", &s.hash[..2], s.hash);
    assert_eq!(fs::read_link(&blob).unwrap(), Path::new(&relative));
    assert_eq!(
        refs_lines(&target, &s.hash),
        [blob_line("a", &e), blob_line("b", &e)]
    );
    let theirs = assert_scans_agree(s.root(), &target);
    let physical = s.weights.len() + CONFIG_A.len() + CONFIG_B.len();
    assert_eq!(
        theirs["size_on_disk"].as_u64().unwrap(),
        physical as u64,
        "one copy"
    );
    assert_eq!(python_reads(&target, "a"), e);
    assert_eq!(python_reads(&target, "b"), e);
    // A rerun finds it there.
    let again = ndjson(
        &s.haid(&target)
            .args(["--json", "import"])
            .arg(&tar)
            .output()
            .unwrap(),
    );
    assert_eq!(again.last().unwrap()["bytes_written"], 0);
}
