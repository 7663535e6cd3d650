//! Property test (issue 13): whatever tree listing and commit a hostile hub
//! sends, a download exits 0 or 1 (never a panic, never a signal), changes
//! nothing outside its cache, and leaves a cache that we and
//! huggingface_hub both still scan.
//!
//! Driven by a `TestRunner` rather than `proptest!`: every case shares one
//! fake hub (started once), and the caches of all cases are scanned by
//! Python once at the end (it takes a second to start).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use haid_models_tests::fake_hub::{attacks, FakeHub, Faults, Hostile};
use haid_models_tests::fixture::git_blob_sha1;
use haid_models_tests::tree_walk::tree_state;
use haid_models_tests::{haid, python};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What the catch-all answers for any file: an entry whose oid is its hash
/// verifies, so some cases really write files with hostile-looking names.
const BODY: &str = "x";
/// Replaced by the temp folder's path: absolute paths that land where we look.
const TMP: &str = "$TMP";

/// An attack value, its absolute paths moved under the temp folder: there an
/// escape is seen, and a broken build run as root does not litter `/` (other
/// tests serve the same constants at the same time, so `/some` cannot be watched).
fn rooted(attack: &str) -> String {
    match attack.strip_prefix('/') {
        Some(rest) => {
            let slashes = attack.len() - attack.trim_start_matches('/').len();
            format!(
                "{}{TMP}/{}",
                "/".repeat(slashes - 1),
                rest.trim_start_matches('/')
            )
        }
        None => attack.to_owned(),
    }
}

fn attack(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    select(values).prop_map(rooted)
}

/// The one file the hub really holds: served as it is, so it never matches
/// what a lying listing says of it.
const HELD: &str = "README.md";
/// Ordinary names, answered by the catch-all.
const NORMAL: &[&str] = &["config.json", "model.safetensors", "sub", "a", "b.bin"];
/// Odd names that are still valid: they must be written as they are.
const ODD: &[&str] = &[
    "é",
    "模型",
    "🙂",
    "\u{200f}rtl\u{202e}nib.exe",
    "a:b",
    "CON",
    "x.lock",
    "y.incomplete",
    " lead",
    "-rf",
];
/// Segments no path may have.
const BAD: &[&str] = &["..", ".", "", "/", "\\", "\0"];

/// Every case is either tame (every value valid, so the download gets as
/// far as writing files: collisions, duplicates, bad hashes and odd names)
/// or hostile (anything goes; it must be refused before writing).
type Tame = bool;

fn valid_segment() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(NORMAL).prop_map(String::from),
        1 => select(ODD).prop_map(String::from),
    ]
    .boxed()
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => valid_segment(),
        1 => Just(HELD.to_owned()),
        2 => select(BAD).prop_map(String::from),
        1 => "[\\x01-\\x1f\\x7f]{1,2}[a-z]{0,2}",
        1 => Just("n".repeat(300)),
    ]
}

fn path(tame: Tame) -> BoxedStrategy<String> {
    let valid = prop::collection::vec(valid_segment(), 1..=3).prop_map(|s| s.join("/"));
    if tame {
        return valid.boxed();
    }
    prop_oneof![
        6 => prop::collection::vec(segment(), 1..=4).prop_map(|s| s.join("/")),
        2 => attack(attacks::PATHS),
        // Climbs out of `snapshots/<commit>/`: eight levels reach the temp folder.
        1 => (1..=8usize, select(NORMAL)).prop_map(|(n, name)| format!("{}{name}", "../".repeat(n))),
        1 => select(NORMAL).prop_map(|name| format!("{TMP}/outside/{name}")),
    ]
    .boxed()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn oid(tame: Tame) -> BoxedStrategy<Value> {
    // Mostly the catch-all body's hash, so that tame cases often succeed. A
    // wrong hash or size is seldom: each costs seconds of the client's retries.
    let valid = prop_oneof![
        1 => "[0-9a-f]{40}".prop_map(Value::from),
        15 => Just(Value::from(git_blob_sha1(BODY.as_bytes()))),
    ];
    if tame {
        return valid.boxed();
    }
    prop_oneof![
        8 => valid,
        2 => attack(attacks::ETAGS).prop_map(Value::from),
        1 => "[0-9a-fA-F./\\\\]{0,70}".prop_map(Value::from),
        1 => Just(Value::Null),
    ]
    .boxed()
}

fn lfs_oid(tame: Tame) -> BoxedStrategy<Option<Value>> {
    let valid = prop_oneof![
        8 => Just(None),
        7 => Just(Some(Value::from(sha256_hex(BODY.as_bytes())))),
        1 => "[0-9a-f]{64}".prop_map(|s| Some(Value::from(s))),
    ];
    if tame {
        return valid.boxed();
    }
    prop_oneof![
        4 => valid,
        1 => attack(attacks::ETAGS).prop_map(|s| Some(Value::from(s))),
    ]
    .boxed()
}

fn size(tame: Tame) -> BoxedStrategy<Value> {
    let valid = prop_oneof![
        30 => Just(json!(BODY.len())),
        1 => (0u64..2000).prop_map(Value::from),
    ];
    if tame {
        return valid.boxed();
    }
    let absurd = vec![
        json!(u64::MAX),
        json!(1u64 << 62),
        json!(i64::MAX),
        json!(-1),
        json!(1.5),
        json!("1"),
        Value::Null,
    ];
    prop_oneof![12 => valid, 1 => select(absurd)].boxed()
}

fn entry(tame: Tame) -> BoxedStrategy<Value> {
    let kind = if tame {
        Just("file").boxed()
    } else {
        prop_oneof![8 => Just("file"), 1 => Just("directory"), 1 => Just("symlink")].boxed()
    };
    let parts = (kind, path(tame), oid(tame), lfs_oid(tame), size(tame));
    parts
        .prop_map(|(kind, path, oid, lfs, size)| {
            let mut e = json!({"type": kind, "oid": oid, "size": size, "path": path});
            if let Some(lfs) = lfs {
                e["lfs"] = json!({"oid": lfs, "size": size, "pointerSize": 134});
            }
            e
        })
        .boxed()
}

/// How an entry is repeated: the same path again (with another oid), or
/// the path as a folder too, listed after or before the file.
#[derive(Debug, Clone, Copy)]
enum Twist {
    Duplicate,
    FolderAfter,
    FolderBefore,
}

fn listing(tame: Tame) -> impl Strategy<Value = Vec<Value>> {
    let twist = prop_oneof![
        Just(Twist::Duplicate),
        Just(Twist::FolderAfter),
        Just(Twist::FolderBefore)
    ];
    let one = (any::<Index>(), twist, oid(tame));
    // Tame: seldom a twist, and no collision by chance (names come from a
    // small pool), so that a good share of the cases gets through.
    let twists = if tame {
        prop::option::weighted(0.2, one)
            .prop_map(|t| t.into_iter().collect())
            .boxed()
    } else {
        prop::collection::vec(one, 0..3).boxed()
    };
    let entries = prop::collection::vec(entry(tame), 1..6);
    (entries, twists).prop_map(move |(mut entries, twists)| {
        if tame {
            entries = without_collisions(entries);
        }
        for (at, twist, oid) in twists {
            let mut copy = at.get(&entries).clone();
            let path = copy["path"].as_str().unwrap_or_default().to_owned();
            match twist {
                Twist::Duplicate => copy["oid"] = oid,
                Twist::FolderAfter | Twist::FolderBefore => {
                    copy["path"] = format!("{path}/inner.bin").into();
                }
            }
            match twist {
                Twist::FolderBefore => entries.insert(0, copy),
                _ => entries.push(copy),
            }
        }
        entries
    })
}

/// Drops every entry whose path repeats, or is the folder of, or lies in, an
/// earlier one.
fn without_collisions(entries: Vec<Value>) -> Vec<Value> {
    let mut kept: Vec<Value> = Vec::new();
    for e in entries {
        let p = e["path"].as_str().unwrap_or_default();
        let clash = |k: &Value| {
            let k = k["path"].as_str().unwrap_or_default();
            k == p || p.starts_with(&format!("{k}/")) || k.starts_with(&format!("{p}/"))
        };
        if !kept.iter().any(clash) {
            kept.push(e);
        }
    }
    kept
}

fn commit(tame: Tame) -> BoxedStrategy<Option<String>> {
    let valid = prop_oneof![Just(None), "[0-9a-f]{40}".prop_map(Some)];
    if tame {
        return valid.boxed();
    }
    prop_oneof![3 => valid, 2 => attack(attacks::COMMITS).prop_map(Some)].boxed()
}

#[derive(Debug, Clone)]
struct Case {
    listing: Vec<Value>,
    commit: Option<String>,
}

fn case() -> impl Strategy<Value = Case> {
    let of = |tame: Tame| {
        (listing(tame), commit(tame)).prop_map(|(listing, commit)| Case { listing, commit })
    };
    prop_oneof![of(true), of(false)]
}

struct World {
    tmp: tempfile::TempDir,
    hub: FakeHub,
    /// Deep enough that a climb of up to eight `..` stays in the temp folder.
    caches: PathBuf,
    next: AtomicUsize,
    done: Mutex<Vec<PathBuf>>,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        let repo = hub.root.join("org/m");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(repo.join(HELD), "# m\n").unwrap();
        // What an escape would hit: files, a dangling link, a link to a folder.
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("config.json"), "do not touch").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(tmp.path().join("nowhere"), outside.join("dangling"))
                .unwrap();
            std::os::unix::fs::symlink(tmp.path(), outside.join("up")).unwrap();
        }
        let caches = tmp.path().join("a/b/c/d");
        std::fs::create_dir_all(&caches).unwrap();
        Self {
            tmp,
            hub,
            caches,
            next: AtomicUsize::new(0),
            done: Mutex::new(Vec::new()),
        }
    }

    fn faults(&self, case: &Case) -> Faults {
        let text = serde_json::to_string(&case.listing).unwrap();
        let tmp = self.tmp.path().to_str().unwrap();
        let text = text.replace(TMP, tmp);
        Faults {
            hostile: Hostile {
                listing: Some(serde_json::from_str(&text).unwrap()),
                commit: case.commit.as_ref().map(|c| c.replace(TMP, tmp)),
                any_url_body: Some(BODY.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn haid(&self, cache: &Path) -> Command {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url)
            .arg("--cache-dir")
            .arg(cache);
        cmd
    }

    fn outside(&self, cache: &Path) -> BTreeMap<PathBuf, String> {
        tree_state(self.tmp.path(), &[cache, self.hub.root.as_path()])
    }

    fn check(&self, case: &Case) -> Result<(), TestCaseError> {
        let cache = self
            .caches
            .join(self.next.fetch_add(1, Ordering::SeqCst).to_string());
        std::fs::create_dir_all(&cache).unwrap(); // a user's cache exists
        self.hub.set_faults(self.faults(case));
        let before = self.outside(&cache);

        let out = run_limited(self.haid(&cache).args(["download", "org/m"]));
        let err = String::from_utf8_lossy(&out.stderr);
        prop_assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "exit {:?} (None: a signal or a hang): {}",
            out.status,
            err
        );
        prop_assert!(!err.contains("panicked"), "{}", err);

        let scan = run_limited(self.haid(&cache).args(["--json", "scan"]));
        let scan_err = String::from_utf8_lossy(&scan.stderr);
        prop_assert_eq!(scan.status.code(), Some(0), "scan: {}", scan_err);
        let parsed = serde_json::from_slice::<Value>(&scan.stdout);
        prop_assert!(parsed.is_ok(), "scan --json: {:?}", parsed.err());

        let changed = differences(&before, &self.outside(&cache));
        prop_assert!(
            changed.is_empty(),
            "changed outside the cache: {:?}",
            changed
        );
        self.done.lock().unwrap().push(cache);
        Ok(())
    }

    /// One Python process scans every case's cache: none may raise.
    fn python_scans_all(&self) {
        const SCRIPT: &str = "
import json, sys
from huggingface_hub import scan_cache_dir
errors = {}
for d in sys.argv[1:]:
    try:
        scan_cache_dir(d)
    except Exception as e:
        errors[d] = repr(e)
print(json.dumps(errors))
";
        let done = self.done.lock().unwrap();
        let out = Command::new(python::python())
            .arg("-c")
            .arg(SCRIPT)
            .args(done.iter())
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_HUB_DISABLE_TELEMETRY", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let errors: BTreeMap<String, String> = serde_json::from_slice(&out.stdout).unwrap();
        assert!(errors.is_empty(), "scan_cache_dir raised: {errors:#?}");
    }
}

/// Paths added, removed or changed, for the failure message.
fn differences(a: &BTreeMap<PathBuf, String>, b: &BTreeMap<PathBuf, String>) -> Vec<PathBuf> {
    let mut keys: Vec<&PathBuf> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// Runs `cmd`, killed after 30 s: a hang fails the case (exit `None`)
/// instead of stalling the whole test. Pipes are drained meanwhile, so a
/// talkative child never blocks on a full pipe.
fn run_limited(cmd: &mut Command) -> Output {
    let began = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.unwrap().read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let mut status = child.try_wait().unwrap();
    while status.is_none() && began.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
        status = child.try_wait().unwrap();
    }
    if status.is_none() {
        let _ = child.kill(); // our own child, by its handle
    }
    Output {
        status: child.wait().unwrap(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

#[test]
fn hostile_listings_never_escape_the_cache_nor_crash() {
    let world = World::new();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        // Each shrink step is two CLI runs: bounded, so a failure reports in seconds.
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&case(), |case| world.check(&case)) {
        panic!("{e}");
    }
    world.python_scans_all();
}

#[test]
fn attacks_stay_absolute_but_move_under_the_temp_folder() {
    assert_eq!(rooted("/some/absolute/name"), "$TMP/some/absolute/name");
    assert_eq!(rooted("//server/share/x.json"), "/$TMP/server/share/x.json");
    assert_eq!(rooted("../../name"), "../../name");
}
