//! Downloads from a hub that lies (issue 13), end to end through the CLI:
//! every name it sends that could become a path (paths, commits, etags),
//! listings that cannot be true, bodies that disagree with their headers.
//! Each lie must end in exit 1 with an error that names the endpoint and the
//! value, and must leave every file where it was (DESIGN, "Everything from
//! outside is untrusted").

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use haid_models::download::listing::MAX_LISTING_FILES;
use haid_models_tests::fake_hub::{attacks, FakeHub, Faults, Hostile, HubFile, HubRepo};
use haid_models_tests::fixture::{weights, LFS_THRESHOLD};
use haid_models_tests::haid;
use haid_models_tests::tree_walk::tree_state;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ID: &str = "org/m";
/// What a server that answers every URL sends: a client that asks for a
/// file the listing made up still gets a body to write somewhere.
const CATCH_ALL: &str = "catch-all: no such file here\n";
/// A refusal is decided before any transfer; a hang is a failure, not a wait.
const RUN_LIMIT: Duration = Duration::from_secs(60);

struct World {
    tmp: tempfile::TempDir,
    hub: FakeHub,
    cache: PathBuf,
    repo: HubRepo,
}

impl World {
    /// `org/m` with a small file and an LFS one; CACHE exists and is empty.
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        let files = [
            ("config.json", b"{\"hidden_size\": 384}".to_vec()),
            ("model.safetensors", weights(1, 3 * LFS_THRESHOLD)),
        ];
        for (path, content) in files {
            let p = hub.root.join(ID).join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let repo = hub.repo(ID);
        let cache = tmp.path().join("cache");
        std::fs::create_dir(&cache).unwrap();
        Self {
            tmp,
            hub,
            cache,
            repo,
        }
    }

    /// The real tree entry of `path`.
    fn entry(&self, path: &str) -> Value {
        self.repo.file(path).unwrap().tree_entry()
    }

    /// The real listing, `except` left out (to be appended, lied about, last:
    /// a client that wrote files as it read them would have written some).
    fn entries_but(&self, except: &str) -> Vec<Value> {
        let files = self.repo.files.iter().filter(|f| f.path != except);
        files.map(HubFile::tree_entry).collect()
    }

    fn lie(&self, hostile: Hostile) {
        self.hub.set_faults(Faults {
            hostile,
            ..Faults::default()
        });
    }

    /// `haid-models [--json] --cache-dir CACHE download org/m EXTRA…`.
    fn download(&self, json: bool, extra: &[&str]) -> (Output, Duration) {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url);
        if json {
            cmd.arg("--json");
        }
        cmd.arg("--cache-dir")
            .arg(&self.cache)
            .arg("download")
            .arg(ID);
        output_within(cmd.args(extra), RUN_LIMIT)
    }

    /// Everything in the temp folder but the hub's own files.
    fn state(&self) -> BTreeMap<PathBuf, String> {
        tree_state(self.tmp.path(), &[&self.hub.root])
    }

    fn repo_dir(&self) -> PathBuf {
        self.cache
            .join(format!("models--{}", ID.replace('/', "--")))
    }

    /// Runs the download with and without `--json`; `Err` says what a user
    /// would have seen that they must not.
    fn refuses(&self, kind: &str, needles: &[String], extra: &[&str]) -> Result<(), String> {
        let before = self.state();
        let (out, took) = self.download(true, extra);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let seen = || format!("{}", Shown(&out, took));
        if out.status.code() != Some(1) {
            return Err(format!("--json: not exit 1: {}", seen()));
        }
        let last: Option<Value> = stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok());
        let good = last.as_ref().is_some_and(|l| {
            l["event"] == "error" && l["kind"] == kind && l["message"].is_string()
        });
        if !good {
            return Err(format!("--json: last line not a {kind} error: {}", seen()));
        }

        let (out, took) = self.download(false, extra);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let seen = || format!("{}", Shown(&out, took));
        if out.status.code() != Some(1) {
            return Err(format!("not exit 1: {}", seen()));
        }
        if err.lines().count() != 1 || !err.starts_with("error: ") {
            return Err(format!("stderr is not one `error: ` line: {}", seen()));
        }
        if let Some(n) = needles.iter().find(|n| !err.contains(n.as_str())) {
            return Err(format!("{n} not in stderr: {}", seen()));
        }

        let after = self.state();
        if before != after {
            return Err(format!("files changed: {}", diff(&before, &after)));
        }
        Ok(())
    }

    /// [`World::refuses`] as `invalid_response`, naming the endpoint and,
    /// when short enough to be shown whole, the value.
    fn refuses_response(&self, value: Option<&str>) -> Result<(), String> {
        let mut needles = vec![self.hub.url.clone()];
        needles.extend(
            value
                .filter(|v| v.chars().count() <= 60)
                .map(|v| format!("{v:?}")),
        );
        self.refuses("invalid_response", &needles, &[])
    }
}

/// Each value's lie, in a fresh world (and a catch-all server unless the lie
/// says otherwise), must be refused; fails listing every value that was not.
fn assert_each_refused(what: &str, values: &[&str], lie: impl Fn(&World, &str) -> Hostile) {
    let failures: Vec<String> = values
        .iter()
        .filter_map(|v| {
            let w = World::new();
            let mut hostile = lie(&w, v);
            hostile.any_url_body.get_or_insert_with(|| CATCH_ALL.into());
            w.lie(hostile);
            w.refuses_response(Some(v))
                .err()
                .map(|e| format!("{what} {v:?}: {e}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} not refused cleanly:\n{}",
        failures.len(),
        values.len(),
        failures.join("\n\n")
    );
}

/// One lie, shown by `value` (if the error can name one).
fn assert_refused(lie: impl FnOnce(&World) -> Hostile, value: Option<&str>) {
    let w = World::new();
    let mut hostile = lie(&w);
    hostile.any_url_body.get_or_insert_with(|| CATCH_ALL.into());
    w.lie(hostile);
    if let Err(e) = w.refuses_response(value) {
        panic!("{e}");
    }
}

/// Runs `cmd`, killing it after `limit` (a hung client must fail the test,
/// not hang it); returns what it printed and how long it took.
fn output_within(cmd: &mut std::process::Command, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes while waiting, or a chatty child blocks on a full pipe.
    fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = pipe.read_to_end(&mut all);
            all
        })
    }
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    (out, started.elapsed())
}

/// A run as a failure message shows it.
struct Shown<'a>(&'a Output, Duration);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Shown(out, took) = self;
        let cut = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            let tail: String = s.chars().rev().take(1500).collect();
            tail.chars().rev().collect::<String>()
        };
        write!(
            f,
            "exit {:?} after {took:.1?}\n  stdout (end): {}\n  stderr (end): {}",
            out.status.code(),
            cut(&out.stdout).trim_end(),
            cut(&out.stderr).trim_end()
        )
    }
}

/// The entries that differ between two tree states.
fn diff(before: &BTreeMap<PathBuf, String>, after: &BTreeMap<PathBuf, String>) -> String {
    let keys: std::collections::BTreeSet<&PathBuf> = before.keys().chain(after.keys()).collect();
    let changed: Vec<String> = keys
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("{}: {:?} -> {:?}", k.display(), before.get(k), after.get(k)))
        .collect();
    changed.join("; ")
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn last_event(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON: {last:?}: {e}"))
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|it| it.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn listed_paths_that_leave_the_snapshot_are_refused() {
    assert_each_refused("path", attacks::PATHS, |w, path| {
        let mut entry = w.entry("config.json");
        entry["path"] = path.into();
        let mut listing = w.entries_but("");
        listing.push(entry);
        Hostile {
            listing: Some(listing),
            ..Hostile::default()
        }
    });
}

#[test]
fn commits_that_are_not_40_hex_are_refused() {
    assert_each_refused("commit", attacks::COMMITS, |_, commit| Hostile {
        commit: Some(commit.into()),
        ..Hostile::default()
    });
}

#[test]
fn etags_of_small_files_that_are_not_blob_names_are_refused() {
    assert_each_refused("oid", attacks::ETAGS, |w, etag| {
        let mut entry = w.entry("config.json");
        entry["oid"] = etag.into();
        let mut listing = w.entries_but("config.json");
        listing.push(entry);
        Hostile {
            listing: Some(listing),
            ..Hostile::default()
        }
    });
}

#[test]
fn lfs_sha256s_that_are_not_blob_names_are_refused() {
    assert_each_refused("lfs.oid", attacks::ETAGS, |w, etag| {
        let mut entry = w.entry("model.safetensors");
        entry["lfs"]["oid"] = etag.into();
        let mut listing = w.entries_but("model.safetensors");
        listing.push(entry);
        Hostile {
            listing: Some(listing),
            ..Hostile::default()
        }
    });
}

#[test]
fn a_path_listed_twice_is_refused() {
    let lie = |w: &World| {
        let mut listing = w.entries_but("");
        listing.push(w.entry("config.json"));
        Hostile {
            listing: Some(listing),
            ..Hostile::default()
        }
    };
    assert_refused(lie, Some("config.json"));
}

#[test]
fn a_file_that_is_also_a_folder_is_refused_in_either_order() {
    for order in [["a", "a/b.json"], ["a/b.json", "a"]] {
        let lie = |w: &World| {
            let mut listing = w.entries_but("");
            for path in order {
                let mut entry = w.entry("config.json");
                entry["path"] = path.into();
                listing.push(entry);
            }
            Hostile {
                listing: Some(listing),
                ..Hostile::default()
            }
        };
        assert_refused(lie, Some("a/b.json"));
    }
}

#[test]
fn a_size_of_2_pow_62_is_refused() {
    let lie = |w: &World| {
        let mut entry = w.entry("config.json");
        entry["size"] = json!(1u64 << 62);
        let mut listing = w.entries_but("config.json");
        listing.push(entry);
        Hostile {
            listing: Some(listing),
            ..Hostile::default()
        }
    };
    assert_refused(lie, Some(&(1u64 << 62).to_string()));
}

#[test]
fn a_listing_over_the_file_limit_is_refused() {
    let lie = |w: &World| {
        let small = w.entry("config.json");
        let listing = (0..=MAX_LISTING_FILES)
            .map(|i| {
                let mut entry = small.clone();
                entry["path"] = format!("f/{i}.json").into();
                entry
            })
            .collect();
        Hostile {
            listing: Some(listing),
            ..Hostile::default()
        }
    };
    assert_refused(lie, None);
}

#[test]
fn a_next_page_on_another_origin_is_refused_unasked() {
    let elsewhere = tempfile::tempdir().unwrap();
    let other = FakeHub::start(elsewhere.path().join("root"));
    other.set_faults(Faults {
        hostile: Hostile {
            any_url_body: Some("[]".into()),
            ..Hostile::default()
        },
        ..Faults::default()
    });
    let next = format!("{}/api/models/{ID}/tree/x?p=2", other.url);
    let lie = |_: &World| Hostile {
        next_page: Some(next.clone()),
        ..Hostile::default()
    };
    assert_refused(lie, Some(&next));
    // Following it would hand the other origin our request (and token).
    assert_eq!(other.requests(), 0, "the other origin was asked");
}

#[test]
fn garbage_after_a_body_is_not_written() {
    let w = World::new();
    w.lie(Hostile {
        extra_body_bytes: 1000,
        ..Hostile::default()
    });
    let (out, took) = w.download(true, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", Shown(&out, took));
    assert_eq!(last_event(&out)["event"], "done");
    for f in &w.repo.files {
        let blob = w.repo_dir().join("blobs").join(f.etag());
        let got = std::fs::read(&blob).unwrap_or_else(|e| panic!("{}: {e}", blob.display()));
        assert_eq!(got.len() as u64, f.size, "{}", f.path);
        assert_eq!(
            sha256(&got),
            sha256(&std::fs::read(&f.abs).unwrap()),
            "{}",
            f.path
        );
    }
}

#[test]
fn an_overstated_content_length_fails_fast_and_commits_nothing() {
    let w = World::new();
    w.lie(Hostile {
        overstate_length: 10,
        ..Hostile::default()
    });
    let (out, took) = w.download(true, &[]);
    let shown = Shown(&out, took);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(took < Duration::from_secs(15), "{shown}");
    let last = last_event(&out);
    assert_eq!(last["kind"], "invalid_response", "{shown}");
    let message = last["message"].as_str().unwrap_or_default();
    assert!(message.to_lowercase().contains("content-length"), "{shown}");
    let committed: Vec<PathBuf> = files_in(&w.repo_dir().join("blobs"))
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".incomplete"))
        .collect();
    assert!(committed.is_empty(), "blobs committed: {committed:?}");
}

#[test]
fn revisions_that_are_not_ref_names_are_refused_before_any_request() {
    let failures: Vec<String> = attacks::REFS
        .iter()
        // An argv cannot hold NUL; the manifest's `revision` tests cover it.
        .filter(|r| !r.contains('\0'))
        .filter_map(|r| {
            let w = World::new();
            w.lie(Hostile {
                any_url_body: Some(CATCH_ALL.into()),
                ..Hostile::default()
            });
            let refused = w.refuses("invalid_argument", &[], &["--revision", r]);
            let asked = w.hub.requests();
            let result = refused.and_then(|()| match asked {
                0 => Ok(()),
                n => Err(format!("the hub got {n} requests")),
            });
            result.err().map(|e| format!("--revision {r:?}: {e}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
