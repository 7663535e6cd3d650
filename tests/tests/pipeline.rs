//! `haid-models` in a pipeline: when the reader of stdout goes away
//! (`haid-models scan | head -1`), every command ends quietly with 0, as
//! ripgrep does; a download then stops and keeps what it fetched. SIGINT and
//! SIGTERM cancel a download the same way, with exit 1 and one line.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use haid_models_tests::fake_hub::{FakeHub, Faults, HubRepo};
use haid_models_tests::fixture::{commit, weights, CacheFixture};
use haid_models_tests::{haid, haid_bin};

const MB: usize = 1 << 20;
/// What a Linux pipe holds: a command with more output than this is still
/// writing when its reader goes away.
const PIPE_BUFFER: usize = 64 * 1024;
/// Long enough for a slow CI machine, short enough that a hang fails.
const EXIT_WITHIN: Duration = Duration::from_secs(30);
const CANCELLED: &str =
    "was cancelled; what was downloaded is kept and the next download resumes it";

/// A cache whose `scan` and `list` outputs, as tables or JSON, are each
/// several pipe buffers long: 1200 repos with long names.
fn big_cache() -> CacheFixture {
    let fx = CacheFixture::new();
    let c = commit("v1");
    for i in 0..1200 {
        fx.repo(&format!(
            "models--pipeline-test-organisation--a-model-with-a-rather-long-name-{i:04}"
        ))
        .revision(&c, &[("config.json", b"{}")])
        .reference("main", &c);
    }
    fx
}

/// `haid-models --cache-dir CACHE ARGS…` in a clean environment under `root`.
fn command(root: &Path, cache: &Path, args: &[&str]) -> Command {
    let mut cmd = haid(root);
    cmd.arg("--cache-dir").arg(cache).args(args);
    cmd.stdin(Stdio::null());
    cmd
}

/// Waits for `child` (at most [`EXIT_WITHIN`]), its stderr read meanwhile
/// so that it never blocks on it.
fn finish(mut child: Child, what: &str) -> Output {
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if began.elapsed() > EXIT_WITHIN {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {EXIT_WITHIN:?} with no reader of its stdout");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: Vec::new(),
        stderr: reader.join().unwrap(),
    }
}

/// Exit 0 and not a word on stderr.
fn assert_quiet(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: exit {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{what}: nothing on stderr, got {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd` with stdout into a pipe whose reader takes `read` bytes and
/// then goes away; with 0, the reader is gone before the command starts,
/// so its very first write fails.
fn reader_gone_after(mut cmd: Command, read: usize, what: &str) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    let mut reader = (read > 0).then_some(reader);
    cmd.stdout(writer).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    drop(cmd); // the parent's copy of the write end
    if let Some(r) = &mut reader {
        let mut buf = vec![0; read];
        r.read_exact(&mut buf).unwrap();
    }
    drop(reader);
    finish(child, what)
}

/// The same through a real shell: `haid-models … | head -1`, and the exit
/// status of haid-models itself (bash's PIPESTATUS), as `set -o pipefail`
/// would see it.
fn through_head(root: &Path, cache: &Path, args: &[&str]) -> Child {
    let env = haid(root);
    let mut sh = Command::new("bash");
    for (key, value) in env.get_envs() {
        match value {
            Some(v) => sh.env(key, v),
            None => sh.env_remove(key),
        };
    }
    sh.arg("-c")
        .arg(r#""$@" | head -1 > /dev/null; exit "${PIPESTATUS[0]}""#)
        .arg("pipeline")
        .arg(haid_bin())
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    sh.spawn().unwrap()
}

/// Every way of losing the reader ends `args` quietly with 0. With
/// `big`, the whole output is first checked to be larger than a pipe, so
/// that the command is surely still writing when the reader goes.
fn quiet_when_the_reader_goes(args: &[&str], big: bool) {
    let fx = if big {
        big_cache()
    } else {
        CacheFixture::new()
    };
    let root = fx.dir.path();
    let full = command(root, &fx.cache, args).output().unwrap();
    assert!(full.status.success(), "{args:?}: {full:?}");
    if big {
        assert!(
            full.stdout.len() > 2 * PIPE_BUFFER,
            "{args:?} prints only {} bytes",
            full.stdout.len()
        );
    }
    let what = format!("{args:?}");
    assert_quiet(
        &reader_gone_after(command(root, &fx.cache, args), 0, &what),
        &format!("{what}, reader gone at once"),
    );
    if big {
        assert_quiet(
            &reader_gone_after(command(root, &fx.cache, args), 10, &what),
            &format!("{what}, reader gone after 10 bytes"),
        );
    }
    let what = format!("{what} | head -1");
    assert_quiet(&finish(through_head(root, &fx.cache, args), &what), &what);
}

#[test]
fn scan_into_a_closed_pipe_exits_0_quietly() {
    quiet_when_the_reader_goes(&["scan"], true);
    quiet_when_the_reader_goes(&["scan", "--revisions"], true);
}

#[test]
fn scan_json_into_a_closed_pipe_exits_0_quietly() {
    quiet_when_the_reader_goes(&["scan", "--json"], true);
}

#[test]
fn list_into_a_closed_pipe_exits_0_quietly() {
    quiet_when_the_reader_goes(&["list"], true);
}

#[test]
fn list_json_into_a_closed_pipe_exits_0_quietly() {
    quiet_when_the_reader_goes(&["list", "--json"], true);
}

#[test]
fn where_into_a_closed_pipe_exits_0_quietly() {
    quiet_when_the_reader_goes(&["where"], false);
}

#[test]
fn where_json_into_a_closed_pipe_exits_0_quietly() {
    quiet_when_the_reader_goes(&["where", "--json"], false);
}

#[test]
fn a_stdout_that_fails_otherwise_is_still_an_error() {
    // /dev/full: every write fails with ENOSPC. Only a broken pipe is quiet.
    let fx = big_cache();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = command(fx.dir.path(), &fx.cache, &["scan", "--json"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("cannot write to stdout"), "{err}");
}

/// A new model the watcher will report, written while it runs.
fn add_model(cache: &Path) {
    static MODELS: AtomicUsize = AtomicUsize::new(0);
    let name = format!("m{}", MODELS.fetch_add(1, Ordering::SeqCst));
    let c = commit(&name);
    haid_models_tests::fixture::RepoFixture {
        path: cache.join(format!("models--pipeline--{name}")),
    }
    .revision(&c, &[("model.safetensors", &weights(3, 5000))])
    .reference("main", &c);
}

/// Adds a model every half second until `child` ends (the watcher writes
/// only when something changes, and a change may land before it watches).
fn keep_changing_until_exit(child: Child, cache: &Path, what: &str) -> Output {
    let cache = cache.to_owned();
    let done = Arc::new(AtomicBool::new(false));
    let changer = {
        let done = done.clone();
        std::thread::spawn(move || {
            for _ in 0..60 {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                add_model(&cache);
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    let out = finish(child, what);
    done.store(true, Ordering::SeqCst);
    changer.join().unwrap();
    out
}

#[test]
fn watch_json_into_a_closed_pipe_exits_0_quietly() {
    // The reader is gone before `{"event":"ready"}`: the first write fails.
    let fx = CacheFixture::new();
    let root = fx.dir.path();
    assert_quiet(
        &reader_gone_after(command(root, &fx.cache, &["watch", "--json"]), 0, "watch"),
        "watch --json, reader gone at once",
    );

    // The reader takes the ready line and goes: the next change's line fails.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut cmd = command(root, &fx.cache, &["watch", "--json"]);
    cmd.stdout(writer).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    drop(cmd);
    let mut ready = String::new();
    BufReader::new(reader).read_line(&mut ready).unwrap();
    assert!(ready.contains(r#""event":"ready""#), "{ready:?}");
    assert_quiet(
        &keep_changing_until_exit(child, &fx.cache, "watch --json"),
        "watch --json, reader gone after the ready line",
    );

    // And through a shell: head takes the ready line and leaves.
    let child = through_head(root, &fx.cache, &["watch", "--json"]);
    assert_quiet(
        &keep_changing_until_exit(child, &fx.cache, "watch --json | head -1"),
        "watch --json | head -1",
    );
}

#[test]
fn watch_log_into_a_closed_pipe_exits_0() {
    // The readable log: its lines go to stdout, the "watching" line to stderr.
    let fx = CacheFixture::new();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = command(fx.dir.path(), &fx.cache, &["watch"]);
    cmd.stdout(writer).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    drop(cmd);
    let out = keep_changing_until_exit(child, &fx.cache, "watch");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.lines().all(|l| l.starts_with("watching ")),
        "only the watching line: {err}"
    );
}

/// A fake hub serving `acme/<name>` (4 MiB of weights) at 1 MB/s, and a cache.
struct World {
    tmp: tempfile::TempDir,
    hub: FakeHub,
    cache: PathBuf,
    repo: HubRepo,
}

impl World {
    fn new(name: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        let id = format!("acme/{name}");
        let files = [
            ("config.json", b"{\"hidden_size\": 384}".to_vec()),
            ("model.safetensors", weights(1, 4 * MB)),
        ];
        for (path, content) in &files {
            let p = hub.root.join(&id).join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let repo = hub.repo(&id);
        hub.set_faults(Faults {
            throttle_bps: Some(MB as u64),
            ..Faults::default()
        });
        let cache = tmp.path().join("cache");
        Self {
            tmp,
            hub,
            cache,
            repo,
        }
    }

    fn download(&self, json: bool) -> Command {
        let mut cmd = command(
            self.tmp.path(),
            &self.cache,
            &["download", self.repo.id.as_str()],
        );
        cmd.env("HF_ENDPOINT", &self.hub.url);
        if json {
            cmd.arg("--json");
        }
        cmd
    }

    /// `blobs/<etag>.incomplete` of the weights.
    fn partial(&self) -> PathBuf {
        let etag = self.repo.file("model.safetensors").unwrap().etag();
        self.cache
            .join(format!("models--{}", self.repo.id.replace('/', "--")))
            .join("blobs")
            .join(format!("{etag}.incomplete"))
    }

    fn partial_len(&self) -> u64 {
        std::fs::metadata(self.partial()).map_or(0, |m| m.len())
    }

    /// Waits until the weights' partial file holds some bytes.
    fn wait_for_partial(&self, child: &mut Child) {
        let began = Instant::now();
        while self.partial_len() == 0 {
            assert!(began.elapsed() < EXIT_WITHIN, "the download did not start");
            assert!(
                child.try_wait().unwrap().is_none(),
                "the download ended too soon"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The kept partial is resumed: the rerun completes and the hub serves
    /// less than the whole model.
    fn assert_rerun_resumes(&self) {
        self.hub.set_faults(Faults::default());
        self.hub.reset_counts();
        let out = self.download(false).output().unwrap();
        assert!(out.status.success(), "rerun: {out:?}");
        let served = self.hub.bytes_served();
        assert!(
            served < self.repo.total_size(),
            "resumed: served {served} of {} bytes",
            self.repo.total_size()
        );
        assert!(!self.partial().exists());
    }
}

#[test]
fn download_json_into_a_reader_that_leaves_stops_quietly_and_keeps_the_partial() {
    let w = World::new("piped");
    let (reader, writer) = std::io::pipe().unwrap();
    let mut cmd = w.download(true);
    cmd.stdout(writer).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let mut first = String::new();
    let mut reader = BufReader::new(reader);
    reader.read_line(&mut first).unwrap();
    assert!(
        first.starts_with(r#"{"event":"#),
        "an NDJSON line: {first:?}"
    );
    w.wait_for_partial(&mut child);
    drop(reader);
    let out = finish(child, "download --json");
    assert_quiet(&out, "download --json, reader gone after one line");
    let kept = w.partial_len();
    assert!(kept > 0, "the partial file is kept");
    assert!(kept < 4 * MB as u64, "the download stopped ({kept} bytes)");
    w.assert_rerun_resumes();
}

/// `kill -SIGNAL` during a download: exit 1, the core's one line, the
/// partial kept and resumed by the next run.
fn a_signal_cancels_and_keeps_the_partial(signal: &str) {
    let w = World::new(&format!("sig{}", signal.to_lowercase()));
    let mut cmd = w.download(false);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    w.wait_for_partial(&mut child);
    let before = w.partial_len();
    let kill = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let out = finish(child, &format!("download after SIG{signal}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "SIG{signal}: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(CANCELLED), "SIG{signal}: {err}");
    let kept = w.partial_len();
    assert!(
        kept >= before && kept > 0,
        "the partial is kept ({kept} bytes, {before} before SIG{signal})"
    );
    w.assert_rerun_resumes();
}

#[test]
fn sigint_cancels_a_download_and_keeps_the_partial() {
    a_signal_cancels_and_keeps_the_partial("INT");
}

#[test]
fn sigterm_cancels_a_download_and_keeps_the_partial() {
    a_signal_cancels_and_keeps_the_partial("TERM");
}

#[test]
fn sighup_cancels_a_download_and_keeps_the_partial() {
    a_signal_cancels_and_keeps_the_partial("HUP");
}
