//! Big files in parallel ranges, against the fake hub: a kill and a resume
//! send little more than the file, a range cut mid-way or a stalled or
//! crawling connection still ends with the right file, a server that ignores or
//! refuses `Range` gets one stream, and the bandwidth limit holds over all
//! the connections. After each, Python's `hf cache verify` passes.
//!
//! The threshold is lowered by `HAID_PARALLEL_THRESHOLD` so the files stay
//! small. Their content is not periodic (the fixtures' `weights` repeat
//! every 256 bytes, which would hide a range written at the wrong offset).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use haid_models_tests::fake_hub::{FakeHub, Faults, HubRepo};
use haid_models_tests::fixture::noise;
use haid_models_tests::output::{assert_ok, json_ok, ndjson, stderr};
use haid_models_tests::{haid, python};
use sha2::{Digest, Sha256};

const MB: u64 = 1 << 20;
const ID: &str = "acme/big";
const CONNECTIONS: &str = "4";

struct World {
    tmp: tempfile::TempDir,
    hub: FakeHub,
    cache: PathBuf,
    repo: HubRepo,
}

impl World {
    /// A repo of one `mb` MiB file (and, with `small`, a config beside it).
    fn new(mb: u64, small: bool) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        let dir = hub.root.join(ID);
        std::fs::create_dir_all(&dir).unwrap();
        // Not a whole number of pieces: the last one is short.
        std::fs::write(
            dir.join("model.safetensors"),
            noise(mb, (mb * MB + 12_345) as usize),
        )
        .unwrap();
        if small {
            std::fs::write(dir.join("config.json"), b"{\"dim\": 8}").unwrap();
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

    fn haid(&self, args: &[&str]) -> Command {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url)
            .env("HAID_PARALLEL_THRESHOLD", "1M")
            .env("HAID_CONNECTIONS_PER_FILE", CONNECTIONS)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        cmd
    }

    fn download(&self, extra: &[&str]) -> Output {
        let mut args = vec!["download", ID, "--json"];
        args.extend(extra);
        self.haid(&args).output().unwrap()
    }

    fn weights(&self) -> &haid_models_tests::fake_hub::HubFile {
        self.repo.file("model.safetensors").unwrap()
    }

    fn blobs(&self, cache: &Path) -> PathBuf {
        cache.join("models--acme--big/blobs")
    }

    /// Asserts the snapshot holds the hub's files byte for byte, nothing
    /// unfinished is left, and Python's `hf cache verify` agrees.
    fn assert_whole(&self, cache: &Path) {
        let snapshot = cache
            .join("models--acme--big/snapshots")
            .join(&self.repo.sha);
        for f in &self.repo.files {
            let got = std::fs::read(snapshot.join(&f.path)).unwrap();
            assert!(got == std::fs::read(&f.abs).unwrap(), "{} differs", f.path);
        }
        let leftovers: Vec<_> = std::fs::read_dir(self.blobs(cache))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".incomplete"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        python::hf_ok(&["cache", "verify", ID], cache, &self.hub.url);
    }

    /// What the parallel download's record says is written.
    fn recorded(&self) -> u64 {
        let path = self
            .blobs(&self.cache)
            .join(format!("{}.ranges.incomplete", self.weights().etag()));
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut spans: Vec<(u64, u64)> = text
            .lines()
            .skip(1)
            .filter_map(|l| {
                let (a, b) = l.split_once(' ')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect();
        spans.sort_unstable();
        let (mut total, mut reach) = (0, 0);
        for (a, b) in spans {
            total += b.saturating_sub(a.max(reach));
            reach = reach.max(b);
        }
        total
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn a_killed_parallel_download_resumes_and_sends_at_most_a_tenth_more() {
    let w = World::new(16, true);
    let size = w.repo.total_size();
    w.hub.set_faults(Faults {
        throttle_bps: Some(MB),
        ..Faults::default()
    });
    let mut child = w
        .haid(&["download", ID])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let began = Instant::now();
    while w.recorded() < w.weights().size / 2 {
        assert!(began.elapsed() < Duration::from_secs(30), "no progress");
        assert!(child.try_wait().unwrap().is_none(), "ended before the kill");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        w.hub.max_transfers() >= 3,
        "ranges in parallel: {} at once",
        w.hub.max_transfers()
    );
    let parts = w
        .blobs(&w.cache)
        .join(format!("{}.parts.incomplete", w.weights().etag()));
    assert_eq!(std::fs::metadata(&parts).unwrap().len(), w.weights().size);
    assert!(
        !w.blobs(&w.cache)
            .join(format!("{}.incomplete", w.weights().etag()))
            .exists(),
        "never a full-length .incomplete that huggingface_hub would take as finished"
    );
    std::thread::sleep(Duration::from_millis(200)); // the hub notices the dead sockets
    let first_run = w.hub.bytes_served();
    w.hub.set_faults(Faults::default());

    // Both scans count the parts file and its record as unfinished, alike;
    // prune sees them as a partial download (its lock is free), not as orphans.
    let ours = json_ok(&w.haid(&["scan", "--json"]).output().unwrap());
    let theirs = python::run_json("hf_scan.py", &[w.cache.to_str().unwrap()]);
    assert_eq!(
        ours["incomplete_size_on_disk"],
        theirs["incomplete_size_on_disk"]
    );
    assert!(ours["incomplete_size_on_disk"].as_u64().unwrap() >= w.weights().size);
    let plan = json_ok(&w.haid(&["prune", "--dry-run", "--json"]).output().unwrap());
    assert_eq!(plan["orphan_blobs"].as_array().unwrap().len(), 0, "{plan}");
    assert_eq!(plan["incomplete"].as_array().unwrap().len(), 2, "{plan}");

    // Python on a copy of the killed cache: it ignores our parts file and
    // ends with the right blob.
    let py_cache = w.tmp.path().join("py-cache");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&w.cache)
        .arg(&py_cache)
        .status()
        .unwrap();
    assert!(copied.success());
    python::hf_ok(&["download", ID], &py_cache, &w.hub.url);
    let blob = std::fs::read(w.blobs(&py_cache).join(w.weights().etag())).unwrap();
    assert_eq!(sha256(&blob), w.weights().etag());
    python::hf_ok(&["cache", "verify", ID], &py_cache, &w.hub.url);

    w.hub.reset_counts();
    let out = w.download(&[]);
    assert_ok(&out);
    let total = first_run + w.hub.bytes_served();
    assert!(
        total as f64 <= size as f64 * 1.1,
        "served {total} bytes for {size} (first run {first_run})"
    );
    // Progress is summed over the ranges, resumed bytes included.
    let events = ndjson(&out);
    let last = events
        .iter()
        .rev()
        .find(|e| e["event"] == "progress")
        .unwrap();
    assert_eq!(last["bytes"], size, "{last}");
    w.assert_whole(&w.cache);
}

#[test]
fn ranges_cut_mid_way_are_resumed_in_the_same_run() {
    let w = World::new(8, true);
    w.hub.set_faults(Faults {
        throttle_bps: Some(2 * MB),
        cut_after: Some(300_000),
        cut_times: Some(3),
        only_ranges: true,
        ..Faults::default()
    });
    let out = w.download(&[]);
    assert_ok(&out);
    let events = ndjson(&out);
    assert!(
        events.iter().any(|e| e["event"] == "retrying"),
        "the cuts were retried"
    );
    let size = w.repo.total_size();
    assert!(
        w.hub.bytes_served() <= size + 3 * 300_000,
        "resumed, not restarted: {} for {size}",
        w.hub.bytes_served()
    );
    w.assert_whole(&w.cache);
}

#[test]
fn a_server_that_ignores_range_gets_one_stream() {
    let w = World::new(8, false);
    w.hub.set_faults(Faults {
        ignore_range: true,
        ..Faults::default()
    });
    assert_ok(&w.download(&[]));
    assert_eq!(w.hub.file_requests(), 1, "one request");
    assert_eq!(w.hub.max_transfers(), 1, "one stream");
    assert_eq!(w.hub.bytes_served(), w.weights().size);
    w.assert_whole(&w.cache);

    // Slow (so the one stream goes over to ranges), and resumed from ranges
    // on disk: the answer to the first range is the whole file, kept as
    // the one stream, and the file is right.
    let w = World::new(8, false);
    w.hub.set_faults(Faults {
        throttle_bps: Some(4 * MB),
        ..Faults::default()
    });
    let mut child = w
        .haid(&["download", ID])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let began = Instant::now();
    while w.recorded() < 2 * MB {
        assert!(began.elapsed() < Duration::from_secs(30), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200)); // the hub notices the dead sockets
    w.hub.set_faults(Faults {
        ignore_range: true,
        throttle_bps: Some(4 * MB),
        ..Faults::default()
    });
    w.hub.reset_counts();
    assert_ok(&w.download(&[]));
    assert_eq!(w.hub.max_transfers(), 1, "one stream");
    w.assert_whole(&w.cache);
}

#[test]
fn a_server_that_refuses_range_gets_one_stream() {
    // Slow, so the one stream would go over to ranges: they are refused,
    // and the file comes as one stream after all.
    let w = World::new(8, false);
    w.hub.set_faults(Faults {
        refuse_range: true,
        throttle_bps: Some(4 * MB),
        ..Faults::default()
    });
    assert_ok(&w.download(&[]));
    assert_eq!(w.hub.max_transfers(), 1);
    w.assert_whole(&w.cache);
}

#[test]
fn a_stalled_connection_is_replaced() {
    let w = World::new(8, false);
    w.hub.set_faults(Faults {
        throttle_bps: Some(MB),
        stall_after: Some(256 << 10),
        stall_times: Some(1),
        only_ranges: true,
        ..Faults::default()
    });
    let began = Instant::now();
    let out = w.download(&[]);
    let took = began.elapsed();
    assert_ok(&out);
    let replaced = ndjson(&out)
        .into_iter()
        .filter(|e| e["event"] == "retrying")
        .any(|e| e["message"].as_str().unwrap_or("").contains("replaced"));
    assert!(replaced, "{}", stderr(&out));
    // Well before the 30 s a read waits before it calls the link stalled.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    // What the stalled connection had sent was kept.
    assert!(w.hub.bytes_served() <= w.weights().size + (256 << 10));
    w.assert_whole(&w.cache);
}

#[test]
fn a_crawling_connection_is_replaced() {
    let w = World::new(8, false);
    w.hub.set_faults(Faults {
        throttle_bps: Some(MB),
        crawl_once_bps: Some(64 << 10),
        only_ranges: true,
        ..Faults::default()
    });
    let out = w.download(&[]);
    assert_ok(&out);
    let replaced = ndjson(&out)
        .into_iter()
        .filter(|e| e["event"] == "retrying")
        .any(|e| e["message"].as_str().unwrap_or("").contains("replaced"));
    assert!(replaced, "{}", stderr(&out));
    // What the crawling connection had sent was kept.
    assert!(w.hub.bytes_served() <= w.weights().size + (256 << 10));
    w.assert_whole(&w.cache);
}

#[test]
fn the_limit_holds_over_all_the_connections() {
    // 12 MiB, so that a loaded machine that starts the download late still
    // has enough of the file left to go over to ranges.
    let w = World::new(12, false);
    let began = Instant::now();
    assert_ok(&w.download(&["--limit-rate", "2M"]));
    let took = began.elapsed().as_secs_f64();
    assert!(w.hub.max_transfers() >= 2, "in parallel");
    // 12 MiB at 2 MiB/s: 6 s, less the quarter second of burst; within 10 %.
    assert!(took >= 5.75 * 0.9, "12 MiB at 2 MiB/s took {took:.2} s");
    assert!(took < 12.0, "12 MiB at 2 MiB/s took {took:.2} s");
    w.assert_whole(&w.cache);
}
