//! huggingface_hub 2.5's shared blob store: caches whose store was written
//! by 2.5's own code (`publish_blob_to_shared_store`, through
//! `tests/py/shared_store.py`), read, verified, deleted and pruned by us, and
//! every answer compared with 2.5's on the same cache. After each step, what
//! remains still loads offline in Python.
#![cfg(unix)] // the store is symlinks; huggingface_hub uses none where they do not work

use std::fs;
use std::path::{Path, PathBuf};

use haid_models_tests::fixture::{commit, etag, weights, CacheFixture};
use haid_models_tests::haid;
use haid_models_tests::output::{json, json_ok, stderr};
use haid_models_tests::python::run_json;
use serde_json::Value;

const CONFIG_A: &[u8] = b"{\"model\": \"a\"}";
const CONFIG_B: &[u8] = b"{\"model\": \"b\"}";

/// The weights both repos hold: one payload in the store.
fn shared_weights() -> Vec<u8> {
    weights(7, 300_000)
}

/// A one-revision repo at `main`, with its listing, as a 2.x download leaves it.
fn repo(fx: &CacheFixture, name: &str, files: &[(&str, &[u8])]) -> String {
    let c = commit(name);
    fx.repo(&format!("models--org--{name}"))
        .revision(&c, files)
        .tree(&c, files)
        .reference("main", &c);
    c
}

fn py(args: &[&str]) -> Value {
    run_json("shared_store.py", args)
}

fn cache_arg(fx: &CacheFixture) -> &str {
    fx.cache.to_str().unwrap()
}

/// Publishes `<repo>/blobs/<etag>` with 2.5's own code; returns its Xet hash.
fn publish(fx: &CacheFixture, folder: &str, etag: &str) -> String {
    let out = py(&["publish", cache_arg(fx), folder, etag]);
    assert_eq!(out["published"], true, "{out}");
    out["hash"].as_str().unwrap().to_owned()
}

/// Two repos, `org/a` and `org/b`, sharing one payload, as 2.5 leaves them.
struct Shared {
    fx: CacheFixture,
    hash: String,
    weights: Vec<u8>,
}

impl Shared {
    fn new() -> Self {
        let fx = CacheFixture::new();
        let w = shared_weights();
        repo(
            &fx,
            "a",
            &[("config.json", CONFIG_A), ("model.safetensors", &w)],
        );
        repo(
            &fx,
            "b",
            &[("config.json", CONFIG_B), ("model.safetensors", &w)],
        );
        let hash = publish(&fx, "models--org--a", &etag(&w));
        assert_eq!(publish(&fx, "models--org--b", &etag(&w)), hash);
        Self {
            fx,
            hash,
            weights: w,
        }
    }

    fn payload(&self) -> PathBuf {
        self.fx
            .cache
            .join("blobs")
            .join(&self.hash[..2])
            .join(&self.hash)
    }

    /// Offline: nothing here needs the hub, and verify would ask it.
    fn run(&self, args: &[&str]) -> std::process::Output {
        haid(self.fx.dir.path())
            .env("HF_HUB_OFFLINE", "1")
            .arg("--cache-dir")
            .arg(&self.fx.cache)
            .args(args)
            .output()
            .unwrap()
    }

    fn ours(&self, args: &[&str]) -> Value {
        json_ok(&self.run(args))
    }

    /// 2.5's `expected_freed_size` for deleting every revision of `names`.
    fn python_plan(&self, names: &[&str]) -> u64 {
        let mut args = vec!["plan", cache_arg(&self.fx)];
        let commits: Vec<String> = names.iter().map(|n| commit(n)).collect();
        args.extend(commits.iter().map(String::as_str));
        py(&args)["expected_freed_size"].as_u64().unwrap()
    }

    /// Python reads `org/<name>`'s weights offline; their sha256.
    fn python_reads(&self, name: &str) -> String {
        let out = run_json(
            "read_offline.py",
            &[
                cache_arg(&self.fx),
                &format!("org/{name}"),
                "model.safetensors",
            ],
        );
        out["files"]["model.safetensors"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn manifest(dir: &Path) -> PathBuf {
    let path = dir.join("manifest.json");
    fs::write(
        &path,
        r#"{"embedding": [{"id": "org/a", "name": "A", "team": "org"},
                          {"id": "org/b", "name": "B", "team": "org"}]}"#,
    )
    .unwrap();
    path
}

/// The model `id` of `list --json` (the manifest is merged over the bundled one).
fn listed<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["models"].as_array().unwrap())
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

fn repo_size(scan: &Value, id: &str) -> u64 {
    scan["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {scan}"))["size_on_disk"]
        .as_u64()
        .unwrap()
}

#[test]
fn scan_list_verify_and_space_read_the_store_as_2_5_does() {
    let s = Shared::new();
    // A third repo published, then its folder removed by hand: its payload
    // is referenced by nothing.
    let lone = weights(9, 50_000);
    repo(&s.fx, "gone", &[("model.safetensors", &lone)]);
    publish(&s.fx, "models--org--gone", &etag(&lone));
    fs::remove_dir_all(s.fx.cache.join("models--org--gone")).unwrap();

    let reference = py(&["scan", cache_arg(&s.fx)]);
    let scan = s.ours(&["scan", "--json"]);
    assert_eq!(scan["size_on_disk"], reference["size_on_disk"], "{scan}");
    let physical = s.weights.len() + lone.len() + CONFIG_A.len() + CONFIG_B.len();
    assert_eq!(scan["size_on_disk"].as_u64().unwrap(), physical as u64);
    for id in ["org/a", "org/b"] {
        assert_eq!(
            repo_size(&scan, id),
            reference["repos"][format!("model/{id}")].as_u64().unwrap()
        );
    }

    let manifest = manifest(s.fx.dir.path());
    let list = s.ours(&["list", "--json", "--manifest", manifest.to_str().unwrap()]);
    for id in ["org/a", "org/b"] {
        let m = listed(&list, id);
        assert_eq!(m["state"], "downloaded", "{m}");
        assert_eq!(m["size_on_disk"].as_u64().unwrap(), repo_size(&scan, id));
    }

    let verify = s.run(&["verify", "org/a", "--json"]);
    let report = json_ok(&verify);
    let text = report.to_string();
    assert!(!text.contains("unreadable"), "{text}");
    assert!(text.contains("model.safetensors"), "{text}");

    let space = s.ours(&["space", "--json"]);
    let shared = space["shared"].as_array().unwrap();
    assert_eq!(shared.len(), 2, "{space}");
    assert_eq!(shared[0]["hash"], s.hash.as_str());
    assert_eq!(shared[0]["bytes"].as_u64().unwrap(), s.weights.len() as u64);
    assert_eq!(shared[0]["repos"], serde_json::json!(["org/a", "org/b"]));
    assert_eq!(
        shared[1]["repos"],
        serde_json::json!([]),
        "the unreferenced one"
    );
}

#[test]
fn a_damaged_payload_fails_verify_against_the_blob_name() {
    let s = Shared::new();
    let payload = s.payload();
    let mut bytes = fs::read(&payload).unwrap();
    bytes[1000] ^= 0xff;
    let mut perms = fs::metadata(&payload).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&payload, perms).unwrap();
    fs::write(&payload, &bytes).unwrap();
    let out = s.run(&["verify", "org/b", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = json(&out).to_string();
    assert!(text.contains("mismatch"), "{text}");
}

#[test]
fn deleting_one_sharer_then_the_last_frees_what_2_5_plans() {
    let s = Shared::new();
    let plan_a = s.python_plan(&["a"]);
    let dry = s.ours(&["delete", "org/a", "--dry-run", "--json"]);
    assert_eq!(dry["freed_bytes"].as_u64().unwrap(), plan_a, "{dry}");
    let done = s.ours(&["delete", "org/a", "--yes", "--json"]);
    assert_eq!(done["freed_bytes"].as_u64().unwrap(), plan_a);
    assert_eq!(plan_a, CONFIG_A.len() as u64, "the payload is still b's");
    assert!(s.payload().is_file());
    let refs = fs::read_to_string(format!("{}.refs", s.payload().display())).unwrap();
    assert_eq!(refs, format!("models--org--b/blobs/{}\n", etag(&s.weights)));
    assert_eq!(s.python_reads("b"), etag(&s.weights));

    let plan_b = s.python_plan(&["b"]);
    assert_eq!(plan_b, (CONFIG_B.len() + s.weights.len()) as u64);
    let done = s.ours(&["delete", "org/b", "--yes", "--json"]);
    assert_eq!(done["freed_bytes"].as_u64().unwrap(), plan_b);
    assert!(
        !s.payload().exists(),
        "the last sharer took the payload along"
    );
    let after = py(&["scan", cache_arg(&s.fx)]);
    assert_eq!(after["size_on_disk"], 0, "{after}");
}

#[test]
fn prune_frees_unreferenced_payloads_as_hf_cache_prune_does() {
    let s = Shared::new();
    // b's repo folder removed by hand (or by an older client): only a's
    // reference is left. A third payload has none at all.
    let lone = weights(9, 50_000);
    repo(&s.fx, "gone", &[("model.safetensors", &lone)]);
    publish(&s.fx, "models--org--gone", &etag(&lone));
    fs::remove_dir_all(s.fx.cache.join("models--org--gone")).unwrap();
    fs::remove_dir_all(s.fx.cache.join("models--org--b")).unwrap();

    let reference = py(&["prune-plan", cache_arg(&s.fx)]);
    assert_eq!(reference["unreferenced"], 1);
    let dry = s.ours(&["prune", "--dry-run", "--json"]);
    assert_eq!(dry["freed_bytes"], reference["freed"], "{dry}");
    assert_eq!(dry["shared_payloads"].as_array().unwrap().len(), 1);
    s.ours(&["prune", "--yes", "--json"]);
    assert!(s.payload().is_file(), "a still links to it");
    assert_eq!(s.python_reads("a"), etag(&s.weights));
    let after = py(&["scan", cache_arg(&s.fx)]);
    assert_eq!(
        after["size_on_disk"].as_u64().unwrap(),
        (s.weights.len() + CONFIG_A.len()) as u64
    );
    assert!(after["unreferenced"].as_object().unwrap().is_empty());
}

#[test]
fn a_detached_revision_sharing_a_payload_with_another_repo_keeps_it() {
    let s = Shared::new();
    // a's main moves to a new commit without the weights: its old revision,
    // detached, still links to the payload b shares.
    let next = commit("a2");
    s.fx.repo("models--org--a")
        .revision(&next, &[("config.json", b"{\"v\": 2}")])
        .reference("main", &next);
    let reference = py(&["prune-plan", cache_arg(&s.fx)]);
    let dry = s.ours(&["prune", "--dry-run", "--json"]);
    assert_eq!(dry["freed_bytes"], reference["freed"], "{dry}");
    s.ours(&["prune", "--yes", "--json"]);
    assert!(s.payload().is_file());
    assert_eq!(s.python_reads("b"), etag(&s.weights));
}

#[test]
fn keep_under_counts_a_shared_payload_once_when_its_last_sharer_goes() {
    let s = Shared::new();
    let both = s.python_plan(&["a", "b"]);
    assert_eq!(
        both,
        (s.weights.len() + CONFIG_A.len() + CONFIG_B.len()) as u64
    );
    let empty = s.fx.dir.path().join("empty.json");
    fs::write(&empty, "{}").unwrap();
    let plan = s.ours(&[
        "prune",
        "--keep-under",
        "1B",
        "--dry-run",
        "--json",
        "--manifest",
        empty.to_str().unwrap(),
    ]);
    let freed: u64 = plan["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["size_on_disk"].as_u64().unwrap())
        .sum();
    assert_eq!(freed, both, "{plan}");
    let sizes: Vec<u64> = plan["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["size_on_disk"].as_u64().unwrap())
        .collect();
    assert!(
        sizes.iter().any(|&b| b < 100),
        "the first sharer frees only its own config: {sizes:?}"
    );
    s.ours(&[
        "prune",
        "--keep-under",
        "1B",
        "--yes",
        "--json",
        "--manifest",
        empty.to_str().unwrap(),
    ]);
    assert!(!s.payload().exists());
    assert_eq!(py(&["scan", cache_arg(&s.fx)])["size_on_disk"], 0);
}

#[test]
fn python_deleting_the_other_sharer_leaves_ours_whole() {
    let s = Shared::new();
    let out = haid_models_tests::python::venv_command("hf")
        .args(["cache", "rm", "model/org/a", "--yes", "--cache-dir"])
        .arg(&s.fx.cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.payload().is_file());
    let manifest = manifest(s.fx.dir.path());
    let list = s.ours(&["list", "--json", "--manifest", manifest.to_str().unwrap()]);
    assert_eq!(listed(&list, "org/b")["state"], "downloaded", "{list}");
    assert!(json_ok(&s.run(&["verify", "org/b", "--json"]))
        .to_string()
        .contains("\"ok\""));
}

#[test]
fn a_kill_at_any_step_of_a_delete_loses_no_referenced_payload() {
    for last_sharer in [false, true] {
        for n in 1.. {
            let s = Shared::new();
            if last_sharer {
                s.ours(&["delete", "org/a", "--yes", "--json"]);
            }
            let victim = if last_sharer { "org/b" } else { "org/a" };
            let out = haid(s.fx.dir.path())
                .env("HF_HUB_OFFLINE", "1")
                .env("HAID_STORE_CRASH_AFTER", n.to_string())
                .arg("--cache-dir")
                .arg(&s.fx.cache)
                .args(["delete", victim, "--yes", "--json"])
                .output()
                .unwrap();
            let killed = !out.status.success();
            if !last_sharer {
                assert!(
                    s.payload().is_file(),
                    "b still references it (kill after step {n})"
                );
                assert_eq!(s.python_reads("b"), etag(&s.weights));
            }
            // Whatever the kill left, the two scans agree, and a prune (ours)
            // leaves exactly what 2.5 would keep.
            let reference = py(&["scan", cache_arg(&s.fx)]);
            let scan = s.ours(&["scan", "--json"]);
            assert_eq!(
                scan["size_on_disk"], reference["size_on_disk"],
                "kill after {n}"
            );
            let folder = format!("models--{}", victim.replace('/', "--"));
            if s.fx.cache.join(folder).exists() {
                s.ours(&["delete", victim, "--yes", "--json"]);
            }
            s.ours(&["prune", "--yes", "--json"]);
            let expected = if last_sharer {
                0
            } else {
                s.weights.len() + CONFIG_B.len()
            };
            assert_eq!(
                py(&["scan", cache_arg(&s.fx)])["size_on_disk"]
                    .as_u64()
                    .unwrap(),
                expected as u64,
                "kill after {n}"
            );
            if !killed {
                assert!(
                    n > 1,
                    "a delete of a sharer changes the store at least twice"
                );
                break;
            }
        }
    }
}

/// Sets a store file writable again (payloads are read-only), to damage it.
fn writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn hostile_reference_lines_and_foreign_links_are_neither_followed_nor_touched() {
    let s = Shared::new();
    let outside = s.fx.outside();
    fs::write(outside.join("x"), "keep").unwrap();
    // A `.refs` line naming a file outside, and a repo blob that links
    // outside the store although it sits where a shared link would.
    let refs = format!("{}.refs", s.payload().display());
    writable(Path::new(&refs));
    let mut list = fs::read_to_string(&refs).unwrap();
    list.push_str("../../outside/x\n../outside/x\n/etc/passwd\n");
    fs::write(&refs, list).unwrap();
    let c = commit("evil");
    let evil = s.fx.repo("models--org--evil");
    evil.revision(&c, &[("config.json", b"{}")])
        .reference("main", &c);
    let blob = evil.path.join("blobs").join(etag(&s.weights));
    std::os::unix::fs::symlink(outside.join("x"), &blob).unwrap();
    std::os::unix::fs::symlink(
        format!("../../blobs/{}", etag(&s.weights)),
        evil.path
            .join("snapshots")
            .join(&c)
            .join("model.safetensors"),
    )
    .unwrap();

    let scan = s.ours(&["scan", "--json"]);
    assert!(scan["warnings"].to_string().contains("outside"), "{scan}");
    let plan = s.ours(&["delete", "org/evil", "--dry-run", "--json"]);
    assert_eq!(
        plan["freed_bytes"].as_u64().unwrap(),
        2,
        "only its config: {plan}"
    );
    s.ours(&["delete", "org/evil", "--yes", "--json"]);
    s.ours(&["delete", "org/a", "--yes", "--json"]);
    s.ours(&["delete", "org/b", "--yes", "--json"]);
    s.ours(&["prune", "--yes", "--json"]);
    assert_eq!(fs::read_to_string(outside.join("x")).unwrap(), "keep");
    assert!(
        !s.payload().exists(),
        "the hostile lines kept nothing alive"
    );
}

#[test]
fn a_payload_of_the_wrong_size_reads_as_damaged_and_fails_verify() {
    let s = Shared::new();
    writable(&s.payload());
    fs::write(s.payload(), &s.weights[..1000]).unwrap();
    let manifest = manifest(s.fx.dir.path());
    let list = s.ours(&["list", "--json", "--manifest", manifest.to_str().unwrap()]);
    assert_eq!(listed(&list, "org/a")["state"], "corrupt", "{list}");
    let out = s.run(&["verify", "org/a", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn an_unmarked_blobs_folder_is_not_a_store_to_read_or_collect() {
    let s = Shared::new();
    let marker = s.fx.cache.join("blobs/.huggingface-shared-blobs");
    writable(&marker);
    fs::remove_file(&marker).unwrap();
    let manifest = manifest(s.fx.dir.path());
    let list = s.ours(&["list", "--json", "--manifest", manifest.to_str().unwrap()]);
    assert_ne!(listed(&list, "org/a")["state"], "downloaded", "{list}");
    let plan = s.ours(&["delete", "org/a", "--dry-run", "--json"]);
    assert_eq!(plan["freed_bytes"].as_u64().unwrap(), CONFIG_A.len() as u64);
    s.ours(&["delete", "org/a", "--yes", "--json"]);
    s.ours(&["delete", "org/b", "--yes", "--json"]);
    s.ours(&["prune", "--yes", "--json"]);
    assert!(s.payload().is_file(), "not ours to collect");
}

#[test]
fn watch_reports_the_sharers_when_a_payload_is_removed_by_hand() {
    use std::io::{BufRead, BufReader};
    let s = Shared::new();
    let mut child = haid(s.fx.dir.path())
        .arg("--cache-dir")
        .arg(&s.fx.cache)
        .args(["watch", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait = std::time::Duration::from_secs(10);
    assert!(lines.recv_timeout(wait).unwrap().contains("ready"));
    fs::remove_file(s.payload()).unwrap();
    let mut seen = Vec::new();
    while let Ok(line) = lines.recv_timeout(wait) {
        seen.push(line);
        let both = ["org/a", "org/b"]
            .iter()
            .all(|id| seen.iter().any(|l| l.contains(id) && l.contains("corrupt")));
        if both {
            break;
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    for id in ["org/a", "org/b"] {
        assert!(
            seen.iter().any(|l| l.contains(id) && l.contains("corrupt")),
            "{id} not reported: {seen:?}"
        );
    }
}
