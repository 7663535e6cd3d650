//! The download manager through the core API: queue limits, cancel, registry.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use haid_models::cache::RepoId;
use haid_models::download::{
    DownloadEvent, DownloadManager, DownloadRequest, EventSink, Hub, HubConfig, ParallelPolicy,
    RetryPolicy,
};
use haid_models_tests::fake_hub::{FakeHub, Faults};
use haid_models_tests::fixture::weights;

const MB: usize = 1 << 20;

fn setup(models: &[&str], mb: usize) -> (tempfile::TempDir, FakeHub, Hub) {
    let tmp = tempfile::tempdir().unwrap();
    let hub = FakeHub::start(tmp.path().join("root"));
    for (i, id) in models.iter().enumerate() {
        let dir = hub.root.join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model.bin"), weights(i as u8, mb * MB)).unwrap();
    }
    let client = Hub::new(config(&hub.url), &tmp.path().join("cache")).unwrap();
    (tmp, hub, client)
}

type Log = Arc<Mutex<Vec<(Instant, DownloadEvent)>>>;

fn recorder() -> (EventSink, Log) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    (
        Arc::new(move |e| l.lock().unwrap().push((Instant::now(), e))),
        log,
    )
}

fn when(log: &Log, repo: &str, kind: &str) -> Option<Instant> {
    log.lock().unwrap().iter().find_map(|(t, e)| {
        let v = serde_json::to_value(e).unwrap();
        (v["event"] == kind && v["repo_id"] == repo).then_some(*t)
    })
}

fn config(endpoint: &str) -> HubConfig {
    HubConfig {
        endpoint: endpoint.to_owned(),
        token: None,
        offline: false,
        allow_http_token: false,
        disable_symlinks: false,
        shared_blobs: true,
        retry: RetryPolicy::default(),
        parallel: ParallelPolicy::default(),
    }
}

/// Starts `ids` at once and waits for all; the events, timed.
async fn run_all(manager: &DownloadManager, ids: &[&str]) -> Log {
    let (sink, log) = recorder();
    let handles: Vec<_> = ids
        .iter()
        .map(|id| {
            let req = DownloadRequest::new(RepoId::model(id).unwrap());
            manager.start(req, sink.clone()).unwrap()
        })
        .collect();
    for h in handles {
        h.await.unwrap().unwrap();
    }
    log
}

/// How many of `ids` started only after the first of them finished.
fn started_late(log: &Log, ids: &[&str]) -> usize {
    let first_done = ids
        .iter()
        .filter_map(|id| when(log, id, "done"))
        .min()
        .unwrap();
    ids.iter()
        .filter(|id| when(log, id, "resolved").unwrap() >= first_done)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_two_models_at_once_and_all_finish() {
    let (tmp, hub, client) = setup(&["q/a", "q/b", "q/c"], 2);
    hub.set_faults(Faults {
        throttle_bps: Some(4 * MB as u64),
        ..Faults::default()
    });
    let manager = DownloadManager::new(tmp.path().join("cache"), client, 2, 8);
    let (sink, log) = recorder();
    let handles: Vec<_> = ["q/a", "q/b", "q/c"]
        .iter()
        .map(|id| {
            manager
                .start(
                    DownloadRequest::new(RepoId::model(id).unwrap()),
                    sink.clone(),
                )
                .unwrap()
        })
        .collect();
    assert_eq!(manager.active().len(), 3, "queued ones count as in flight");
    let dup = manager.start(
        DownloadRequest::new(RepoId::model("q/a").unwrap()),
        sink.clone(),
    );
    assert!(dup.unwrap_err().to_string().contains("already downloading"));
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let late = started_late(&log, &["q/a", "q/b", "q/c"]);
    assert_eq!(late, 1, "the third model waits for a free slot");
    assert!(manager.active().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_keeps_the_partial_for_a_resume() {
    let (tmp, hub, client) = setup(&["c/m"], 4);
    hub.set_faults(Faults {
        throttle_bps: Some(2 * MB as u64),
        ..Faults::default()
    });
    let cache = tmp.path().join("cache");
    let manager = DownloadManager::with_defaults(cache.clone(), client);
    let repo = RepoId::model("c/m").unwrap();
    let (sink, log) = recorder();
    let handle = manager
        .start(DownloadRequest::new(repo.clone()), sink.clone())
        .unwrap();
    let began = Instant::now();
    while log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, e)| matches!(e, DownloadEvent::Progress { bytes, .. } if *bytes > MB as u64))
        .count()
        == 0
    {
        assert!(began.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(manager.cancel(&repo));
    let err = handle.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), haid_models::ErrorKind::Cancelled);
    assert!(err.to_string().contains("resumes"), "{err}");
    assert!(manager.active().is_empty());
    let blobs = cache.join("models--c--m/blobs");
    let partial: u64 = std::fs::read_dir(&blobs)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(partial >= MB as u64, "kept {partial} bytes");

    hub.set_faults(Faults::default());
    hub.reset_counts();
    manager
        .start(DownloadRequest::new(repo), sink)
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    assert!(
        hub.bytes_served() <= (4 * MB) as u64 - partial + 64 * 1024,
        "resumed: {}",
        hub.bytes_served()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_transfer_is_retried_and_resumed() {
    let (tmp, hub, _) = setup(&["s/m"], 2);
    hub.set_faults(Faults {
        stall_after: Some(MB as u64),
        ..Faults::default()
    });
    let retry = RetryPolicy {
        stall_timeout: Duration::from_secs(1),
        base_delay: Duration::from_millis(50),
        ..RetryPolicy::default()
    };
    let config = HubConfig {
        retry,
        ..config(&hub.url)
    };
    let cache = tmp.path().join("cache");
    let client = Hub::new(config, &cache).unwrap();
    let manager = DownloadManager::with_defaults(cache.clone(), client);
    let (sink, log) = recorder();
    let began = Instant::now();
    manager
        .start(DownloadRequest::new(RepoId::model("s/m").unwrap()), sink)
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    assert!(began.elapsed() < Duration::from_secs(20));
    let retried = log.lock().unwrap().iter().any(|(_, e)| matches!(e, DownloadEvent::Retrying { message, .. } if message.contains("stalled")));
    assert!(retried, "the stall was noticed and retried");
    assert!(
        hub.bytes_served() <= (2 * MB + 64 * 1024) as u64,
        "resumed after the stall: {}",
        hub.bytes_served()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_limit_and_a_new_hub_apply_to_downloads_started_afterwards() {
    let (tmp, hub, _) = setup(&["n/a", "n/b", "n/c", "n/d", "n/e"], 1);
    hub.set_faults(Faults {
        throttle_bps: Some(4 * MB as u64),
        ..Faults::default()
    });
    // Made with a hub that does not answer and one model at a time.
    let cache = tmp.path().join("cache");
    let nowhere = Hub::new(config("http://127.0.0.1:9"), &cache).unwrap();
    let manager = DownloadManager::new(cache.clone(), nowhere, 1, 8);
    manager.set_hub(Hub::new(config(&hub.url), &cache).unwrap());
    manager.set_concurrency(3);
    let ids = ["n/a", "n/b", "n/c"];
    let log = run_all(&manager, &ids).await;
    assert_eq!(
        started_late(&log, &ids),
        0,
        "all three ran at once under the new limit"
    );

    // Back down to one: the next two run one after the other.
    manager.set_concurrency(1);
    let ids = ["n/d", "n/e"];
    let log = run_all(&manager, &ids).await;
    assert_eq!(
        started_late(&log, &ids),
        1,
        "the second waited for the first"
    );
}
