//! `export` and `import`: an archive of the cache layout that Python reads
//! after an import and after a plain `tar -x`; the same cache gives the same
//! bytes; a tampered archive commits nothing damaged; a hostile one writes
//! nothing outside the cache; a damaged model is not exported.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use haid_models_tests::fixture::weights;
use haid_models_tests::output::{assert_ok, ndjson, stderr};
use haid_models_tests::published::Published;
use haid_models_tests::tree_walk::tree_state;
use haid_models_tests::{haid, python};
use serde_json::Value;
use sha2::{Digest, Sha256};

const EMBED: &str = "acme/embed";
const CAPTION: &str = "acme/caption";
const FLAT: &str = "acme/flat";
/// The embedder's weights: big enough for export and import to hash on
/// their second thread (`hashing_copy`, from 8 MiB).
const EMBED_WEIGHTS: usize = 9 << 20;

/// The hub and its models (`Published`), with this file's commands.
struct World {
    base: Published,
}

impl std::ops::Deref for World {
    type Target = Published;
    fn deref(&self) -> &Published {
        &self.base
    }
}

impl std::ops::DerefMut for World {
    fn deref_mut(&mut self) -> &mut Published {
        &mut self.base
    }
}

impl World {
    /// Three models in `<tmp>/src`: ours (with [`EMBED_WEIGHTS`]), Python's,
    /// and Python's without symlinks.
    fn new() -> Self {
        let mut w = Self {
            base: Published::new(),
        };
        for (id, seed, big) in [
            (EMBED, 1, EMBED_WEIGHTS),
            (CAPTION, 2, 400_000),
            (FLAT, 3, 400_000),
        ] {
            w.publish(id, seed, big);
        }
        assert_ok(&w.haid(&w.src(), &["download", EMBED]));
        python::hf_ok(&["download", CAPTION], &w.src(), &w.hub.url);
        let flat = python::venv_command("hf")
            .args(["download", FLAT, "--cache-dir"])
            .arg(w.src())
            .env("HF_ENDPOINT", &w.hub.url)
            .env("HF_HUB_DISABLE_SYMLINKS", "1")
            .output()
            .unwrap();
        assert_ok(&flat);
        w
    }

    fn src(&self) -> PathBuf {
        self.tmp.path().join("src")
    }

    fn haid(&self, cache: &Path, args: &[&str]) -> Output {
        self.cmd(cache).args(args).output().unwrap()
    }

    fn cmd(&self, cache: &Path) -> Command {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url)
            .arg("--cache-dir")
            .arg(cache);
        cmd
    }

    fn export_all(&self, out: &Path) -> Output {
        let mut args = vec!["export", EMBED, CAPTION, FLAT, "-o"];
        args.push(out.to_str().unwrap());
        self.haid(&self.src(), &args)
    }

    /// Our scan of `cache`: (id, state, size) of each repo.
    fn scan(&self, cache: &Path) -> Vec<(String, String, u64)> {
        let out = self.haid(cache, &["scan", "--json"]);
        assert_ok(&out);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut rows: Vec<_> = v["repos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["repo_id"].as_str().unwrap().to_owned(),
                    r["state"].as_str().unwrap().to_owned(),
                    r["size_on_disk"].as_u64().unwrap(),
                )
            })
            .collect();
        rows.sort();
        rows
    }
}

fn done(out: &Output) -> Value {
    ndjson(out).pop().expect("a done line")
}

#[test]
fn an_export_imported_into_a_fresh_cache_reads_in_python_offline_and_a_rerun_skips_it() {
    let w = World::new();
    let tar = w.tmp.path().join("models.tar");
    let out = w
        .cmd(&w.src())
        .args(["--json", "export", EMBED, CAPTION, FLAT, "-o"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_ok(&out);
    let report = done(&out);
    assert_eq!(report["event"], "done");
    assert_eq!(report["models"].as_array().unwrap().len(), 3);
    assert!(!w.tmp.path().join("models.tar.partial").exists());

    // The same cache gives the same bytes.
    let again = w.tmp.path().join("again.tar");
    assert_ok(&w.export_all(&again));
    assert_eq!(std::fs::read(&tar).unwrap(), std::fs::read(&again).unwrap());

    let dst = w.tmp.path().join("dst");
    let before_outside = tree_state(w.tmp.path(), &[&dst]);
    let out = w
        .cmd(&dst)
        .args(["--json", "import"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_ok(&out);
    let report = done(&out);
    assert_eq!(report["refused"], serde_json::json!([]));
    assert_eq!(report["damaged"], serde_json::json!([]));
    assert!(report["blobs_added"].as_u64().unwrap() >= 6, "{report}");
    assert_eq!(
        before_outside,
        tree_state(w.tmp.path(), &[&dst]),
        "only the cache was written"
    );
    assert_eq!(
        w.scan(&dst),
        w.scan(&w.src()),
        "the same models, states and sizes"
    );
    w.assert_python_reads(&dst, &[EMBED, CAPTION, FLAT]);

    // A rerun commits nothing new.
    let out = w
        .cmd(&dst)
        .args(["--json", "import"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_ok(&out);
    let report = done(&out);
    assert_eq!(report["blobs_added"], 0);
    assert_eq!(report["bytes_written"], 0);
    assert!(report["blobs_present"].as_u64().unwrap() >= 6);
}

#[test]
fn a_plain_tar_x_of_an_export_gives_the_same_cache() {
    let w = World::new();
    let tar = w.tmp.path().join("models.tar");
    assert_ok(&w.export_all(&tar));
    let plain = w.tmp.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let x = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&plain)
        .output()
        .unwrap();
    assert!(x.status.success(), "{}", String::from_utf8_lossy(&x.stderr));
    assert_eq!(w.scan(&plain), w.scan(&w.src()));
    w.assert_python_reads(&plain, &[EMBED, CAPTION, FLAT]);
    // Nothing a scan would warn about: the index is under .locks.
    let scan: Value = serde_json::from_slice(&w.haid(&plain, &["scan", "--json"]).stdout).unwrap();
    assert_eq!(scan["warnings"], serde_json::json!([]), "{scan}");
}

#[test]
fn a_tampered_archive_commits_nothing_damaged_and_the_rest_is_imported() {
    let w = World::new();
    let tar = w.tmp.path().join("models.tar");
    assert_ok(&w.export_all(&tar));
    // One byte of the embedder's weights flipped, inside the archive.
    let mut bytes = std::fs::read(&tar).unwrap();
    let weights = weights(1, EMBED_WEIGHTS);
    let etag = hex::encode(Sha256::digest(&weights));
    // The entry's name is the first field of its 512-byte header; its data follows.
    // (NUL-padded there; the index names it too, in quotes.)
    let name = format!("models--acme--embed/blobs/{etag}\0");
    let header = bytes
        .windows(name.len())
        .position(|win| win == name.as_bytes())
        .expect("the weights are in the archive");
    bytes[header + 512 + 1000] ^= 0xff;
    std::fs::write(&tar, &bytes).unwrap();

    let dst = w.tmp.path().join("dst");
    let out = w
        .cmd(&dst)
        .args(["--json", "import"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = done(&out);
    let damaged = report["damaged"].as_array().unwrap();
    assert_eq!(damaged.len(), 1, "{report}");
    assert!(damaged[0]["path"]
        .as_str()
        .unwrap()
        .contains("models--acme--embed/blobs/"));
    assert!(stderr(&out).contains("incomplete"), "{}", stderr(&out));
    // Not committed: no blob of that name, no link to nothing; the model
    // reads as partial, and the two others are whole.
    let etag = hex::encode(Sha256::digest(&weights));
    assert!(!dst
        .join(format!("models--acme--embed/blobs/{etag}"))
        .exists());
    let states: Vec<(String, String)> =
        w.scan(&dst).into_iter().map(|(id, s, _)| (id, s)).collect();
    assert_eq!(
        states,
        [
            (CAPTION.to_owned(), "complete".to_owned()),
            (EMBED.to_owned(), "partial".to_owned()),
            (FLAT.to_owned(), "complete".to_owned()),
        ]
    );
    w.assert_python_reads(&dst, &[CAPTION, FLAT]);
    // A download fetches only what the archive could not give.
    w.hub.reset_counts();
    assert_ok(&w.haid(&dst, &["download", EMBED]));
    assert_eq!(w.hub.bytes_served(), EMBED_WEIGHTS as u64);
}

/// A tar built by Python's tarfile with every trick: `../`, absolute paths,
/// links out of the repo, a hard link, a device, a link as a layout folder.
const HOSTILE: &str = r#"
import io, sys, tarfile
out, outside = sys.argv[1], sys.argv[2]
c = "0123456789abcdef0123456789abcdef01234567"
blob = "a" * 64
t = tarfile.open(out, "w", format=tarfile.GNU_FORMAT)
def add(name, data=b"x", kind=tarfile.REGTYPE, link=""):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link
    i.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
add("../escaped.txt")
add(outside + "/absolute.txt")
add("models--evil--m/../../escaped2.txt")
add("models--evil--m/blobs", kind=tarfile.SYMTYPE, link=outside)
add("models--evil--m/snapshots/" + c + "/out.bin", kind=tarfile.SYMTYPE, link="../../../../" + outside.lstrip("/") + "/x")
add("models--evil--m/snapshots/" + c + "/abs.bin", kind=tarfile.SYMTYPE, link=outside + "/x")
add("models--evil--m/snapshots/" + c + "/other.bin", kind=tarfile.SYMTYPE, link="../../../models--other--m/blobs/" + blob)
add("models--evil--m/blobs/" + blob, kind=tarfile.LNKTYPE, link="/etc/passwd")
add("models--evil--m/blobs/" + "b" * 64, kind=tarfile.CHRTYPE)
add("models--evil--m/refs/main", data=b"not a commit")
add("notes.txt")
add("models--evil--m/trees/" + c + ".json", data=b"[1, 2]")
t.close()
"#;

#[test]
fn a_hostile_archive_writes_nothing_outside_the_cache_and_says_what_it_refused() {
    let w = World::new();
    let outside = w.tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let tar = w.tmp.path().join("hostile.tar");
    let made = Command::new(python::python())
        .args(["-c", HOSTILE])
        .arg(&tar)
        .arg(&outside)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let dst = w.tmp.path().join("work/dst");
    let before = tree_state(w.tmp.path(), &[&dst]);

    let out = w
        .cmd(&dst)
        .args(["--json", "import"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = done(&out);
    let refused: Vec<String> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r["path"], r["reason"]))
        .collect();
    assert_eq!(refused.len(), 12, "{refused:#?}");
    for (what, why) in [
        ("escaped.txt", "'..'"),
        ("absolute.txt", "absolute"),
        ("escaped2.txt", "'..'"),
        ("out.bin", "leaves its repo's blobs"),
        ("abs.bin", "absolute"),
        ("other.bin", "leaves its repo's blobs"),
        ("/etc/passwd", "hard link"),
        ("bbbb", "device"),
        ("refs/main", "no commit"),
        ("notes.txt", "not in a repo folder"),
        (".json", "not a JSON object"),
    ] {
        let hit = refused
            .iter()
            .find(|r| r.contains(what) || (what == "/etc/passwd" && r.contains("hard link")));
        assert!(hit.is_some_and(|r| r.contains(why)), "{what}: {refused:#?}");
    }
    assert_eq!(
        before,
        tree_state(w.tmp.path(), &[&dst]),
        "nothing outside the cache changed"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert!(!w.tmp.path().join("work/escaped.txt").exists());
}

#[test]
fn a_damaged_model_is_not_exported_and_no_archive_is_left() {
    let w = World::new();
    let blobs = w.src().join("models--acme--embed/blobs");
    let big = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&big).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&big, bytes).unwrap();
    let tar = w.tmp.path().join("models.tar");
    let out = w.haid(&w.src(), &["export", EMBED, "-o", tar.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nothing was exported"),
        "{}",
        stderr(&out)
    );
    assert!(!tar.exists() && !w.tmp.path().join("models.tar.partial").exists());

    // A model that is not whole is refused before a byte is written.
    std::fs::remove_file(&big).unwrap();
    let out = w.haid(&w.src(), &["export", EMBED, "-o", tar.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!tar.exists());
}

#[test]
fn the_manifest_exports_its_models_and_a_dry_run_import_writes_nothing() {
    let w = World::new();
    let manifest = w.tmp.path().join("m.json");
    std::fs::write(
        &manifest,
        r#"{"test": [{"id": "acme/embed", "name": "e", "team": "acme"}]}"#,
    )
    .unwrap();
    let tar = w.tmp.path().join("set.tar");
    let out = w
        .cmd(&w.src())
        .env("HAID_MODELS_MANIFEST", &manifest)
        .args(["--json", "export", "--manifest", "--type", "test", "-o"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_ok(&out);
    let ids: Vec<String> = done(&out)["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["repo_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [EMBED]);

    let dst = w.tmp.path().join("dst");
    let out = w
        .cmd(&dst)
        .args(["--json", "import", "--dry-run"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_ok(&out);
    let report = done(&out);
    assert_eq!(report["dry_run"], true);
    assert!(report["blobs_added"].as_u64().unwrap() >= 2);
    assert!(!dst.exists(), "a dry run writes nothing");
}
