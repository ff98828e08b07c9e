//! The answer cache on every backend: exact and semantic hits, scopes, the guard, invalidation.

use crate::{at_cosine, cosine_guard};
use genai_cache::store::{CacheStore, MemoryStore, RedisConfig, RedisStore};
use genai_cache::{AnswerCache, CacheConfig, Decision, Scope};
use std::sync::Arc;

fn backends() -> Vec<Arc<dyn CacheStore>> {
    let mut stores: Vec<Arc<dyn CacheStore>> = vec![Arc::new(MemoryStore::default())];
    if let Some(url) = crate::redis_url() {
        stores.push(Arc::new(RedisStore::new(RedisConfig { url, ..RedisConfig::default() }).unwrap()));
    }
    stores
}

/// A cache in its own namespace (tests share one Redis).
fn cache(store: Arc<dyn CacheStore>, name: &str) -> AnswerCache<String> {
    let config = CacheConfig { namespace: format!("t{}-{name}", std::process::id()), ..CacheConfig::default() };
    AnswerCache::new(store, config).with_semantic(cosine_guard(), "test-embedder", 8).unwrap()
}

fn scope() -> Scope {
    Scope::new().with("tenant", "acme").with("model", "m1").with("prompt", "v1").with("filters", "{}")
}

#[tokio::test]
async fn exact_hits_ignore_case_spacing_and_trailing_punctuation() {
    for store in backends() {
        let c = cache(store.clone(), "exact");
        assert!(c.insert(&scope(), "What is RAG?", None, "answer".into(), &[]).await, "{}", store.kind());
        let hit = c.lookup(&scope(), "  what is   rag ", None).await;
        assert_eq!((hit.value.as_deref(), &hit.decision), (Some("answer"), &Decision::Exact), "{}", store.kind());
        let miss = c.lookup(&scope(), "what is not rag", None).await;
        assert_eq!(miss.value, None);
    }
}

#[tokio::test]
async fn nothing_is_served_across_scopes() {
    for store in backends() {
        let c = cache(store.clone(), "scopes");
        c.insert(&scope(), "What is RAG?", Some(&at_cosine(1.0)), "acme's answer".into(), &[]).await;
        for other in [
            scope().with("tenant", "globex"),
            scope().with("model", "m2"),
            scope().with("prompt", "v2"),
            scope().with("filters", "{\"type\":\"pdf\"}"),
            scope().with("corpus", "2"),
        ] {
            for embedding in [None, Some(at_cosine(1.0))] {
                let l = c.lookup(&other, "What is RAG?", embedding.as_deref()).await;
                assert_eq!(l.value, None, "{} served {:?} across scopes", store.kind(), l.decision);
            }
        }
    }
}

#[tokio::test]
async fn semantic_hits_need_the_guard_and_report_why() {
    for store in backends() {
        let c = cache(store.clone(), "semantic");
        c.insert(&scope(), "How do I reset my password?", Some(&at_cosine(1.0)), "use the link".into(), &[]).await;
        // Near (cosine 0.97 ≥ the guard's 0.9): served, with the matched question and scores.
        let near = c.lookup(&scope(), "how can i reset my password", Some(&at_cosine(0.97))).await;
        assert_eq!(near.value.as_deref(), Some("use the link"), "{}: {:?}", store.kind(), near.decision);
        let Decision::Semantic { similarity, guard, matched } = near.decision else { panic!("{:?}", near.decision) };
        assert!((similarity - 0.97).abs() < 1e-3 && guard >= 0.5 && matched == "How do I reset my password?");
        // Above the cosine floor but refused by the guard: a miss that counts the rejection.
        let far = c.lookup(&scope(), "how can i reset my username", Some(&at_cosine(0.8))).await;
        assert_eq!(far.value, None);
        assert!(matches!(far.decision, Decision::Miss { rejected: 1, .. }), "{:?}", far.decision);
        // Below the floor: not even shown to the guard.
        let unrelated = c.lookup(&scope(), "what time is it", Some(&at_cosine(0.3))).await;
        assert!(matches!(unrelated.decision, Decision::Miss { rejected: 0, .. }), "{:?}", unrelated.decision);
    }
}

#[tokio::test]
async fn invalidating_a_document_removes_exactly_the_answers_citing_it() {
    for store in backends() {
        let c = cache(store.clone(), "invalidate");
        let (a, b) = ("doc-a".to_owned(), "doc-b".to_owned());
        c.insert(&scope(), "q1", Some(&at_cosine(1.0)), "cites a".into(), std::slice::from_ref(&a)).await;
        c.insert(&scope(), "q2", None, "cites a and b".into(), &[a.clone(), b.clone()]).await;
        c.insert(&scope().with("tenant", "globex"), "q3", None, "cites a elsewhere".into(), std::slice::from_ref(&a))
            .await;
        c.insert(&scope(), "q4", None, "cites b".into(), std::slice::from_ref(&b)).await;
        c.insert(&scope(), "q5", None, "cites nothing".into(), &[]).await;
        assert_eq!(c.invalidate_documents(std::slice::from_ref(&a)).await.unwrap(), 3, "{}", store.kind());
        for q in ["q1", "q2"] {
            assert_eq!(c.lookup(&scope(), q, None).await.value, None, "{q} cited doc-a");
        }
        assert_eq!(c.lookup(&scope().with("tenant", "globex"), "q3", None).await.value, None);
        // Also gone from the semantic path (its bucket entry points at nothing now).
        assert_eq!(c.lookup(&scope(), "q1 rephrased", Some(&at_cosine(0.99))).await.value, None);
        assert_eq!(c.lookup(&scope(), "q4", None).await.value.as_deref(), Some("cites b"));
        assert_eq!(c.lookup(&scope(), "q5", None).await.value.as_deref(), Some("cites nothing"));
        assert_eq!(c.invalidate_documents(&[a]).await.unwrap(), 0, "invalidating twice removes nothing more");
    }
}

#[tokio::test]
async fn a_dead_store_means_bypass_never_an_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let store = Arc::new(
        RedisStore::new(RedisConfig { url: format!("redis://127.0.0.1:{port}"), ..RedisConfig::default() }).unwrap(),
    );
    let c = cache(store, "dead");
    assert!(
        !c.insert(&scope(), "q", Some(&at_cosine(1.0)), "a".into(), &["d".into()]).await,
        "insert reports it did not store"
    );
    let l = c.lookup(&scope(), "q", Some(&at_cosine(1.0))).await;
    assert_eq!(l.value, None);
    assert!(matches!(l.decision, Decision::Bypassed { .. }), "{:?}", l.decision);
    assert!(c.invalidate_documents(&["d".into()]).await.is_err(), "invalidation must not pretend to succeed");
}

#[tokio::test]
async fn entries_expire() {
    for store in backends() {
        let config =
            CacheConfig { namespace: format!("t{}-ttl", std::process::id()), ttl_secs: 1, ..CacheConfig::default() };
        let c: AnswerCache<String> = AnswerCache::new(store.clone(), config);
        c.insert(&scope(), "q", None, "a".into(), &[]).await;
        assert!(c.lookup(&scope(), "q", None).await.value.is_some());
        tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
        assert_eq!(c.lookup(&scope(), "q", None).await.value, None, "{}: expired after its TTL", store.kind());
    }
}

#[test]
fn a_guard_for_another_embedder_is_refused() {
    let c: AnswerCache<String> = AnswerCache::new(Arc::new(MemoryStore::default()), CacheConfig::default());
    let e = c.with_semantic(cosine_guard(), "all-MiniLM-L6-v2@53aa5117:256", 384).unwrap_err();
    assert!(e.to_string().contains("test-embedder"), "{e}");
    let c: AnswerCache<String> = AnswerCache::new(Arc::new(MemoryStore::default()), CacheConfig::default());
    assert!(c.with_semantic(cosine_guard(), "test-embedder", 16).is_err(), "same embedder name, another width");
}
