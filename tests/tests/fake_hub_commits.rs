//! The fake hub with more than one commit per repo: after `main` moves, the
//! old commit stays downloadable by its sha (listing, sizes, etags, bytes),
//! and a sha it never had is the hub's 404 `RevisionNotFound`. Asked with
//! raw HTTP/1.1, so what is proven is the wire, not a client's reading of it.

use std::io::{Read, Write};
use std::net::TcpStream;

use haid_models_tests::fake_hub::FakeHub;
use haid_models_tests::fixture::{etag, weights};
use serde_json::Value;

const ID: &str = "acme/m";

/// An answer as received.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One request on its own connection (`Connection: close`: the body ends
/// where the stream does).
fn request(hub: &FakeHub, method: &str, path: &str) -> Reply {
    let addr = hub.url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status: status.parse().unwrap(),
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

fn get(hub: &FakeHub, path: &str) -> Reply {
    request(hub, "GET", path)
}

/// A hub holding `acme/m` at its first commit: a small config and an LFS file.
fn hub_with_repo() -> (tempfile::TempDir, FakeHub) {
    let tmp = tempfile::tempdir().unwrap();
    let hub = FakeHub::start(tmp.path().join("hub-root"));
    let dir = hub.root.join(ID);
    std::fs::create_dir_all(dir.join("onnx")).unwrap();
    std::fs::write(dir.join("config.json"), b"{\"v\": 1}").unwrap();
    std::fs::write(dir.join("onnx/model.onnx"), weights(1, 5000)).unwrap();
    (tmp, hub)
}

/// The second commit: the config changes, the LFS file stays, one is added.
fn second_commit(dir: &std::path::Path) {
    std::fs::write(dir.join("config.json"), b"{\"v\": 2, \"more\": true}").unwrap();
    std::fs::write(dir.join("added.txt"), b"new").unwrap();
}

/// The paths and sizes of a tree listing's files.
fn files_of(listing: &Value) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = listing
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "file")
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_owned(),
                e["size"].as_u64().unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn main_moves_and_the_old_commit_stays_downloadable() {
    let (_tmp, hub) = hub_with_repo();
    let old = hub.repo(ID).sha;
    let new = hub.advance(ID, second_commit);
    assert_ne!(old, new);
    assert_eq!(hub.repo(ID).sha, new);

    // `main` and the new sha: the new commit.
    for rev in ["main", new.as_str()] {
        let info = get(&hub, &format!("/api/models/{ID}/revision/{rev}"));
        assert_eq!(info.status, 200);
        assert_eq!(info.json()["sha"], new.as_str());
        let file = get(&hub, &format!("/{ID}/resolve/{rev}/config.json"));
        assert_eq!(file.body, b"{\"v\": 2, \"more\": true}");
        assert_eq!(file.header("x-repo-commit"), Some(new.as_str()));
    }
    assert_eq!(
        get(&hub, &format!("/api/models/{ID}")).json()["sha"],
        new.as_str()
    );

    // The old sha: the old commit, whole.
    let info = get(&hub, &format!("/api/models/{ID}/revision/{old}"));
    assert_eq!(info.status, 200);
    assert_eq!(info.json()["sha"], old.as_str());
    let siblings = info.json()["siblings"].clone();
    let names: Vec<&str> = siblings
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rfilename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["config.json", "onnx/model.onnx"]);
    let file = get(&hub, &format!("/{ID}/resolve/{old}/config.json"));
    assert_eq!(file.status, 200);
    assert_eq!(file.body, b"{\"v\": 1}");
    assert_eq!(file.header("x-repo-commit"), Some(old.as_str()));
    let quoted = format!("\"{}\"", etag(b"{\"v\": 1}"));
    assert_eq!(file.header("etag"), Some(quoted.as_str()));
}

#[test]
fn each_commit_lists_its_own_tree() {
    let (_tmp, hub) = hub_with_repo();
    let old = hub.repo(ID).sha;
    let new = hub.advance(ID, second_commit);

    let listing = get(&hub, &format!("/api/models/{ID}/tree/{old}")).json();
    assert_eq!(
        files_of(&listing),
        [("config.json".into(), 8), ("onnx/model.onnx".into(), 5000)]
    );
    let listing = get(&hub, &format!("/api/models/{ID}/tree/{new}")).json();
    assert_eq!(
        files_of(&listing),
        [
            ("added.txt".into(), 3),
            ("config.json".into(), 22),
            ("onnx/model.onnx".into(), 5000)
        ]
    );
    let under = get(&hub, &format!("/api/models/{ID}/tree/{old}/onnx")).json();
    assert_eq!(files_of(&under), [("onnx/model.onnx".into(), 5000)]);
    // The unchanged LFS file has one etag in both: an update skips it.
    let lfs = |rev: &str| {
        let head = request(
            &hub,
            "HEAD",
            &format!("/{ID}/resolve/{rev}/onnx/model.onnx"),
        );
        assert_eq!(head.header("x-linked-size"), Some("5000"));
        head.header("x-linked-etag").unwrap().to_owned()
    };
    assert_eq!(lfs(&old), lfs(&new));
}

#[test]
fn the_old_commit_survives_the_main_folder_losing_its_files() {
    let (_tmp, hub) = hub_with_repo();
    let old = hub.repo(ID).sha;
    let new = hub.advance(ID, |dir| {
        std::fs::remove_dir_all(dir.join("onnx")).unwrap();
    });
    let file = get(&hub, &format!("/{ID}/resolve/{old}/onnx/model.onnx"));
    assert_eq!(file.status, 200);
    assert_eq!(file.body, weights(1, 5000));
    let gone = get(&hub, &format!("/{ID}/resolve/{new}/onnx/model.onnx"));
    assert_eq!(gone.status, 404);
    assert_eq!(gone.header("x-error-code"), Some("EntryNotFound"));
}

#[test]
fn an_unknown_rev_is_revision_not_found() {
    let (_tmp, hub) = hub_with_repo();
    hub.advance(ID, second_commit);
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    for rev in [unknown, "..", "v1.0"] {
        for path in [
            format!("/api/models/{ID}/revision/{rev}"),
            format!("/api/models/{ID}/tree/{rev}"),
            format!("/api/models/{ID}/tree/{rev}/onnx"),
            format!("/{ID}/resolve/{rev}/config.json"),
        ] {
            let reply = get(&hub, &path);
            assert_eq!(reply.status, 404, "{path}");
            assert_eq!(
                reply.header("x-error-code"),
                Some("RevisionNotFound"),
                "{path}"
            );
        }
    }
}

#[test]
fn the_history_folder_is_not_a_repo() {
    let (_tmp, hub) = hub_with_repo();
    let old = hub.repo(ID).sha;
    hub.advance(ID, second_commit);
    assert!(hub.root.join(".history").join(ID).join(&old).is_dir());
    for path in [
        "/api/models/.history/acme".to_owned(),
        "/api/models/.history/acme/tree/main".to_owned(),
        format!("/.history/acme/resolve/main/m/{old}/config.json"),
    ] {
        let reply = get(&hub, &path);
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.header("x-error-code"), Some("RepoNotFound"), "{path}");
    }
}

#[test]
fn commits_lists_the_history_then_main() {
    let (_tmp, hub) = hub_with_repo();
    let first = hub.repo(ID).sha;
    assert_eq!(hub.commits(ID), vec![first.clone()]);
    let second = hub.advance(ID, second_commit);
    let third = hub.advance(ID, |dir| {
        std::fs::write(dir.join("added.txt"), b"3").unwrap()
    });
    assert_eq!(
        hub.commits(ID),
        [first.clone(), second.clone(), third.clone()]
    );
    for (sha, added) in [(&second, &b"new"[..]), (&third, &b"3"[..])] {
        let file = get(&hub, &format!("/{ID}/resolve/{sha}/added.txt"));
        assert_eq!(file.body, added);
    }
    // A change that changes nothing keeps `main`, listed once.
    assert_eq!(hub.advance(ID, |_| {}), third);
    assert_eq!(hub.commits(ID), [first, second, third]);
}

#[test]
fn advance_over_http_then_change_the_files() {
    let (_tmp, hub) = hub_with_repo();
    let old = hub.repo(ID).sha;
    hub.reset_counts();
    let reply = request(&hub, "POST", &format!("/_fake/advance/{ID}"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["archived"], old.as_str());
    assert_eq!(hub.requests(), 0, "a /_fake/ route is not a hub request");
    second_commit(&hub.root.join(ID));

    let info = get(&hub, &format!("/api/models/{ID}/revision/main")).json();
    let new = info["sha"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(hub.commits(ID), [old.clone(), new]);
    let file = get(&hub, &format!("/{ID}/resolve/{old}/config.json"));
    assert_eq!(file.body, b"{\"v\": 1}");

    let missing = request(&hub, "POST", "/_fake/advance/acme/none");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("x-error-code"), Some("RepoNotFound"));
}

#[test]
fn a_restarted_hub_still_serves_the_history() {
    let (tmp, hub) = hub_with_repo();
    let old = hub.repo(ID).sha;
    let new = hub.advance(ID, second_commit);
    drop(hub);
    let hub = FakeHub::start(tmp.path().join("hub-root"));
    assert_eq!(hub.commits(ID), [old.clone(), new]);
    let file = get(&hub, &format!("/{ID}/resolve/{old}/config.json"));
    assert_eq!(file.body, b"{\"v\": 1}");
}
