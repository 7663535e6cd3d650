//! A download killed at every step of its commit — right after the listing,
//! the ref, each blob's rename and each snapshot link — leaves a cache that
//! reads as `partial` (never `complete` before the last link, never
//! `corrupt`), that Python's `scan_cache_dir` still reads, and that the next
//! run finishes by fetching exactly the bytes that were missing.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use haid_models_tests::fake_hub::{FakeHub, HubRepo};
use haid_models_tests::fixture::weights;
use haid_models_tests::{haid, python};
use serde_json::Value;

const ID: &str = "acme/kill";

struct World {
    tmp: tempfile::TempDir,
    hub: FakeHub,
    cache: PathBuf,
    repo: HubRepo,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        for (path, content) in [
            ("config.json", b"{\"dim\": 8}".to_vec()),
            ("tokenizer.json", weights(7, 4000)),
            ("model.safetensors", weights(1, 300_000)),
            ("onnx/model.onnx", weights(2, 3000)),
        ] {
            let p = hub.root.join(ID).join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let repo = hub.repo(ID);
        let cache = tmp.path().join("cache");
        Self {
            tmp,
            hub,
            cache,
            repo,
        }
    }

    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url)
            .envs(env.iter().copied())
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        cmd.output().unwrap()
    }

    fn blobs(&self) -> PathBuf {
        self.cache.join("models--acme--kill/blobs")
    }

    /// The bytes a resumed download still has to fetch.
    fn missing_bytes(&self) -> u64 {
        self.repo
            .files
            .iter()
            .map(|f| {
                let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
                if len(&self.blobs().join(f.etag())) == f.size {
                    0
                } else {
                    f.size - len(&self.blobs().join(format!("{}.incomplete", f.etag())))
                }
            })
            .sum()
    }

    fn state(&self) -> String {
        let out = self.run(&[], &["--json", "scan"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let scan: Value = serde_json::from_slice(&out.stdout).unwrap();
        let repos = scan["repos"].as_array().unwrap();
        match repos.iter().find(|r| r["repo_id"] == ID) {
            Some(r) => r["state"].as_str().unwrap().to_owned(),
            None => "absent".into(),
        }
    }
}

#[test]
fn a_download_killed_at_every_step_reads_as_partial_and_the_next_run_finishes_it() {
    let files = 4;
    let mut steps = vec![("listing", 1), ("ref", 1)];
    steps.extend((1..=files).map(|n| ("blob", n)));
    steps.extend((1..=files).map(|n| ("link", n)));
    for (step, n) in steps {
        let w = World::new();
        let at = format!("{step}:{n}");
        let out = w.run(&[("HAID_DOWNLOAD_CRASH_AT", &at)], &["download", ID]);
        assert_eq!(
            out.status.signal(),
            Some(6),
            "{at}: killed: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let state = w.state();
        let expected = match (step, n) {
            // Only the listing: no ref, no snapshot yet; nothing to show.
            ("listing", _) => "empty",
            ("link", n) if n == files => "complete",
            _ => "partial",
        };
        assert_eq!(state, expected, "after a kill at {at}");
        // The reference reads the cache without failing.
        python::run_json("hf_scan.py", &[w.cache.to_str().unwrap()]);

        let missing = w.missing_bytes();
        w.hub.reset_counts();
        let out = w.run(&[], &["download", ID]);
        assert!(
            out.status.success(),
            "{at}: rerun: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            w.hub.bytes_served(),
            missing,
            "{at}: the rerun fetches only what was missing"
        );
        assert_eq!(w.state(), "complete", "{at}: finished");
        let snapshot = w
            .cache
            .join("models--acme--kill/snapshots")
            .join(&w.repo.sha);
        for f in &w.repo.files {
            assert_eq!(
                std::fs::read(snapshot.join(&f.path)).unwrap(),
                std::fs::read(&f.abs).unwrap(),
                "{at}: {}",
                f.path
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(w.blobs())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".incomplete"))
            .collect();
        assert!(leftovers.is_empty(), "{at}: {leftovers:?}");
    }
}
