//! The retrieval quality gates on BEIR SciFact test (300 queries):
//!
//! - BM25 must reach nDCG@10 >= 0.65 (BEIR's published 0.665 is the reference);
//! - MiniLM hybrid reranked by the bundled learned reranker must reach nDCG@10 >= 0.72 (measured
//!   0.7435; hybrid alone is 0.7119).
//!
//! They run when `SCIFACT_DIR` names a BEIR SciFact folder (`.ci/run` sets it when the team's
//! data folder is present; the reranked gate also needs `EMBED_MODEL_DIR`); they fail loudly if
//! configured but unusable; otherwise they say they were skipped. `GENAI_EVAL_DIR` keeps the
//! index and the vector cache between runs (`.ci/run` points it outside the clone). They are
//! tests rather than `cargo run` so that CI reuses the test build.

mod report;

use genai_eval::retrieval::{RetrievalEval, Source};
use genai_retrieval::rerank::LearnedReranker;
use genai_retrieval::{Fusion, Reranking, SearchMode};
use std::path::PathBuf;
use std::sync::Arc;

const BM25_GATE: f64 = 0.65;
const RERANKED_GATE: f64 = 0.72;

fn eval(dir: &str, workdir: PathBuf, mode: SearchMode, embedder: Arc<dyn genai_embed::Embedder>) -> RetrievalEval {
    RetrievalEval {
        source: Source::Beir { dir: PathBuf::from(dir), split: "test".into() },
        mode,
        embedder,
        workdir,
        k: 10,
        candidates: 100,
        fusion: Fusion::default(),
        ignore_identical_ids: true,
        progress: false,
        rerank: None,
        prf: None,
        rewriter: None,
    }
}

fn workdir() -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var("GENAI_EVAL_DIR") {
        Ok(d) => (PathBuf::from(d), None),
        Err(_) => {
            let t = tempfile::tempdir().unwrap();
            (t.path().to_owned(), Some(t))
        }
    }
}

#[tokio::test]
async fn bm25_on_scifact_meets_the_gate() {
    let Ok(dir) = std::env::var("SCIFACT_DIR") else {
        eprintln!("SKIPPED: retrieval gate (SCIFACT_DIR is not set)");
        return;
    };
    let (workdir, _keep) = workdir();
    let e = eval(&dir, workdir, SearchMode::Keyword, Arc::new(genai_embed::HashingEmbedder::default()));
    let report = e.run().await.unwrap_or_else(|e| panic!("SCIFACT_DIR={dir} is set but the evaluation failed: {e:#}"));
    println!("{}\n{}", genai_eval::retrieval::RetrievalReport::table_header(10), report.table_row());
    assert_eq!(report.queries, 300, "SciFact test has 300 judged queries");
    assert!(report.at_k.ndcg >= BM25_GATE, "BM25 nDCG@10 = {:.4} is below the gate {BM25_GATE}", report.at_k.ndcg);
}

#[tokio::test]
async fn reranked_hybrid_on_scifact_meets_the_gate() {
    let (Ok(dir), Ok(_)) = (std::env::var("SCIFACT_DIR"), std::env::var("EMBED_MODEL_DIR")) else {
        eprintln!("SKIPPED: reranked retrieval gate (needs SCIFACT_DIR and EMBED_MODEL_DIR)");
        return;
    };
    let (workdir, _keep) = workdir();
    let minilm = genai_embed::build(&genai_embed::EmbedderSpec::Minilm { dir: None, threads: Some(2) })
        .expect("EMBED_MODEL_DIR is set but MiniLM does not load");
    let reranker = LearnedReranker::bundled().expect("the bundled reranker loads");
    let e = RetrievalEval {
        rerank: Some(Reranking::new(Arc::new(reranker))),
        ..eval(&dir, workdir, SearchMode::Hybrid, minilm)
    };
    let report = e.run().await.unwrap_or_else(|e| panic!("SCIFACT_DIR={dir} is set but the evaluation failed: {e:#}"));
    println!("{}\n{}", genai_eval::retrieval::RetrievalReport::table_header(10), report.table_row());
    assert_eq!(report.rerank_fallbacks, 0, "the reranker never fell back");
    assert!(
        report.at_k.ndcg >= RERANKED_GATE,
        "reranked hybrid nDCG@10 = {:.4} is below the gate {RERANKED_GATE}",
        report.at_k.ndcg
    );
}

/// The semantic cache's pair guard on the report halves (odd ids) of QQP dev and PAWS-Wiki dev:
/// at the shipped threshold, false hits <= 1% on both (the safety bar), and QQP duplicates
/// served no lower than the bundled guard reaches (3%; the goal of 30% is not met: see
/// the genai-cache README).
/// Runs when `CACHE_PAIRS_DIR` names a folder holding `qqp/` and `paws-wiki/`, with MiniLM.
#[tokio::test]
async fn semantic_cache_guard_on_pairs_meets_the_gate() {
    let (Ok(dir), Ok(_)) = (std::env::var("CACHE_PAIRS_DIR"), std::env::var("EMBED_MODEL_DIR")) else {
        eprintln!("SKIPPED: semantic cache gate (needs CACHE_PAIRS_DIR and EMBED_MODEL_DIR)");
        return;
    };
    let (workdir, _keep) = workdir();
    let dir = PathBuf::from(dir);
    let minilm = genai_embed::build(&genai_embed::EmbedderSpec::Minilm { dir: None, threads: Some(2) })
        .expect("EMBED_MODEL_DIR is set but MiniLM does not load");
    let embedder = genai_embed::CachedEmbedder::open(minilm, &workdir.join("vector-cache")).unwrap();
    use genai_embed::Embedder;
    let half = genai_eval::pairs::Half::Odd;
    let sources =
        genai_eval::cache_pairs::load_sources(&embedder, &dir.join("qqp"), &dir.join("paws-wiki"), half, false)
            .await
            .unwrap_or_else(|e| panic!("CACHE_PAIRS_DIR={} is set but the pairs do not load: {e:#}", dir.display()));
    let guard = genai_cache::guard::bundled(embedder.model_id()).expect("the bundled MiniLM guard loads");
    let report = genai_eval::cache_pairs::evaluate(&sources, &guard, embedder.model_id());
    println!("{}", report.table());
    for (name, rates) in &report.shipped().sources {
        assert!(rates.false_hit.mean <= 0.01, "{name}: false hits {:.4} > 1%", rates.false_hit.mean);
        if name == "QQP" {
            assert!(rates.hit.mean >= 0.03, "QQP duplicates served {:.4} < 3%", rates.hit.mean);
        }
    }
}
