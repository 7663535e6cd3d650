//! Where the hub token goes (issue 13): never to another origin, never in
//! clear text to another machine, and never along a redirect or a listing
//! page that leads somewhere else. The fake hub records every
//! `Authorization` header it receives, so each test proves where it went.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use haid_models_tests::fake_hub::{FakeHub, Faults, Hostile, HubRepo};
use haid_models_tests::fixture::weights;
use haid_models_tests::haid;
use haid_models_tests::tree_walk::tree_state;
use serde_json::Value;

const TOKEN: &str = "tok";
const BEARER: &str = "Bearer tok";
/// What a hub that never saw a token recorded.
const NONE: Vec<String> = Vec::new();

struct World {
    tmp: tempfile::TempDir,
    hub: FakeHub,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        Self { tmp, hub }
    }

    /// A second hub on the same folder: another origin serving the same repos.
    fn other_origin(&self) -> FakeHub {
        FakeHub::start(self.hub.root.clone())
    }

    /// `org/<name>` on the hub: a small file and an LFS-sized one.
    fn model(&self, id: &str) -> HubRepo {
        let files = [
            ("config.json", b"{\"hidden_size\": 8}".to_vec()),
            ("model.safetensors", weights(3, 5000)),
        ];
        for (path, content) in files {
            let p = self.hub.root.join(id).join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        self.hub.repo(id)
    }

    /// A fresh cache per download, so each run starts from nothing.
    fn cache(&self, name: &str) -> PathBuf {
        self.tmp.path().join("caches").join(name)
    }

    /// `haid-models --json --cache-dir CACHE download ID` against `endpoint`.
    fn download(&self, endpoint: &str, cache: &Path, id: &str) -> Command {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", endpoint)
            .arg("--json")
            .arg("--cache-dir")
            .arg(cache)
            .args(["download", id]);
        cmd
    }

    /// Everything in the temp folder but the caches and the hub's files.
    fn outside(&self) -> BTreeMap<PathBuf, String> {
        let skip = [self.tmp.path().join("caches"), self.hub.root.clone()];
        let skip: Vec<&Path> = skip.iter().map(PathBuf::as_path).collect();
        tree_state(self.tmp.path(), &skip)
    }
}

fn gated(token: &str) -> Faults {
    Faults {
        gated: vec!["org/g".into()],
        token: Some(token.into()),
        ..Faults::default()
    }
}

/// Runs `cmd`, killed after `limit` (a hang must fail the test, not stall
/// it); the pipes are drained meanwhile so the child never blocks on them.
fn run_limited(cmd: &mut Command, limit: Duration) -> (Output, Duration) {
    let began = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.unwrap().read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let mut status = child.try_wait().unwrap();
    while status.is_none() && began.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
        status = child.try_wait().unwrap();
    }
    if status.is_none() {
        let _ = child.kill(); // our own child, by its handle
    }
    let out = Output {
        status: child.wait().unwrap(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    (out, began.elapsed())
}

fn run(cmd: &mut Command) -> Output {
    run_limited(cmd, Duration::from_secs(60)).0
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
}

/// Exit 1 with one clear line on stderr (the CLI contract).
fn assert_fails(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one clear line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// The `{"event":"error"}` line of a `--json` download.
fn error_event(out: &Output) -> Value {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "error")
        .unwrap_or_else(|| panic!("no error event in {}", String::from_utf8_lossy(&out.stdout)))
}

/// Every file of the repo is in the snapshot, byte for byte.
fn assert_files_right(cache: &Path, repo: &HubRepo) {
    let folder = format!("models--{}", repo.id.replace('/', "--"));
    let snapshot = cache.join(folder).join("snapshots").join(&repo.sha);
    for f in &repo.files {
        let got = std::fs::read(snapshot.join(&f.path)).unwrap();
        assert_eq!(got, std::fs::read(&f.abs).unwrap(), "{}", f.path);
    }
}

#[test]
fn a_redirect_to_another_origin_does_not_carry_the_token() {
    let w = World::new();
    let repo = w.model("org/g");
    let files_host = w.other_origin();
    w.hub.set_faults(Faults {
        hostile: Hostile {
            redirect_files_to: Some(files_host.url.clone()),
            ..Default::default()
        },
        ..gated(TOKEN)
    });
    let cache = w.cache("redirected");
    let out = run(w
        .download(&w.hub.url, &cache, "org/g")
        .env("HF_TOKEN", TOKEN));
    assert_ok(&out);
    assert_files_right(&cache, &repo);
    assert!(
        w.hub.authorizations().iter().any(|a| a == BEARER),
        "the hub itself gets the token: {:?}",
        w.hub.authorizations()
    );
    assert!(
        files_host.file_requests() > 0,
        "the files came from the other origin"
    );
    assert_eq!(
        files_host.authorizations(),
        NONE,
        "another origin never sees a token"
    );
}

/// A redirect of every file to `target` fails the download cleanly.
fn refuses_redirect_to(target: &str) {
    let w = World::new();
    w.model("org/m");
    w.hub.set_faults(Faults {
        hostile: Hostile {
            redirect_files_to: Some(target.into()),
            ..Default::default()
        },
        ..Faults::default()
    });
    let before = w.outside();
    let out = run(&mut w.download(&w.hub.url, &w.cache("c"), "org/m"));
    let err = assert_fails(&out);
    // "only http and https are followed": says what would have been.
    assert!(err.to_lowercase().contains("http"), "{err}");
    assert_eq!(before, w.outside(), "nothing outside the cache changed");
}

#[test]
fn a_redirect_to_a_file_url_is_refused() {
    // Not even a valid `http::Uri`: reqwest hands the 302 back unfollowed.
    refuses_redirect_to("file:///etc");
}

#[test]
fn a_redirect_to_ftp_is_refused() {
    refuses_redirect_to("ftp://127.0.0.1:9");
}

#[test]
fn a_redirect_loop_fails_quickly() {
    let w = World::new();
    w.model("org/m");
    w.hub.set_faults(Faults {
        hostile: Hostile {
            redirect_files_to: Some(w.hub.url.clone()),
            ..Default::default()
        },
        ..Faults::default()
    });
    let mut cmd = w.download(&w.hub.url, &w.cache("loop"), "org/m");
    let (out, took) = run_limited(&mut cmd, Duration::from_secs(60));
    let err = assert_fails(&out);
    assert!(err.to_lowercase().contains("redirect"), "{err}");
    // A loop is not a flaky network: no retrying it with backoff.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// reqwest honours `HTTP_PROXY`: with the fake hub as the proxy, a
/// non-loopback endpoint (`http://mirror.example`, which resolves nowhere)
/// reaches the fake hub, which records every header sent to "the mirror".
fn through_proxy(cmd: &mut Command, proxy: &str) {
    cmd.env("HTTP_PROXY", proxy)
        .env("http_proxy", proxy)
        .env("NO_PROXY", "")
        .env("no_proxy", "")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy");
}

const MIRROR: &str = "http://mirror.example";

#[test]
fn the_token_never_goes_in_clear_text_to_another_machine() {
    let w = World::new();
    let repo = w.model("org/g");
    let public = w.model("org/pub");
    w.hub.set_faults(gated(TOKEN));

    // Gated, no opt-in: refused, and the token never left.
    let mut cmd = w.download(MIRROR, &w.cache("refused"), "org/g");
    through_proxy(cmd.env("HF_TOKEN", TOKEN), &w.hub.url);
    let out = run(&mut cmd);
    assert_fails(&out);
    let error = error_event(&out);
    assert_eq!(error["kind"], "auth", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("HAID_ALLOW_HTTP_TOKEN"), "{message}");
    assert!(w.hub.requests() > 0, "the proxy route reached the fake hub");
    assert_eq!(
        w.hub.authorizations(),
        NONE,
        "the token went out in clear text"
    );

    // A public repo by the same way: downloads, still without the token.
    let cache = w.cache("public");
    let mut cmd = w.download(MIRROR, &cache, "org/pub");
    through_proxy(cmd.env("HF_TOKEN", TOKEN), &w.hub.url);
    assert_ok(&run(&mut cmd));
    assert_files_right(&cache, &public);
    assert_eq!(
        w.hub.authorizations(),
        NONE,
        "the token went out in clear text"
    );

    // The user's explicit opt-in sends it.
    let cache = w.cache("opted-in");
    let mut cmd = w.download(MIRROR, &cache, "org/g");
    through_proxy(
        cmd.env("HF_TOKEN", TOKEN).env("HAID_ALLOW_HTTP_TOKEN", "1"),
        &w.hub.url,
    );
    assert_ok(&run(&mut cmd));
    assert_files_right(&cache, &repo);
    assert!(
        w.hub.authorizations().iter().any(|a| a == BEARER),
        "{:?}",
        w.hub.authorizations()
    );
}

#[test]
fn a_listing_page_on_another_origin_is_refused_without_the_token() {
    let w = World::new();
    let repo = w.model("org/g");
    let other = w.other_origin();
    let next = format!(
        "{}/api/models/org/g/tree/{}?recursive=true&cursor=2",
        other.url, repo.sha
    );
    w.hub.set_faults(Faults {
        hostile: Hostile {
            next_page: Some(next),
            ..Default::default()
        },
        ..gated(TOKEN)
    });
    let out = run(w
        .download(&w.hub.url, &w.cache("paged"), "org/g")
        .env("HF_TOKEN", TOKEN));
    assert_fails(&out);
    assert_eq!(error_event(&out)["kind"], "invalid_response");
    assert!(w.hub.authorizations().iter().any(|a| a == BEARER));
    assert_eq!(other.authorizations(), NONE);
}
