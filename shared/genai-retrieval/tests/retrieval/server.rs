//! The server backend against a real Qdrant, when `QDRANT_URL` is set (`.ci/run` starts one).
//! Set but unreachable is a failure, not a skip.
//!
//! - the conformance suite, with payload tenancy and (on a server in cluster mode) tiered;
//! - parity: the same records in the embedded index and on the server give the same ids, order
//!   and scores for dense, BM25 and hybrid, within the tolerances stated below;
//! - errors: an unreachable server is retryable, a rejected request is permanent, and both
//!   carry the server's own words.

use crate::{conformance, embedder, text_corpus, text_queries};
use genai_core::{Classify, ErrorClass};
use genai_retrieval::{
    Bm25Params, EmbeddedConfig, EmbeddedIndex, Filter, Hit, Index, IndexError, Retriever, SearchMode, SearchRequest,
    ServerConfig, ServerFailure, ServerIndex, ServerLayout, Tenancy,
};
use std::sync::Arc;

/// BM25 scores: relative difference (float summation order differs between the engines).
pub const BM25_RTOL: f32 = 1e-4;
/// Cosine similarities: absolute difference.
pub const COSINE_ATOL: f32 = 1e-5;

fn url() -> Option<String> {
    let url = std::env::var("QDRANT_URL").ok();
    if url.is_none() {
        eprintln!("SKIPPED: Qdrant server tests (QDRANT_URL is not set)");
    }
    url
}

fn config(url: &str, name: &str, tenancy: Tenancy) -> ServerConfig {
    ServerConfig {
        urls: genai_retrieval::split_urls(url),
        collection: format!("{name}_{}", std::process::id()),
        layout: ServerLayout { tenancy, ..ServerLayout::default() },
        ..ServerConfig::default()
    }
}

async fn open(config: ServerConfig) -> ServerIndex {
    let e = embedder();
    let url = config.urls.join(",");
    ServerIndex::open(config, e.model_id(), e.dim())
        .await
        .unwrap_or_else(|err| panic!("QDRANT_URL={url} is set but the server is unusable: {err}"))
}

#[tokio::test]
async fn server_backend_passes_the_conformance_suite() {
    let Some(url) = url() else { return };
    let index = Arc::new(open(config(&url, "conformance", Tenancy::Payload)).await);
    conformance::suite(index.clone()).await;
    index.drop_collection().await.unwrap();
}

#[tokio::test]
async fn tiered_layout_passes_the_conformance_suite_and_promotes_a_tenant() {
    let Some(url) = url() else { return };
    let e = embedder();
    let index = match ServerIndex::open(config(&url, "tiered", Tenancy::Tiered), e.model_id(), e.dim()).await {
        Err(IndexError::Server { message, .. }) if message.contains("Distributed mode disabled") => {
            eprintln!("SKIPPED: tiered tenancy (the server at {url} is not in cluster mode)");
            return;
        }
        other => Arc::new(other.expect("tiered collection")),
    };
    assert_eq!(index.tenancy(), Tenancy::Tiered);
    conformance::suite(index.clone()).await;
    crate::cluster::promotion_keeps_results(index.clone()).await;
    index.drop_collection().await.unwrap();
}

#[tokio::test]
async fn server_and_embedded_agree_score_for_score() {
    let Some(url) = url() else { return };
    let records = text_corpus(600, 11);
    let dir = tempfile::tempdir().unwrap();
    let e = embedder();
    let embedded = EmbeddedIndex::open(dir.path(), e.model_id(), e.dim(), EmbeddedConfig::default()).unwrap();
    embedded.upsert(records.clone()).await.unwrap();
    let avg_len = embedded.bm25_avg_len().unwrap().expect("non-empty");
    let server = open(ServerConfig {
        bm25: Bm25Params { avg_len, ..Bm25Params::default() },
        ..config(&url, "parity", Tenancy::Payload)
    })
    .await;
    server.upsert(records.clone()).await.unwrap();

    let embedded = Retriever::new(e.clone(), Arc::new(embedded)).unwrap();
    let server = Arc::new(server);
    let remote = Retriever::new(e, server.clone()).unwrap();
    let mut compared = 0;
    for (i, q) in text_queries(40, 11).into_iter().enumerate() {
        let filter = (i % 4 == 3).then(|| Filter::tenant("globex"));
        for mode in [SearchMode::Keyword, SearchMode::Dense, SearchMode::Hybrid] {
            let req = SearchRequest { filter: filter.clone(), ..SearchRequest::new(q.clone(), mode, 20) };
            let a = embedded.search(&req).await.unwrap();
            let b = remote.search(&req).await.unwrap();
            assert_same_ranking(&a, &b, mode, &q);
            compared += 1;
        }
    }
    assert_eq!(compared, 120);
    server.drop_collection().await.unwrap();
}

/// Same ids in the same order, except that hits whose scores tie within tolerance may swap;
/// scores within tolerance for every id.
fn assert_same_ranking(a: &[Hit], b: &[Hit], mode: SearchMode, q: &str) {
    assert_eq!(a.len(), b.len(), "{mode:?} {q:?}: result counts differ");
    let close = |x: f32, y: f32| match mode {
        SearchMode::Keyword => (x - y).abs() <= BM25_RTOL * x.abs().max(y.abs()),
        // Hybrid scores are RRF sums of ranks: equal legs give equal scores.
        SearchMode::Dense | SearchMode::Hybrid => (x - y).abs() <= COSINE_ATOL,
    };
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(close(x.score, y.score), "{mode:?} {q:?} rank {i}: scores {} vs {}", x.score, y.score);
        if x.chunk.id != y.chunk.id {
            // A swap is only allowed between equal scores (at the cut-off too).
            let partner = b.iter().find(|h| h.chunk.id == x.chunk.id);
            let at_cutoff = b.last().is_some_and(|l| close(l.score, x.score));
            let tied = partner.map_or(at_cutoff, |p| close(p.score, x.score));
            assert!(tied, "{mode:?} {q:?} rank {i}: {:?} vs {:?} with different scores", x.chunk.id, y.chunk.id);
        }
        if mode == SearchMode::Hybrid {
            assert_eq!(x.dense_score.is_some(), y.dense_score.is_some());
            assert_eq!(x.keyword_score.is_some(), y.keyword_score.is_some());
        }
    }
}

#[tokio::test]
async fn errors_are_classified_and_carry_the_servers_words() {
    let Some(url) = url() else { return };
    // Nothing listens on port 9 of loopback (discard is never enabled in CI containers).
    let dead = ServerConfig {
        timeout: std::time::Duration::from_secs(2),
        ..config("http://127.0.0.1:9", "x", Tenancy::Payload)
    };
    let e = embedder();
    let err = ServerIndex::open(dead, e.model_id(), e.dim()).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retryable, "{err}");
    assert!(matches!(err, IndexError::Server { failure: ServerFailure::Unavailable, .. }), "{err:?}");

    // A rejected request: the collection is deleted under an open index.
    let index = open(config(&url, "errors", Tenancy::Payload)).await;
    index.drop_collection().await.unwrap();
    let err = index.count(None).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent, "{err}");
    let text = err.to_string();
    assert!(text.contains("Not found") || text.contains("not found") || text.contains("doesn't exist"), "{text}");

    // Failover: a dead node listed first does not fail requests that another node can serve.
    let both = config(&format!("http://127.0.0.1:9,{url}"), "failover", Tenancy::Payload);
    let index = open(both).await;
    index.upsert(crate::corpus()).await.unwrap();
    assert_eq!(index.count(None).await.unwrap(), 60);
    index.drop_collection().await.unwrap();
}
