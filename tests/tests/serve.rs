//! `haid-models serve`: `hf download` and our download from it, with
//! `hf cache verify` against it; a kill and a resume; ten clients at once;
//! traversal URLs; the token; only whole, verified snapshots.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use haid_models_tests::output::assert_ok;
use haid_models_tests::published::Published;
use haid_models_tests::{haid, python};

const EMBED: &str = "acme/embed";
const CAPTION: &str = "acme/caption";

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

/// A running `serve`, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl World {
    /// Two models in `<tmp>/src`: ours and Python's.
    fn new() -> Self {
        let mut w = Self {
            base: Published::new(),
        };
        w.publish(EMBED, 1, 3_000_000);
        w.publish(CAPTION, 2, 200_000);
        assert_ok(&w.haid(&w.src(), None, &["download", EMBED]));
        python::hf_ok(&["download", CAPTION], &w.src(), &w.hub.url);
        w
    }

    fn src(&self) -> PathBuf {
        self.tmp.path().join("src")
    }

    /// `haid-models --cache-dir CACHE ARGS`, against `endpoint` (the fake hub by default).
    fn haid(&self, cache: &Path, endpoint: Option<&str>, args: &[&str]) -> Output {
        self.cmd(cache, endpoint).args(args).output().unwrap()
    }

    fn cmd(&self, cache: &Path, endpoint: Option<&str>) -> Command {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", endpoint.unwrap_or(&self.hub.url))
            .arg("--cache-dir")
            .arg(cache);
        cmd
    }

    /// `serve` over the source cache on a free port.
    fn serve(&self, extra: &[&str]) -> Server {
        let mut child = self
            .cmd(&self.src(), None)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("http://127.0.0.1:"), "{line:?}");
        Server {
            child,
            url: line.trim().to_owned(),
        }
    }
}

/// One raw HTTP/1.1 request (no client normalises the path on the way):
/// the status code and the body.
fn raw_get(url: &str, path: &str) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

#[test]
fn hf_download_from_serve_works_and_hf_cache_verify_passes_against_it() {
    let w = World::new();
    let server = w.serve(&[]);
    let dst = w.tmp.path().join("py");
    for id in [EMBED, CAPTION] {
        python::hf_ok(&["download", id], &dst, &server.url);
        python::hf_ok(
            &["cache", "verify", id, "--fail-on-missing-files"],
            &dst,
            &server.url,
        );
    }
    w.assert_python_reads(&dst, &[EMBED, CAPTION]);
    // Our own client too, through the same protocol.
    let ours = w.tmp.path().join("ours");
    assert_ok(&w.haid(&ours, Some(&server.url), &["download", CAPTION]));
    assert_ok(&w.haid(&ours, Some(&server.url), &["verify", CAPTION]));
}

#[cfg(unix)] // a kill is a signal
#[test]
fn our_download_from_serve_resumes_after_a_kill() {
    let w = World::new();
    let server = w.serve(&[]);
    let dst = w.tmp.path().join("dst");
    let killed = w
        .cmd(&dst, Some(&server.url))
        .env("HAID_DOWNLOAD_CRASH_AT", "blob:1")
        .args(["download", EMBED])
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    let stderr = haid_models_tests::output::stderr(&killed);
    assert_eq!(killed.status.signal(), Some(6), "{stderr}");
    assert_ok(&w.haid(&dst, Some(&server.url), &["download", EMBED]));
    assert_ok(&w.haid(&dst, Some(&server.url), &["verify", EMBED]));
    w.assert_python_reads(&dst, &[EMBED]);
}

#[test]
fn ten_clients_at_once_all_finish_intact() {
    let w = World::new();
    let server = w.serve(&[]);
    let caches: Vec<PathBuf> = (0..10)
        .map(|i| w.tmp.path().join(format!("c{i}")))
        .collect();
    let children: Vec<Child> = caches
        .iter()
        .map(|c| {
            w.cmd(c, Some(&server.url))
                .args(["download", EMBED])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        assert_ok(&child.wait_with_output().unwrap());
    }
    for c in &caches {
        assert_ok(&w.haid(c, Some(&server.url), &["verify", EMBED]));
    }
    w.assert_python_reads(&caches[9], &[EMBED]);
}

#[test]
fn traversal_urls_get_no_file() {
    let w = World::new();
    std::fs::write(w.tmp.path().join("secret.txt"), "the secret").unwrap();
    let server = w.serve(&[]);
    let up = "../".repeat(12);
    for path in [
        format!("/acme/embed/resolve/main/{up}etc/passwd"),
        "/acme/embed/resolve/main/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd".to_owned(),
        "/acme/embed/resolve/main/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd".to_owned(),
        "/acme/embed/resolve/main/%252e%252e%252f%252e%252e%252fetc%252fpasswd".to_owned(),
        "/acme/embed/resolve/..%2f..%2f/config.json".to_owned(),
        "/..%2f..%2f/embed/resolve/main/config.json".to_owned(),
        "/acme/..%2f..%2f..%2fsecret.txt/resolve/main/config.json".to_owned(),
        "/api/models/acme/embed/tree/main/..%2f..%2f..%2f".to_owned(),
        format!("/acme/embed/resolve/main/{up}secret.txt"),
    ] {
        let (status, body) = raw_get(&server.url, &path);
        assert!((400..500).contains(&status), "{path}: {status}");
        assert!(
            !body.contains("root:") && !body.contains("the secret"),
            "{path}: {body}"
        );
    }
    // The real file is served, so the refusals above are not a broken server.
    let (status, body) = raw_get(&server.url, "/acme/embed/resolve/main/config.json");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"seed\": 1"));
}

#[test]
fn with_a_token_every_request_needs_it() {
    let w = World::new();
    let server = w.serve(&["--token", "s3cret"]);
    let (status, _) = raw_get(&server.url, "/api/models/acme/embed");
    assert_eq!(status, 401);
    let dst = w.tmp.path().join("dst");
    let refused = python::venv_command("hf")
        .args(["download", CAPTION, "--cache-dir"])
        .arg(&dst)
        .env("HF_ENDPOINT", &server.url)
        .output()
        .unwrap();
    assert!(!refused.status.success(), "no token, no file");
    let ok = python::venv_command("hf")
        .args(["download", CAPTION, "--cache-dir"])
        .arg(&dst)
        .env("HF_ENDPOINT", &server.url)
        .env("HF_TOKEN", "s3cret")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    w.assert_python_reads(&dst, &[CAPTION]);
}

#[test]
fn only_whole_verified_snapshots_are_served() {
    let w = World::new();
    // The embedder damaged (one byte of its weights), the caption model cut
    // short (a blob gone): neither is served; a missing repo is RepoNotFound.
    let big = |id: &str| {
        let blobs = w
            .src()
            .join(format!("models--{}/blobs", id.replace('/', "--")));
        std::fs::read_dir(blobs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .max_by_key(|p| std::fs::metadata(p).unwrap().len())
            .unwrap()
    };
    let damaged = big(EMBED);
    let mut bytes = std::fs::read(&damaged).unwrap();
    bytes[7] ^= 1;
    std::fs::write(&damaged, bytes).unwrap();
    std::fs::remove_file(big(CAPTION)).unwrap();
    let server = w.serve(&[]);
    for (path, code) in [
        ("/api/models/acme/embed", "RevisionNotFound"),
        ("/api/models/acme/caption", "RevisionNotFound"),
        ("/acme/embed/resolve/main/config.json", "RevisionNotFound"),
        ("/api/models/acme/nothere", "RepoNotFound"),
        ("/api/models/acme/embed/revision/v9", "RevisionNotFound"),
    ] {
        let (status, head) = raw_get(&server.url, path);
        assert_eq!(status, 404, "{path}");
        assert!(
            head.to_lowercase()
                .contains(&format!("x-error-code: {}", code.to_lowercase())),
            "{path}: {head}"
        );
    }
}
