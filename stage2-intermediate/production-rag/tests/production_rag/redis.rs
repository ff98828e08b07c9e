//! The answer cache on the machine's Redis (`REDIS_URL`): two service replicas share it, and a
//! Redis that is down is bypassed (a miss with a reason) without failing any query.

use crate::{ask, config, corpus, ingest, serve};
use production_rag::{CacheBackend, Rag};
use serde_json::json;

fn redis_url() -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            eprintln!("SKIPPED: production-rag Redis cache test (REDIS_URL is not set)");
            None
        }
    }
}

#[tokio::test]
async fn two_replicas_share_answers_through_redis() {
    let Some(url) = redis_url() else { return };
    // Each run gets its own corpus (a random sentence), so earlier runs' entries never match.
    let marker =
        format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    let body = json!({"documents": [{"name": "run.txt", "text": format!("The run marker is {marker}. The pump is inspected every six months.")}]});
    let client = reqwest::Client::new();
    let mut servers = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.cache = CacheBackend::Redis;
        c.redis_url = url.clone();
        let s = serve(Rag::open(c).await.unwrap()).await;
        assert_eq!(
            client.get(format!("{}/readyz", s.base)).send().await.unwrap().status(),
            200,
            "Redis at {url} is unreachable"
        );
        ingest(&client, &s.base, &body).await;
        servers.push(s);
        dirs.push(dir);
    }
    let q = json!({"query": format!("How often is the pump inspected, marker {marker}?")});
    let (_, first) = ask(&client, &servers[0].base, q.clone()).await;
    assert_eq!(first["trace"]["cache"], "miss", "{first}");
    let (_, second) = ask(&client, &servers[1].base, q).await;
    assert_eq!(second["trace"]["cache"], "exact", "the second replica did not see the first one's answer: {second}");
    assert_eq!(second["text"], first["text"]);
    for s in servers {
        s.stop().await;
    }
}

#[tokio::test]
async fn a_redis_that_is_down_is_bypassed_and_no_query_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.cache = CacheBackend::Redis;
    // Nothing listens on port 1.
    c.redis_url = "redis://127.0.0.1:1/0".into();
    let s = serve(Rag::open(c).await.unwrap()).await;
    let client = reqwest::Client::new();
    let ready = client.get(format!("{}/readyz", s.base)).send().await.unwrap();
    assert_eq!(ready.status(), 503, "not ready while a configured backend is down");
    ingest(&client, &s.base, &corpus()).await;
    for _ in 0..2 {
        let (status, r) = ask(&client, &s.base, json!({"query": "When are passwords rotated?"})).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["trace"]["cache"], "bypassed", "{r}");
        assert!(r["text"].as_str().unwrap().contains("ninety days"), "{r}");
    }
    s.stop().await;
}
