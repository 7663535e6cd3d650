//! When the system's inotify watch limit is reached, the watcher says so once
//! and polls instead. Its own test binary: it lowers a system-wide limit for
//! a moment, which must not race other watcher tests.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use haid_models_tests::fixture::{commit, CacheFixture};
use haid_models_tests::haid;
use serde_json::Value;

const LIMIT: &str = "/proc/sys/fs/inotify/max_user_watches";

/// Restores the limit however the test ends.
struct Lowered(String);

impl Drop for Lowered {
    fn drop(&mut self) {
        let _ = std::fs::write(LIMIT, &self.0);
    }
}

#[test]
fn the_watch_limit_falls_back_to_polling() {
    let fx = CacheFixture::new();
    for i in 0..50 {
        let c = commit(&format!("l{i}"));
        fx.repo(&format!("models--lim--m{i}"))
            .revision(&c, &[("config.json", b"{}")])
            .reference("main", &c);
    }
    let original = std::fs::read_to_string(LIMIT).unwrap();
    std::fs::write(LIMIT, "20")
        .expect("this test lowers fs.inotify.max_user_watches and needs root, as `make test` has");
    let _restore = Lowered(original);
    let mut child = haid(fx.dir.path())
        .arg("--cache-dir")
        .arg(&fx.cache)
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen: Vec<Value> = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        let v: Value = serde_json::from_str(&line).unwrap();
        let ready = v["event"] == "ready";
        seen.push(v);
        if ready {
            break;
        }
    }
    drop(_restore);
    let ready = seen.last().unwrap();
    assert_eq!(ready["mode"], "poll", "{seen:?}");
    let notice = seen
        .iter()
        .find(|v| v["event"] == "notice")
        .expect("a notice says why");
    assert!(
        notice["message"].as_str().unwrap().contains("polling"),
        "{notice}"
    );
    // And polling works.
    std::thread::sleep(Duration::from_millis(200));
    let c = commit("after");
    fx.repo("models--lim--after")
        .revision(&c, &[("config.json", b"{}")])
        .reference("main", &c);
    let found = lines.find_map(|l| {
        let v: Value = serde_json::from_str(&l.ok()?).ok()?;
        (v["repo_id"] == "lim/after").then_some(v)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(found.unwrap()["state"], "complete");
}

/// A FUSE mount (bindfs; sshfs is FUSE too) of a folder.
struct FuseMount(std::path::PathBuf);

impl Drop for FuseMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("fusermount")
            .arg("-u")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_cache_on_a_fuse_mount_is_polled_automatically() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, mnt) = (tmp.path().join("src"), tmp.path().join("mnt"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    let status = std::process::Command::new("bindfs")
        .arg(&src)
        .arg(&mnt)
        .status()
        .expect("bindfs is installed by `make test`");
    assert!(
        status.success(),
        "bindfs could not mount (needs /dev/fuse and root)"
    );
    let _mount = FuseMount(mnt.clone());
    let mut child = haid(tmp.path())
        .arg("--cache-dir")
        .arg(mnt.join("hub"))
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let ready: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["event"], "ready");
    assert_eq!(
        ready["mode"], "poll",
        "a network-like file system is polled"
    );
}
