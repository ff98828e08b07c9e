//! Query rewriting: RM3 expansion through the `Retriever`, and the model rewriter (multi-query,
//! HyDE) with its prompts, its fusion and its fallbacks.

use crate::{corpus, embedder};
use genai_llm::{LlmError, PriceTable, ResilienceConfig, Resilient};
use genai_retrieval::rewrite::{LlmRewriter, Prf, RewriteMode, RewriteOutcome};
use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Index, Retriever, SearchMode, SearchRequest};
use genai_testkit::{ScriptedModel, Step};
use std::sync::Arc;
use std::time::Duration;

/// The folder first: it must outlive the index (bindings drop in reverse order).
async fn retriever(records: Vec<genai_retrieval::Record>) -> (tempfile::TempDir, Retriever) {
    let dir = tempfile::tempdir().unwrap();
    let e = embedder();
    let index = EmbeddedIndex::open(dir.path(), e.model_id(), e.dim(), EmbeddedConfig::default()).unwrap();
    index.upsert(records).await.unwrap();
    (dir, Retriever::new(e, Arc::new(index)).unwrap())
}

fn records(texts: &[&str]) -> Vec<genai_retrieval::Record> {
    let e = genai_embed::HashingEmbedder::default();
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let doc = genai_core::DocId::from_content(t.as_bytes());
            let chunk = genai_core::Chunk {
                id: genai_core::ChunkId::derive(&doc, "rw", i),
                doc_id: doc,
                source: format!("d{i}"),
                ordinal: 0,
                text: (*t).to_owned(),
                pages: genai_core::PageRange::single(1),
                char_span: 0..t.chars().count(),
                token_count: 0,
            };
            genai_retrieval::Record::new(chunk.clone(), e.embed_one(&chunk.text))
        })
        .collect()
}

fn rewriter(steps: Vec<Step>, mode: RewriteMode) -> (LlmRewriter, Arc<ScriptedModel>) {
    let scripted = Arc::new(ScriptedModel::new("scripted", steps));
    let mut config = ResilienceConfig::default();
    config.backoff.max_attempts = 1;
    let model = Resilient::new(scripted.clone(), config, Arc::new(PriceTable::default()));
    let mut rw = LlmRewriter::new(Arc::new(model));
    rw.mode = mode;
    rw.budget = Duration::from_millis(500);
    (rw, scripted)
}

#[tokio::test]
async fn rm3_expansion_searches_again_with_feedback_terms() {
    let (_dir, r) = retriever(records(&[
        "coolant pump seal leak found",
        "coolant pump seal leak repaired",
        "pump seal replacement procedure",
        "quarterly budget memo",
    ]))
    .await;
    let plain = SearchRequest::new("coolant", SearchMode::Keyword, 10);
    let expanded = SearchRequest { prf: Some(Prf { feedback_docs: 3, ..Prf::default() }), ..plain.clone() };
    let a = r.search(&plain).await.unwrap();
    let b = r.search(&expanded).await.unwrap();
    assert_eq!(a.len(), 2, "plain BM25 finds only the chunks that say coolant");
    // The feedback documents share "pump seal leak": expansion reaches the replacement procedure.
    let sources: Vec<&str> = b.iter().map(|h| h.chunk.source.as_str()).collect();
    assert_eq!(sources, ["d0", "d1", "d2"], "original matches first, then the expansion's");
    let hybrid = SearchRequest { mode: SearchMode::Hybrid, ..expanded };
    assert_eq!(r.search(&hybrid).await.unwrap().len(), 4);
}

#[tokio::test]
async fn multi_query_and_hyde_candidates_are_fused_and_failures_fall_back() {
    let (_dir, r) = retriever(corpus()).await;
    let req = SearchRequest::new("zeppelin maintenance", SearchMode::Hybrid, 5);
    let original = r.search(&req).await.unwrap();

    // A rewrite that names what the corpus calls it brings those chunks in.
    let answer = r#"{"queries": ["quarterly budget notes", "zeppelin maintenance", "safety training"]}"#;
    let (rw, model) = rewriter(
        vec![Step::Text(answer.into()), Step::Text("The quarterly budget covers safety training.".into())],
        RewriteMode::Both { n: 3 },
    );
    let (hits, outcome) = r.search_rewritten(&req, &rw).await.unwrap();
    assert!(matches!(outcome, RewriteOutcome::Rewritten { queries: 2, hyde: true, .. }), "{outcome:?}");
    assert!(hits.iter().any(|h| h.chunk.text.contains("budget")), "a rewrite's results are fused in");
    assert_eq!(model.requests().len(), 2, "one multi-query and one HyDE call");

    // Model down, or late: the original search, with the reason.
    for step in [
        Step::Fail(LlmError::AttemptTimeout(Duration::from_millis(1))),
        Step::After(Duration::from_secs(5), Box::new(Step::Text(answer.into()))),
    ] {
        let (rw, _) = rewriter(vec![step], RewriteMode::MultiQuery { n: 3 });
        let (hits, outcome) = r.search_rewritten(&req, &rw).await.unwrap();
        let RewriteOutcome::Partial { reasons, queries: 0, .. } = outcome else { panic!("{outcome:?}") };
        assert!(!reasons.is_empty());
        let ids = |h: &[genai_retrieval::Hit]| h.iter().map(|x| x.chunk.id).collect::<Vec<_>>();
        assert_eq!(ids(&hits), ids(&original), "fell back to the original query");
    }
}

#[test]
fn rewrite_prompts_are_pinned() {
    // Serialise the messages themselves, not a `serde_json::Value`: a Value's key order depends
    // on whether some other crate in the build turned on `preserve_order`.
    insta::assert_json_snapshot!(
        "multi_query_messages",
        LlmRewriter::multi_query_messages("statins and dementia risk", 3)
    );
    insta::assert_json_snapshot!("hyde_messages", LlmRewriter::hyde_messages("statins and dementia risk"));
}
