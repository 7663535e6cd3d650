//! `haid-models watch`: changes made by other processes are reported live.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use haid_models_tests::fake_hub::FakeHub;
use haid_models_tests::fixture::{commit, weights, CacheFixture};
use haid_models_tests::{haid, python};
use serde_json::Value;

struct Watch {
    child: Child,
    lines: Receiver<(Instant, Value)>,
}

impl Watch {
    fn start(root: &Path, cache: &Path, poll: bool) -> Self {
        let mut cmd = haid(root);
        cmd.arg("--cache-dir")
            .arg(cache)
            .args(["watch", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if poll {
            cmd.env("HAID_WATCH_POLL", "1");
        }
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send((Instant::now(), serde_json::from_str(&line).unwrap()));
            }
        });
        let w = Self { child, lines };
        let (_, ready) = w.next(Duration::from_secs(10)).expect("a ready line");
        assert_eq!(ready["event"], "ready");
        assert_eq!(ready["mode"], if poll { "poll" } else { "native" });
        w
    }

    fn next(&self, timeout: Duration) -> Option<(Instant, Value)> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Events until `done` says stop (or the timeout), all of them.
    fn until(&self, timeout: Duration, done: impl Fn(&Value) -> bool) -> Vec<(Instant, Value)> {
        let end = Instant::now() + timeout;
        let mut seen = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.next(left) {
                Some(e) => {
                    let stop = done(&e.1);
                    seen.push(e);
                    if stop {
                        break;
                    }
                }
                None => break,
            }
        }
        seen
    }

    /// CPU time (user + system) the watcher uses over `span`.
    fn cpu_over(&self, span: Duration) -> Duration {
        let ticks = || {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .unwrap()
                .1
                .split_whitespace()
                .collect();
            // After the name: state, ppid, …; utime and stime are the 12th and 13th (stat(5)).
            fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
        };
        let before = ticks();
        std::thread::sleep(span);
        Duration::from_millis((ticks() - before) * 10) // 100 ticks per second on Linux
    }

    /// Whatever else arrives within `quiet`.
    fn drain(&self, quiet: Duration) -> Vec<Value> {
        std::iter::from_fn(|| self.next(quiet).map(|(_, v)| v)).collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A helper "other process": writes a model the way a download leaves it.
fn write_model(fx: &CacheFixture, name: &str, bytes: usize) -> u64 {
    let c = commit(name);
    fx.repo(&format!("models--acme--{name}"))
        .revision(&c, &[("config.json", b"{}"), ("w.bin", &weights(3, bytes))])
        .reference("main", &c);
    2 + bytes as u64
}

fn is_repo(v: &Value, id: &str, state: &str) -> bool {
    v["event"] == "repo_changed" && v["repo_id"] == id && v["state"] == state
}

fn added_then_removed(poll: bool) {
    let fx = CacheFixture::new();
    // Some bystanders, so that a watcher busy with its own reads would show in its CPU time.
    for i in 0..300 {
        let c = commit(&format!("b{i}"));
        fx.repo(&format!("models--crowd--m{i}"))
            .revision(&c, &[("config.json", b"{}")])
            .reference("main", &c);
    }
    let w = Watch::start(fx.dir.path(), &fx.cache, poll);
    let wait = if poll {
        Duration::from_secs(8)
    } else {
        Duration::from_secs(3)
    };
    let written = Instant::now();
    let size = write_model(&fx, "added", 5000);
    let events = w.until(wait, |v| is_repo(v, "acme/added", "complete"));
    let (at, last) = events.last().expect("an event");
    assert!(is_repo(last, "acme/added", "complete"), "{events:?}");
    assert_eq!(last["size_on_disk"], size);
    assert_eq!(last["nb_files"], 2);
    assert!(
        events.len() <= 2,
        "one event (two at most if the write was seen half-way): {events:?}"
    );
    if !poll {
        assert!(
            at.duration_since(written) < Duration::from_millis(1500),
            "reported in {:?}",
            at.duration_since(written)
        );
    }
    assert!(
        w.drain(Duration::from_millis(500)).is_empty(),
        "nothing more when nothing changes"
    );
    let idle = w.cpu_over(Duration::from_secs(1));
    assert!(
        idle < Duration::from_millis(100),
        "idle, the watcher used {idle:?} of CPU in 1 s"
    );

    std::fs::remove_dir_all(fx.cache.join("models--acme--added")).unwrap();
    let events = w.until(wait, |v| is_repo(v, "acme/added", "removed"));
    assert!(
        is_repo(&events.last().unwrap().1, "acme/added", "removed"),
        "{events:?}"
    );
}

#[test]
fn another_process_adds_and_deletes_a_model() {
    added_then_removed(false);
}

#[test]
fn polling_mode_finds_the_same_changes() {
    added_then_removed(true);
}

#[test]
fn a_hundred_rapid_changes_give_a_few_events_and_the_final_state() {
    let fx = CacheFixture::new();
    let c = commit("busy");
    let repo = fx.repo("models--acme--busy");
    repo.revision(&c, &[("config.json", b"{}")])
        .reference("main", &c);
    let w = Watch::start(fx.dir.path(), &fx.cache, false);
    let partial = repo.path.join("blobs/feedbeef.incomplete");
    let began = std::time::Instant::now();
    for i in 1..=100 {
        std::fs::write(&partial, vec![0u8; i * 100]).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let events = w.until(Duration::from_secs(3), |v| {
        v["incomplete_size_on_disk"] == 10_000
    });
    let last = &events.last().unwrap().1;
    assert_eq!(last["incomplete_size_on_disk"], 10_000, "{events:?}");
    assert_eq!(last["state"], "partial");
    let more = w.drain(Duration::from_millis(600));
    // At most 4 reports a second of a repo whose size keeps changing (plus
    // the first and the last): bounded by the time the writes took, which
    // grows on a loaded machine, not by a count tuned to an idle one.
    let secs = began.elapsed().as_secs_f64();
    let bound = (secs * 4.0).ceil() as usize + 2;
    assert!(
        events.len() + more.len() <= bound.min(40),
        "bounded: {} events for 100 writes in {secs:.1} s (at most {bound})",
        events.len() + more.len()
    );
}

#[test]
fn a_cache_created_after_the_watcher_started_is_followed() {
    let fx = CacheFixture::new();
    let later = fx.dir.path().join("not/yet/hub");
    let w = Watch::start(fx.dir.path(), &later, false);
    std::fs::create_dir_all(&later).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let other = CacheFixture {
        dir: tempfile::tempdir().unwrap(),
        cache: later.clone(),
    };
    let size = write_model(&other, "late", 3000);
    let events = w.until(Duration::from_secs(5), |v| {
        is_repo(v, "acme/late", "complete")
    });
    let last = &events.last().expect("an event").1;
    assert!(is_repo(last, "acme/late", "complete"), "{events:?}");
    assert_eq!(last["size_on_disk"], size);
}

#[test]
fn a_python_download_is_seen_as_it_lands() {
    let fx = CacheFixture::new();
    let hub = FakeHub::start(fx.dir.path().join("hub-root"));
    let dir = hub.root.join("acme/py");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), "{}").unwrap();
    std::fs::write(dir.join("w.bin"), weights(8, 200_000)).unwrap();
    let w = Watch::start(fx.dir.path(), &fx.cache, false);
    python::hf_ok(&["download", "acme/py"], &fx.cache, &hub.url);
    let events = w.until(Duration::from_secs(5), |v| {
        is_repo(v, "acme/py", "complete")
    });
    let last = &events.last().expect("an event").1;
    assert!(is_repo(last, "acme/py", "complete"), "{events:?}");
    assert_eq!(last["size_on_disk"], 200_002);
}

#[test]
fn a_cache_deleted_and_recreated_is_followed() {
    let fx = CacheFixture::new();
    write_model(&fx, "first", 1000);
    let w = Watch::start(fx.dir.path(), &fx.cache, false);
    std::fs::remove_dir_all(&fx.cache).unwrap();
    let events = w.until(Duration::from_secs(3), |v| {
        is_repo(v, "acme/first", "removed")
    });
    assert!(
        is_repo(
            &events.last().expect("a removal").1,
            "acme/first",
            "removed"
        ),
        "{events:?}"
    );
    std::fs::create_dir_all(&fx.cache).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let size = write_model(&fx, "second", 2000);
    let events = w.until(Duration::from_secs(5), |v| {
        is_repo(v, "acme/second", "complete")
    });
    let last = &events.last().expect("an event").1;
    assert!(is_repo(last, "acme/second", "complete"), "{events:?}");
    assert_eq!(last["size_on_disk"], size);
}
