//! The retrieval quality gate: BM25 on BEIR SciFact must reach nDCG@10 >= 0.65.
//!
//! Runs when `SCIFACT_DIR` names a BEIR SciFact folder (`.ci/run` sets it when the team's data
//! folder is present); fails loudly if it is set but unusable; otherwise reports it was skipped.
//! It is a test rather than a `cargo run` so that CI reuses the test build instead of compiling
//! the workspace a second time with another feature set.

use genai_eval::retrieval::RetrievalEval;
use genai_retrieval::{Fusion, SearchMode};
use std::path::PathBuf;
use std::sync::Arc;

const GATE: f64 = 0.65;

#[tokio::test]
async fn bm25_on_scifact_meets_the_gate() {
    let Ok(dir) = std::env::var("SCIFACT_DIR") else {
        eprintln!("SKIPPED: retrieval gate (SCIFACT_DIR is not set)");
        return;
    };
    let workdir = tempfile::tempdir().unwrap();
    let eval = RetrievalEval {
        dataset: PathBuf::from(&dir),
        split: "test".into(),
        mode: SearchMode::Keyword,
        embedder: Arc::new(genai_embed::HashingEmbedder::default()),
        workdir: workdir.path().to_owned(),
        k: 10,
        candidates: 100,
        fusion: Fusion::default(),
        ignore_identical_ids: true,
        progress: false,
    };
    let report =
        eval.run().await.unwrap_or_else(|e| panic!("SCIFACT_DIR={dir} is set but the evaluation failed: {e:#}"));
    println!("{}\n{}", genai_eval::retrieval::RetrievalReport::table_header(10), report.table_row());
    assert_eq!(report.queries, 300, "SciFact test has 300 judged queries");
    assert!(report.at_k.ndcg >= GATE, "BM25 nDCG@10 = {:.4} is below the gate {GATE}", report.at_k.ndcg);
}
