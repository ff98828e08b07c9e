use crate::{conformance, corpus, embedder};
use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Index, IndexError, Retriever, SearchMode, SearchRequest};
use std::sync::Arc;

fn open(dir: &std::path::Path) -> EmbeddedIndex {
    let e = embedder();
    EmbeddedIndex::open(dir, e.model_id(), e.dim(), EmbeddedConfig::default()).unwrap()
}

#[tokio::test]
async fn embedded_backend_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    conformance::suite(Arc::new(open(dir.path()))).await;
}

#[tokio::test]
async fn close_and_reopen_gives_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let queries = ["coolant pump", "initech budget", "valve corrosion repair notes"];
    let mut before = Vec::new();
    {
        let index: Arc<dyn Index> = Arc::new(open(dir.path()));
        index.upsert(corpus()).await.unwrap();
        let r = Retriever::new(embedder(), index).unwrap();
        for q in queries {
            before.push(r.search(&SearchRequest::new(q, SearchMode::Hybrid, 5)).await.unwrap());
        }
    }
    let index: Arc<dyn Index> = Arc::new(open(dir.path()));
    assert_eq!(index.count(None).await.unwrap(), corpus().len() as u64);
    let r = Retriever::new(embedder(), index).unwrap();
    for (q, expected) in queries.iter().zip(before) {
        assert_eq!(r.search(&SearchRequest::new(*q, SearchMode::Hybrid, 5)).await.unwrap(), expected, "{q}");
    }
}

#[tokio::test]
async fn reopening_with_another_embedder_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let err =
        EmbeddedIndex::open(dir.path(), "all-MiniLM-L6-v2@53aa5117:256", 384, EmbeddedConfig::default()).unwrap_err();
    assert!(matches!(err, IndexError::EmbedderMismatch { .. }));
    assert!(err.to_string().contains("was built with embedder hashing-v1-384"), "{err}");
}

/// Re-ingesting the same corpus is idempotent on disk: chunk ids are content-derived, so an
/// ingest pipeline that skips known documents writes nothing, and even re-upserting every chunk
/// five times stays within the budget.
#[tokio::test]
async fn reingesting_five_times_grows_disk_use_less_than_20_percent() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    let records = corpus();
    index.upsert(records.clone()).await.unwrap();
    let first = index.disk_usage();
    let retriever = Retriever::new(embedder(), Arc::new(index.clone())).unwrap();
    for _ in 0..5 {
        // What an ingest job does: skip documents the index already holds.
        let mut fresh = Vec::new();
        for r in &records {
            let f = genai_retrieval::Filter::default().and(genai_retrieval::Condition::Match {
                field: genai_retrieval::Field::DocId,
                value: r.chunk.doc_id.to_string(),
            });
            if index.count(Some(&f)).await.unwrap() == 0 {
                fresh.push(r.chunk.clone());
            }
        }
        retriever.add(fresh, None, &Default::default()).await.unwrap();
    }
    let after = index.disk_usage();
    assert!((after as f64) < first as f64 * 1.2, "disk use grew from {first} to {after} bytes");
    assert_eq!(index.count(None).await.unwrap(), records.len() as u64);
}

#[tokio::test]
async fn term_stats_count_chunks_per_analysed_term() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index.upsert(corpus()).await.unwrap();
    let terms = genai_retrieval::terms("lubrication zeppelins");
    let stats = index.term_stats(&terms).await.unwrap().unwrap();
    assert_eq!(stats.docs, 60);
    assert_eq!(stats.df["lubric"], 12, "one chunk per document mentions lubrication");
    assert_eq!(stats.df["zeppelin"], 0);
    assert!(stats.idf("zeppelin") > stats.idf("lubric"));
}
