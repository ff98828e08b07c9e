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
        assert!(matches!(&e, StoreError::Unavailable(m) if m.contains("retrying every")), "{e}");
    }
}

#[test]
fn a_malformed_url_is_rejected_at_construction() {
    let e = RedisStore::new(RedisConfig { url: "http://nope".into(), ..RedisConfig::default() }).unwrap_err();
    assert!(matches!(e, StoreError::Rejected(_)), "{e}");
}
