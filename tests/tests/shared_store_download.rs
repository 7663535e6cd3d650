//! Downloads join huggingface_hub 2.5's shared blob store. The fake hub
//! marks a file as stored with Xet (its `xetHash`, `X-Xet-Hash`), with the
//! hash `hf_xet.hash_files` gives; the stores we meet are written by 2.5's
//! own code (`tests/py/shared_store.py`), and what we leave is read by it:
//! a payload 2.5 published is linked instead of downloaded, a download of
//! ours is published so 2.5 links to it, and what either removes leaves the
//! other's link whole.
#![cfg(unix)] // the store is symlinks; huggingface_hub uses none where they do not work

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use haid_models_tests::fake_hub::{FakeHub, Faults, HubRepo};
use haid_models_tests::fixture::{etag, noise};
use haid_models_tests::haid;
use haid_models_tests::output::{assert_ok, ndjson, stderr};
use haid_models_tests::python::{self, run_json};
use serde_json::Value;

const WEIGHTS: &str = "model.safetensors";

struct World {
    tmp: tempfile::TempDir,
    hub: FakeHub,
    cache: PathBuf,
    /// The weights every repo holds, and their Xet hash (hf_xet's).
    weights: Vec<u8>,
    hash: String,
}

impl World {
    /// The hub serves `org/<name>` for each of `names`: its own config and
    /// the shared weights, marked as a Xet file with their true hash.
    fn new(names: &[&str], size: usize) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        let weights = noise(size as u64, size);
        for name in names {
            let config = format!("{{\"model\": \"{name}\"}}").into_bytes();
            hub.publish(
                &format!("org/{name}"),
                &[("config.json", config), (WEIGHTS, weights.clone())],
            );
        }
        let file = hub.root.join("org").join(names[0]).join(WEIGHTS);
        let file = file.to_str().unwrap();
        let hash = run_json("shared_store.py", &["hash", file])[file]
            .as_str()
            .unwrap()
            .to_owned();
        for name in names {
            hub.set_xet_hash(&format!("org/{name}"), WEIGHTS, &hash);
        }
        let cache = tmp.path().join("cache");
        Self {
            tmp,
            hub,
            cache,
            weights,
            hash,
        }
    }

    fn haid(&self) -> Command {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url)
            .arg("--cache-dir")
            .arg(&self.cache);
        cmd
    }

    /// `haid-models download org/<name> --json`, checked.
    fn download(&self, name: &str) -> Output {
        self.download_with(name, &[])
    }

    fn download_with(&self, name: &str, env: &[(&str, &str)]) -> Output {
        let mut cmd = self.haid();
        cmd.envs(env.iter().copied());
        let out = cmd
            .args(["download", &format!("org/{name}"), "--json"])
            .output()
            .unwrap();
        assert_ok(&out);
        out
    }

    fn repo(&self, name: &str) -> HubRepo {
        self.hub.repo(&format!("org/{name}"))
    }

    /// The weights' etag (their sha256: an LFS file).
    fn etag(&self) -> String {
        etag(&self.weights)
    }

    fn folder(name: &str) -> String {
        format!("models--org--{name}")
    }

    /// `<cache>/models--org--<name>/blobs/<etag of the weights>`.
    fn blob(&self, name: &str) -> PathBuf {
        self.cache
            .join(Self::folder(name))
            .join("blobs")
            .join(self.etag())
    }

    fn payload(&self) -> PathBuf {
        self.cache
            .join("blobs")
            .join(&self.hash[..2])
            .join(&self.hash)
    }

    /// The `.refs` lines of the payload, sorted.
    fn refs(&self) -> Vec<String> {
        let text = fs::read_to_string(format!("{}.refs", self.payload().display())).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    }

    fn reference(&self, name: &str) -> String {
        format!("{}/blobs/{}", Self::folder(name), self.etag())
    }

    fn cache_arg(&self) -> &str {
        self.cache.to_str().unwrap()
    }

    /// `org/<name>` downloaded by `hf download` (plain blobs: the fake hub
    /// gives Python no Xet connection), then its weights published by 2.5.
    fn python_publishes(&self, name: &str) {
        python::hf_ok(
            &["download", &format!("org/{name}")],
            &self.cache,
            &self.hub.url,
        );
        let out = run_json(
            "shared_store.py",
            &[
                "publish",
                self.cache_arg(),
                &Self::folder(name),
                &self.etag(),
            ],
        );
        assert_eq!(out["published"], true, "{out}");
        assert_eq!(out["hash"], self.hash.as_str(), "hf_xet agrees with itself");
    }

    /// 2.5's `has_shared_blob` for the weights.
    fn python_has(&self) -> bool {
        let size = self.weights.len().to_string();
        run_json(
            "shared_store.py",
            &["has", self.cache_arg(), &self.hash, &size],
        )["has"]
            .as_bool()
            .unwrap()
    }

    /// Python, offline, reads every file of `org/<name>` with the hub's bytes.
    fn python_reads(&self, name: &str) {
        let id = format!("org/{name}");
        python::assert_reads_offline(&self.cache, &self.hub.root, &id, &self.repo(name));
    }

    /// `hf cache rm model/org/<name>`, 2.5's deletion.
    fn python_removes(&self, name: &str) {
        let out = python::venv_command("hf")
            .args([
                "cache",
                "rm",
                &format!("model/org/{name}"),
                "--yes",
                "--cache-dir",
            ])
            .arg(&self.cache)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// The link a repo blob is: its target as written.
fn link_of(path: &Path) -> Option<PathBuf> {
    fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.file_type().is_symlink())
        .and(fs::read_link(path).ok())
}

fn is_plain_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

fn events_of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

#[test]
fn a_payload_2_5_published_is_linked_instead_of_downloaded() {
    let w = World::new(&["a", "b"], 400_000);
    w.python_publishes("a");
    w.hub.reset_counts();
    let out = w.download("b");

    let config = w.repo("b").file("config.json").unwrap().size;
    assert_eq!(w.hub.file_requests(), 1, "only the config was fetched");
    assert_eq!(w.hub.bytes_served(), config, "no byte of the weights");
    let target = link_of(&w.blob("b")).expect("b's blob is a link");
    assert_eq!(
        target,
        Path::new("../../blobs").join(&w.hash[..2]).join(&w.hash)
    );
    assert_eq!(w.refs(), [w.reference("a"), w.reference("b")]);
    w.python_reads("b");

    // The reused file counts as there, not as received: it is done, the
    // model's bytes reach its total, and no file in flight ever showed it.
    let events = ndjson(&out);
    let total = w.repo("b").total_size();
    let done = events_of(&events, "file_done");
    assert!(done.iter().any(|e| e["path"] == WEIGHTS), "{events:?}");
    let progress = events_of(&events, "progress");
    let last = progress.last().unwrap();
    assert_eq!(
        (last["bytes"].as_u64(), last["total"].as_u64()),
        (Some(total), Some(total))
    );
    assert!(progress.iter().all(|p| p["bytes"].as_u64() <= Some(total)
        && p["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["path"] != WEIGHTS)));
}

#[test]
fn a_payload_of_the_right_size_but_other_bytes_is_not_used() {
    let w = World::new(&["a", "b"], 300_000);
    w.python_publishes("a");
    // Damaged in place: same size, other bytes.
    let payload = w.payload();
    let mut bytes = fs::read(&payload).unwrap();
    bytes[1234] ^= 0xff;
    let mut perms = fs::metadata(&payload).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&payload, perms).unwrap();
    fs::write(&payload, &bytes).unwrap();
    w.hub.reset_counts();
    w.download("b");

    assert!(w.hub.bytes_served() >= w.weights.len() as u64, "downloaded");
    // Not published either: the store's payload (the same hash, damaged) is
    // not ours to replace, and linking to it would give b its bad bytes.
    assert!(is_plain_file(&w.blob("b")), "b keeps a plain blob");
    assert_eq!(fs::read(w.blob("b")).unwrap(), w.weights);
    assert_eq!(w.refs(), [w.reference("a")]);
    assert_eq!(fs::read(&payload).unwrap(), bytes, "the payload untouched");
    w.python_reads("b");
}

#[test]
fn our_download_is_published_and_2_5_links_to_it() {
    let w = World::new(&["b", "c"], 500_000);
    w.download("b");
    assert!(w.cache.join("blobs/.huggingface-shared-blobs").is_file());
    let payload = w.payload();
    assert_eq!(fs::read(&payload).unwrap(), w.weights);
    assert!(fs::metadata(&payload).unwrap().permissions().readonly());
    assert!(
        link_of(&w.blob("b")).is_some(),
        "b's blob links to the payload"
    );
    assert!(w.python_has(), "2.5 finds the payload");
    w.python_reads("b");

    // c downloaded without the store, its blob then dropped: 2.5's
    // try_link_from_shared_store gives it back as a link to our payload.
    w.download_with("c", &[("HF_HUB_DISABLE_SHARED_BLOBS", "1")]);
    fs::remove_file(w.blob("c")).unwrap();
    let size = w.weights.len().to_string();
    let linked = run_json(
        "shared_store.py",
        &[
            "link",
            w.cache_arg(),
            &World::folder("c"),
            &w.etag(),
            &w.hash,
            &size,
        ],
    );
    assert_eq!(linked["linked"], true, "{linked}");
    assert_eq!(w.refs(), [w.reference("b"), w.reference("c")]);
    w.python_reads("c");

    // 2.5 removes c: b's reference keeps the payload.
    w.python_removes("c");
    assert_eq!(fs::read(&payload).unwrap(), w.weights);
    w.python_reads("b");
}

#[test]
fn a_file_fetched_in_parallel_ranges_is_published_with_its_hash() {
    // 3 MiB at 1 MB/s per connection: the one stream is slow, and the file
    // goes on in ranges, whose Xet hash must follow the file's order.
    let w = World::new(&["b"], (3 << 20) + 4321);
    w.hub.set_faults(Faults {
        throttle_bps: Some(1 << 20),
        ..Faults::default()
    });
    let out = w.download_with(
        "b",
        &[
            ("HAID_PARALLEL_THRESHOLD", "1M"),
            ("HAID_CONNECTIONS_PER_FILE", "4"),
        ],
    );
    assert!(w.hub.max_transfers() > 1, "ranges: {}", stderr(&out));
    assert!(link_of(&w.blob("b")).is_some(), "published");
    assert!(w.python_has());
    w.python_reads("b");
}

#[test]
fn a_listed_xet_hash_the_bytes_do_not_have_is_not_published() {
    let w = World::new(&["b"], 200_000);
    let wrong = "ab".repeat(32);
    w.hub.set_xet_hash("org/b", WEIGHTS, &wrong);
    let out = w.download("b");
    assert!(is_plain_file(&w.blob("b")));
    assert_eq!(fs::read(w.blob("b")).unwrap(), w.weights);
    assert!(!w.cache.join("blobs").exists(), "no store made");
    assert!(
        stderr(&out).trim().is_empty(),
        "nothing alarming: {}",
        stderr(&out)
    );
    w.python_reads("b");
}

#[test]
fn the_store_is_off_when_huggingface_hub_is_told_so() {
    for off in ["HF_HUB_DISABLE_SHARED_BLOBS", "HF_HUB_DISABLE_XET"] {
        let w = World::new(&["a", "b"], 100_000);
        w.download_with("b", &[(off, "1")]);
        assert!(is_plain_file(&w.blob("b")), "{off}");
        assert!(!w.cache.join("blobs").exists(), "{off}: no store made");
        // A store 2.5 made is not used either.
        w.python_publishes("a");
        fs::remove_dir_all(w.cache.join(World::folder("b"))).unwrap();
        w.hub.reset_counts();
        w.download_with("b", &[(off, "1")]);
        assert!(w.hub.bytes_served() >= w.weights.len() as u64, "{off}");
        assert!(is_plain_file(&w.blob("b")), "{off}");
        assert_eq!(w.refs(), [w.reference("a")], "{off}");
    }
}

#[test]
fn python_removing_the_other_sharer_leaves_our_link_whole() {
    let w = World::new(&["a", "b"], 300_000);
    w.python_publishes("a");
    w.download("b");
    assert!(link_of(&w.blob("b")).is_some());
    w.python_removes("a");
    assert!(!w.cache.join(World::folder("a")).exists());
    assert_eq!(fs::read(w.payload()).unwrap(), w.weights, "kept for b");
    assert_eq!(w.refs(), [w.reference("b")]);
    w.python_reads("b");
    let verify = w
        .haid()
        .args(["verify", "org/b", "--json"])
        .output()
        .unwrap();
    assert_ok(&verify);
}
