//! The hub's API calls (revision info, file listing) ride out a busy hub as
//! the file transfers do: a 429 with `Retry-After` or a 5xx is retried, and
//! when the hub stays down the message says what to do, with nothing written.

use std::time::{Duration, Instant};

use haid_models::cache::RepoId;
use haid_models::download::{self, no_events, DownloadRequest, Hub, HubConfig, RetryPolicy};
use haid_models_tests::fake_hub::{FakeHub, Faults};
use haid_models_tests::haid;
use tokio_util::sync::CancellationToken;

fn hub_with_model(root: &std::path::Path) -> FakeHub {
    let hub = FakeHub::start(root.join("hub-root"));
    let dir = hub.root.join("acme/m");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), "{}").unwrap();
    std::fs::write(dir.join("w.bin"), vec![7u8; 5000]).unwrap();
    hub
}

fn api_failures(n: u32, status: u16) -> Faults {
    Faults {
        fail_api_next: n,
        fail_api_status: Some(status),
        ..Faults::default()
    }
}

#[test]
fn a_rate_limited_or_failing_api_is_retried_and_the_download_finishes() {
    for status in [429, 500, 503] {
        let tmp = tempfile::tempdir().unwrap();
        let hub = hub_with_model(tmp.path());
        // Two failures: the info call's first try and, for 500s, one more.
        hub.set_faults(api_failures(2, status));
        let cache = tmp.path().join("cache");
        let began = Instant::now();
        let out = haid(tmp.path())
            .env("HF_ENDPOINT", &hub.url)
            .arg("--cache-dir")
            .arg(&cache)
            .args(["download", "acme/m"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{status}: {stderr}");
        let snapshot = cache
            .join("models--acme--m/snapshots")
            .join(&hub.repo("acme/m").sha);
        assert_eq!(
            std::fs::read(snapshot.join("w.bin")).unwrap(),
            vec![7u8; 5000]
        );
        if status == 429 {
            // Retry-After: 1, twice.
            assert!(
                began.elapsed() >= Duration::from_secs(2),
                "{:?}",
                began.elapsed()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_that_stays_down_fails_with_advice_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_with_model(tmp.path());
    let cache = tmp.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let config = HubConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        },
        ..HubConfig::from_env(
            &haid_models::env::Env::from_pairs([("HF_ENDPOINT", hub.url.as_str())]),
            tmp.path(),
        )
    };
    for (status, advice) in [(500, "run it again later"), (429, "rate-limiting")] {
        hub.set_faults(Faults {
            fail_api_next: 1000,
            fail_api_status: Some(status),
            ..Faults::default()
        });
        hub.reset_counts();
        let client = Hub::new(config.clone(), &cache).unwrap();
        let req = DownloadRequest::new(RepoId::model("acme/m").unwrap());
        let err = download::download(
            &cache,
            &client,
            &req,
            no_events(),
            &CancellationToken::new(),
            4,
        )
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.kind(), haid_models::ErrorKind::Network, "{msg}");
        assert!(
            msg.contains("(3 attempts)") && msg.contains(advice),
            "{msg}"
        );
        assert_eq!(hub.requests(), 3, "three tries, then it stops");
        assert_eq!(
            std::fs::read_dir(&cache).unwrap().count(),
            0,
            "nothing written"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_ends_the_wait_for_a_rate_limited_hub() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_with_model(tmp.path());
    hub.set_faults(api_failures(1000, 429));
    let cache = tmp.path().join("cache");
    let env = haid_models::env::Env::from_pairs([("HF_ENDPOINT", hub.url.as_str())]);
    let client = Hub::new(HubConfig::from_env(&env, tmp.path()), &cache).unwrap();
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
    });
    let began = Instant::now();
    let req = DownloadRequest::new(RepoId::model("acme/m").unwrap());
    let err = download::download(&cache, &client, &req, no_events(), &cancel, 4)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), haid_models::ErrorKind::Cancelled);
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
}
