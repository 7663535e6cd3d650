//! `haid-models migrate`: both old layouts into the cache, checked with the
//! reference client offline and online (the fake hub counts the bytes it
//! serves), a damaged file left alone, kill-and-rerun, dry run and rerun.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use haid_models_tests::fake_hub::{FakeHub, HubRepo};
use haid_models_tests::fixture::weights;
use haid_models_tests::{haid, python};
use serde_json::Value;

const EMBED: &str = "acme/embed";
const CAPTION: &str = "Salesforce/blip-test";

struct World {
    tmp: tempfile::TempDir,
    hub: FakeHub,
    cache: PathBuf,
    /// The old data folder (HAID_DATA_DIR).
    data: PathBuf,
    embed: HubRepo,
    caption: HubRepo,
}

impl World {
    /// Both old layouts under `data`, holding exactly what the fake hub serves.
    fn new() -> Self {
        Self::with_data_in(None)
    }

    /// The old data folder in `data_root` (another file system: copies).
    fn with_data_in(data_root: Option<&Path>) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        let data = match data_root {
            Some(root) => tempfile::tempdir_in(root).unwrap().keep(),
            None => tmp.path().join("data"),
        };
        let embed = publish(
            &hub,
            EMBED,
            &[
                ("config.json", b"{\"hidden_size\": 384}".to_vec()),
                ("tokenizer.json", weights(7, 4000)),
                ("model.safetensors", weights(1, 3 << 20)),
                (
                    "1_Pooling/config.json",
                    b"{\"pooling_mode_mean_tokens\": true}".to_vec(),
                ),
            ],
        );
        let caption = publish(
            &hub,
            CAPTION,
            &[
                ("config.json", b"{\"model_type\": \"blip\"}".to_vec()),
                ("preprocessor_config.json", b"{\"size\": 384}".to_vec()),
                ("model.safetensors", weights(3, 2 << 20)),
            ],
        );
        // The embedding service's plain folder: the files as save_pretrained left them.
        let folder = data.join("embedding/models").join(EMBED);
        copy_tree(&hub.root.join(EMBED), &folder);
        // The caption service's private cache, written by the reference client.
        let private = data.join("image-caption/Salesforce--blip-test");
        python::hf_ok(&["download", CAPTION], &private, &hub.url);
        let cache = tmp.path().join("cache");
        Self {
            tmp,
            hub,
            cache,
            data,
            embed,
            caption,
        }
    }

    fn migrate(&self, args: &[&str]) -> Output {
        self.migrate_env(args, &[])
    }

    fn migrate_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url)
            .arg("--cache-dir")
            .arg(&self.cache)
            .arg("migrate")
            .arg("--from")
            .arg(&self.data)
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Another `haid-models` command on the same cache and hub.
    fn haid(&self, args: &[&str]) -> Output {
        haid(self.tmp.path())
            .env("HF_ENDPOINT", &self.hub.url)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .output()
            .unwrap()
    }

    fn folder(&self) -> PathBuf {
        self.data.join("embedding/models").join(EMBED)
    }

    fn private_cache(&self) -> PathBuf {
        self.data.join("image-caption/Salesforce--blip-test")
    }

    /// Python, offline, resolves every file of `repo` from our cache with the right bytes.
    fn assert_python_reads(&self, repo: &HubRepo, id: &str) {
        python::assert_reads_offline(&self.cache, &self.hub.root, id, repo);
    }
}

fn publish(hub: &FakeHub, id: &str, files: &[(&str, Vec<u8>)]) -> HubRepo {
    hub.publish(id, files)
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::create_dir_all(to).unwrap();
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// Every path under `dir` with its size, modification time and link target:
/// what "touched nothing" compares.
fn tree_state(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let link = std::fs::read_link(&p).ok();
            out.insert(
                p.clone(),
                format!("{} {:?} {:?}", m.len(), m.modified().ok(), link),
            );
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// Whether every item of a JSON array has `field` equal to `want`.
fn all_have(list: &Value, field: &str, want: &str) -> bool {
    list.as_array()
        .unwrap()
        .iter()
        .all(|item| item[field] == want)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "migrate failed: {}", text(out));
}

fn blobs(cache: &Path, id: &str) -> Vec<String> {
    let dir = cache
        .join(format!("models--{}", id.replace('/', "--")))
        .join("blobs");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn expected_blobs(repo: &HubRepo) -> Vec<String> {
    let mut names: Vec<String> = repo.files.iter().map(|f| f.etag().to_owned()).collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn both_layouts_land_so_python_reads_them_offline_and_downloads_nothing_online() {
    let w = World::new();
    // Beside the old layouts: another service's files, and a folder outside both.
    let other = w.data.join("speech/models/keep.bin");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::write(&other, b"not a model of ours").unwrap();
    let outside = w.tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep.txt"), b"x").unwrap();
    let untouched = (tree_state(&w.data.join("speech")), tree_state(&outside));
    assert_ok(&w.migrate(&[]));
    assert_eq!(
        untouched,
        (tree_state(&w.data.join("speech")), tree_state(&outside)),
        "nothing outside the old layouts and the cache changed"
    );

    assert!(!w.folder().exists(), "the plain folder is gone");
    assert!(
        !w.data.join("embedding/models/acme").exists(),
        "and its empty org folder"
    );
    assert!(!w.private_cache().exists(), "the private cache is gone");
    assert!(
        !w.cache.join(".locks/haid-migration.json").exists(),
        "the journal is closed"
    );
    assert_eq!(blobs(&w.cache, EMBED), expected_blobs(&w.embed));
    assert_eq!(blobs(&w.cache, CAPTION), expected_blobs(&w.caption));

    w.assert_python_reads(&w.embed, EMBED);
    w.assert_python_reads(&w.caption, CAPTION);

    // Online, the reference client finds both complete: not one byte is served.
    w.hub.reset_counts();
    python::hf_ok(&["download", EMBED], &w.cache, &w.hub.url);
    python::hf_ok(&["download", CAPTION], &w.cache, &w.hub.url);
    assert_eq!(w.hub.bytes_served(), 0, "snapshot_download fetched nothing");
    python::hf_ok(&["cache", "verify", EMBED], &w.cache, &w.hub.url);

    // And our list calls them downloaded.
    let scan: Value = serde_json::from_slice(&w.haid(&["scan", "--json"]).stdout).unwrap();
    let states: Vec<_> = scan["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["complete", "complete"]);
}

#[test]
fn a_file_altered_before_migration_is_reported_and_not_blessed() {
    let w = World::new();
    let weights_file = w.folder().join("model.safetensors");
    let mut bytes = std::fs::read(&weights_file).unwrap();
    bytes[1000] ^= 0xff; // same size, other bytes
    std::fs::write(&weights_file, &bytes).unwrap();
    // And one blob of the private cache damaged as well.
    let blob = w
        .caption
        .file("model.safetensors")
        .unwrap()
        .etag()
        .to_owned();
    let private_blob = w
        .private_cache()
        .join("models--Salesforce--blip-test/blobs")
        .join(&blob);
    let mut damaged = std::fs::read(&private_blob).unwrap();
    damaged[10] ^= 0xff;
    std::fs::write(&private_blob, &damaged).unwrap();

    let out = w.migrate(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("model.safetensors") && said.contains("differs from the hub"),
        "{said}"
    );
    assert!(said.contains("do not match its name"), "{said}");

    // Not blessed: neither the altered bytes nor the hub's name are in the cache.
    let hub_etag = w.embed.file("model.safetensors").unwrap().etag().to_owned();
    assert!(!blobs(&w.cache, EMBED).contains(&hub_etag));
    assert!(!blobs(&w.cache, CAPTION).contains(&blob));
    // Left where they were, byte for byte.
    assert_eq!(std::fs::read(&weights_file).unwrap(), bytes);
    assert_eq!(std::fs::read(&private_blob).unwrap(), damaged);
    // The rest is usable, and the model is partial, so a download fetches only the file.
    let scan: Value = serde_json::from_slice(&w.haid(&["scan", "--json"]).stdout).unwrap();
    assert!(all_have(&scan["repos"], "state", "partial"), "{scan}");
    w.hub.reset_counts();
    let dl = w.haid(&["download", EMBED]);
    assert!(dl.status.success(), "{}", text(&dl));
    assert_eq!(
        w.hub.bytes_served(),
        3 << 20,
        "only the one file was fetched"
    );
}

#[cfg(unix)] // a kill is a signal
#[test]
fn a_migration_killed_at_any_point_finishes_on_the_next_run_without_duplicates() {
    // In plan order: the 3 blobs of the private cache (Salesforce/…), then
    // the 4 files of the plain folder (acme/…).
    for crash_after in 1..=7 {
        let w = World::new();
        let n = crash_after.to_string();
        let out = w.migrate_env(&[], &[("HAID_MIGRATE_CRASH_AFTER", &n)]);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(6),
            "killed after {n} files: {}",
            text(&out)
        );
        let journal = w.cache.join(".locks/haid-migration.json");
        assert_eq!(
            journal.exists(),
            crash_after > 3,
            "after {n}: the journal knows the folder's files"
        );
        assert_ok(&w.migrate(&[]));
        assert!(
            !w.folder().exists() && !w.private_cache().exists(),
            "after {n}: sources gone"
        );
        assert_eq!(
            blobs(&w.cache, EMBED),
            expected_blobs(&w.embed),
            "after {n}"
        );
        assert_eq!(
            blobs(&w.cache, CAPTION),
            expected_blobs(&w.caption),
            "after {n}"
        );
        w.assert_python_reads(&w.embed, EMBED);
        w.assert_python_reads(&w.caption, CAPTION);
    }
}

#[test]
fn a_dry_run_plans_and_touches_nothing_and_a_second_run_is_a_no_op() {
    let w = World::new();
    let before = (tree_state(&w.data), tree_state(&w.tmp.path().join("cache")));
    let out = w.migrate(&["--dry-run", "--json"]);
    assert_ok(&out);
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        before,
        (tree_state(&w.data), tree_state(&w.tmp.path().join("cache")))
    );
    assert!(!w.cache.exists(), "not even the cache folder was created");

    let models = plan["models"].as_array().unwrap();
    let ids: Vec<_> = models
        .iter()
        .map(|m| m["repo_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [CAPTION, EMBED]);
    let embed = &models[1];
    assert_eq!(embed["layout"], "folder");
    assert_eq!(embed["method"], "move");
    assert_eq!(embed["bytes"], w.embed.total_size());
    assert_eq!(embed["files"], 4);
    assert_eq!(embed["source"], w.folder().to_str().unwrap());
    assert_eq!(
        embed["target"],
        w.cache.join("models--acme--embed").to_str().unwrap()
    );
    assert_eq!(models[0]["layout"], "hf_cache");

    // The table says the same, for people.
    let out = w.migrate(&["--dry-run"]);
    assert!(
        text(&out).contains("2 models") && text(&out).contains("dry run"),
        "{}",
        text(&out)
    );

    assert_ok(&w.migrate(&[]));
    let after = tree_state(&w.cache);
    let again = w.migrate(&["--json"]);
    assert_ok(&again);
    assert!(text(&again).contains("\"models\":0"), "{}", text(&again));
    assert_eq!(
        after,
        tree_state(&w.cache),
        "the second run changed nothing"
    );
}

#[test]
fn from_another_file_system_it_copies_checks_and_then_removes_the_source() {
    let shm = Path::new("/dev/shm");
    assert!(
        shm.is_dir(),
        "this test needs /dev/shm (a tmpfs: another file system)"
    );
    let w = World::with_data_in(Some(shm));
    let plan: Value = serde_json::from_slice(&w.migrate(&["--dry-run", "--json"]).stdout).unwrap();
    assert!(all_have(&plan["models"], "method", "copy"), "{plan}");
    assert_ok(&w.migrate(&[]));
    assert!(!w.folder().exists() && !w.private_cache().exists());
    w.assert_python_reads(&w.embed, EMBED);
    w.assert_python_reads(&w.caption, CAPTION);
    let _ = std::fs::remove_dir_all(&w.data);
}

#[test]
fn offline_it_names_blobs_by_content_under_a_marked_local_commit() {
    let w = World::new();
    w.hub.reset_counts();
    let out = w.migrate_env(&["--json"], &[("HF_HUB_OFFLINE", "1")]);
    assert_ok(&out);
    assert_eq!(w.hub.requests(), 0, "offline means no request at all");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let embed = events
        .iter()
        .find(|e| e["event"] == "model" && e["repo_id"] == EMBED)
        .unwrap();
    assert_eq!(embed["local_commit"], true);
    assert!(embed["commit"]
        .as_str()
        .unwrap()
        .starts_with("000000000000"));
    assert!(embed["advice"]
        .as_str()
        .unwrap()
        .contains("haid-models download acme/embed"));
    // The private cache had the hub's commit already: nothing local about it.
    let caption = events
        .iter()
        .find(|e| e["event"] == "model" && e["repo_id"] == CAPTION)
        .unwrap();
    assert_eq!(caption["commit"], w.caption.sha.as_str());

    w.assert_python_reads(&w.embed, EMBED);
    // The advised online check re-fetches only what the names could not tell:
    // the weights are never downloaded again.
    w.hub.reset_counts();
    let dl = w.haid(&["download", EMBED]);
    assert!(dl.status.success(), "{}", text(&dl));
    assert!(
        w.hub.bytes_served() < 1 << 20,
        "served {}",
        w.hub.bytes_served()
    );
    w.assert_python_reads(&w.embed, EMBED);
}

#[test]
fn a_folder_that_is_not_there_is_a_clear_error() {
    let w = World::new();
    let nope = w.tmp.path().join("nope");
    let out = w.haid(&["migrate", "--from", nope.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("not a folder") && text(&out).contains("HAID_DATA_DIR"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_second_migration_at_the_same_time_is_refused_and_touches_nothing() {
    let w = World::new();
    // Another migration (the app's, or a second CLI) holds the run lock.
    let lock_path = w.cache.join(".locks/haid-migration.lock");
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let held = std::fs::File::create(&lock_path).unwrap();
    held.lock().unwrap();
    let before = (tree_state(&w.data), tree_state(&w.cache));

    let out = w.migrate(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("another migration into this cache is running"),
        "{}",
        text(&out)
    );
    assert_eq!(before, (tree_state(&w.data), tree_state(&w.cache)));

    // Once it is done (or its process died), the migration runs.
    drop(held);
    assert_ok(&w.migrate(&[]));
    assert_eq!(blobs(&w.cache, EMBED), expected_blobs(&w.embed));
}
