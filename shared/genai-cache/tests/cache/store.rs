use genai_cache::store::{CacheStore, MemoryStore, RedisConfig, RedisStore, StoreError, conformance};
use std::time::Duration;

#[tokio::test]
async fn memory_store_conforms() {
    conformance::suite(&MemoryStore::default(), "conf").await;
}

#[tokio::test]
async fn redis_store_conforms() {
    let Some(url) = crate::redis_url() else { return };
    let store = RedisStore::new(RedisConfig { url, ..RedisConfig::default() }).unwrap();
    store.ping().await.expect("REDIS_URL is set but Redis does not answer");
    conformance::suite(&store, &format!("genai-cache-test:{}", std::process::id())).await;
}

#[tokio::test]
async fn memory_store_stays_within_capacity() {
    let store = MemoryStore::with_capacity(64);
    for i in 0..1_000 {
        store.put(&format!("k{i}"), b"v", Duration::from_secs(60)).await.unwrap();
    }
    let keys: Vec<String> = (0..1_000).map(|i| format!("k{i}")).collect();
    let kept = store.get_many(&keys).await.unwrap().into_iter().flatten().count();
    assert!(kept <= 64, "{kept} values kept with capacity 64");
    assert!(store.get("k999").await.unwrap().is_some(), "the newest value survives eviction");
}

#[tokio::test]
async fn a_dead_redis_is_unavailable_fast_and_is_not_retried_on_every_call() {
    // A port nothing listens on (bound and dropped).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let store =
        RedisStore::new(RedisConfig { url: format!("redis://127.0.0.1:{port}"), ..RedisConfig::default() }).unwrap();
    let first = store.get("k").await.unwrap_err();
    assert!(matches!(first, StoreError::Unavailable(_)), "{first}");
    // Within the reconnect interval, calls fail at once without another connection attempt.
    for _ in 0..20 {
        let e = store.get("k").await.unwrap_err();
        assert!(matches!(&e, StoreError::Unavailable(m) if m.contains("skipped for")), "{e}");
    }
}

#[tokio::test]
async fn a_redis_that_hangs_mid_use_trips_the_breaker_and_is_used_again_once_back() {
    if crate::redis_url().is_none() {
        return;
    }
    // A Redis of the test's own, so it can be frozen (SIGSTOP) and thawed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let Ok(mut redis) = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
    else {
        eprintln!("SKIPPED: no redis-server binary");
        return;
    };
    let config =
        RedisConfig { url: format!("redis://127.0.0.1:{port}"), reconnect_every_ms: 500, ..RedisConfig::default() };
    let store = RedisStore::new(config).unwrap();
    let mut up = false;
    for _ in 0..50 {
        if store.ping().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert!(up, "the private redis-server did not come up");
    store.put("k", b"v", Duration::from_secs(60)).await.unwrap();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill").args([sig, &redis.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    // The first operation waits for its timeout; the next ones are skipped without asking.
    let first = store.get("k").await.unwrap_err();
    assert!(matches!(&first, StoreError::Unavailable(m) if !m.contains("skipped")), "{first}");
    for _ in 0..10 {
        let e = store.get("k").await.unwrap_err();
        assert!(matches!(&e, StoreError::Unavailable(m) if m.contains("skipped for")), "{e}");
    }
    signal("-CONT");
    // Once the interval has passed, the next operation probes the server and finds it back.
    let mut back = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        if let Ok(v) = store.get("k").await {
            back = Some(v);
            break;
        }
    }
    assert_eq!(back, Some(Some(b"v".to_vec())), "the value survived and the store is used again");
    redis.kill().unwrap();
    redis.wait().unwrap();
}

#[test]
fn a_malformed_url_is_rejected_at_construction() {
    let e = RedisStore::new(RedisConfig { url: "http://nope".into(), ..RedisConfig::default() }).unwrap_err();
    assert!(matches!(e, StoreError::Rejected(_)), "{e}");
}
