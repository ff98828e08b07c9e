//! Reranking: the learned model and the remote cross-encoder reorder without adding or dropping
//! candidates; any failure (error, timeout, malformed answer) leaves the fused order.

use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_retrieval::rerank::{LearnedReranker, RemoteReranker, RemoteRerankerConfig, TrainingSet, train};
use genai_retrieval::{Hit, RerankContext, RerankOutcome, Reranked, Reranker, Reranking};
use genai_testkit::{MockOpenAi, Reply};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

fn hit(i: usize, text: &str, fused: f32) -> Hit {
    let doc = DocId::from_content(format!("d{i}").as_bytes());
    let chunk = Chunk {
        id: ChunkId::derive(&doc, "r", 0),
        doc_id: doc,
        source: format!("d{i}"),
        ordinal: 0,
        text: text.to_owned(),
        pages: PageRange::single(1),
        char_span: 0..text.chars().count(),
        token_count: 0,
    };
    Hit {
        score: fused,
        dense_score: Some(fused),
        keyword_score: i.is_multiple_of(2).then_some(fused * 10.0),
        ..Hit::new(chunk)
    }
}

fn candidates() -> Vec<Hit> {
    [
        "Budget review\nThe quarterly budget was approved.",
        "Coolant pumps\nInspect coolant pump seals monthly for leaks.",
        "Safety\nWear gloves near the pump.",
        "Coolant\nCoolant pump seal replacement procedure.",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| hit(i, t, 1.0 / (61.0 + i as f32)))
    .collect()
}

/// A model fitted in the test on a toy task: documents containing every query word are relevant.
fn toy_model() -> LearnedReranker {
    let mut set = TrainingSet::default();
    let ctx = RerankContext::default();
    for round in 0..30 {
        let hits = candidates();
        let rel = hits.iter().map(|h| f32::from(u8::from(h.chunk.text.contains("seal")))).collect();
        set.push(if round % 2 == 0 { "coolant pump seal" } else { "pump seal leaks" }, &hits, &ctx, rel);
    }
    let params = genai_retrieval::rerank::TrainParams { rounds: 20, ..Default::default() };
    train(&set, params, "toy").unwrap()
}

fn ids(r: &[Reranked]) -> Vec<String> {
    r.iter().map(|x| x.hit.chunk.source.clone()).collect()
}

#[tokio::test]
async fn the_learned_reranker_lifts_what_matches_and_round_trips_its_file() {
    let model = toy_model();
    let bytes = model.to_bytes().unwrap();
    let reloaded = LearnedReranker::from_bytes(&bytes).unwrap();
    assert_eq!(reloaded.to_bytes().unwrap(), bytes, "a model file reloads to the same bytes");
    let reranking = Reranking::new(Arc::new(reloaded));
    let (out, outcome) = reranking.apply("coolant pump seal", candidates(), &RerankContext::default()).await;
    assert!(matches!(outcome, RerankOutcome::Reranked { candidates: 4, .. }), "{outcome:?}");
    let top: Vec<String> = ids(&out)[..2].to_vec();
    assert!(top.contains(&"d1".to_owned()) && top.contains(&"d3".to_owned()), "{top:?}");
    assert!(out[0].evidence.iter().any(|(n, _)| n == "proximity"), "features are shown");
    assert!(LearnedReranker::from_bytes(b"not a model").is_err());
}

#[tokio::test]
async fn a_failing_late_or_lying_reranker_leaves_the_fused_order() {
    #[derive(Debug)]
    enum Bad {
        Fails,
        Slow,
        DropsOne,
    }
    #[async_trait::async_trait]
    impl Reranker for Bad {
        fn name(&self) -> &str {
            "bad"
        }
        async fn rerank(
            &self,
            _q: &str,
            hits: Vec<Hit>,
            _c: &RerankContext,
        ) -> Result<Vec<Reranked>, genai_retrieval::rerank::RerankError> {
            match self {
                Bad::Fails => Err(genai_retrieval::rerank::RerankError::Model("boom".into())),
                Bad::Slow => {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    unreachable!("the budget cuts it off")
                }
                Bad::DropsOne => Ok(hits
                    .into_iter()
                    .skip(1)
                    .enumerate()
                    .map(|(i, hit)| Reranked { score: 1.0, hit, fused_rank: i, evidence: vec![] })
                    .collect()),
            }
        }
    }
    let fused: Vec<String> = candidates().iter().map(|h| h.chunk.source.clone()).collect();
    for bad in [Bad::Fails, Bad::Slow, Bad::DropsOne] {
        let reranking = Reranking { reranker: Arc::new(bad), top_n: 3, budget: Duration::from_millis(50) };
        let (out, outcome) = reranking.apply("q", candidates(), &RerankContext::default()).await;
        assert_eq!(ids(&out), fused, "fused order kept");
        assert!(matches!(outcome, RerankOutcome::Fallback { .. }), "{outcome:?}");
    }
}

#[tokio::test]
async fn the_remote_cross_encoder_reranks_and_degrades_on_every_failure() {
    let mock = MockOpenAi::start(8).await;
    let base = mock.base_url();
    let remote = RemoteReranker::new(RemoteRerankerConfig {
        timeout: Duration::from_millis(300),
        api_key: Some("k".into()),
        ..RemoteRerankerConfig::new(base.clone())
    })
    .unwrap();
    let reranking = Reranking { budget: Duration::from_secs(1), ..Reranking::new(Arc::new(remote)) };
    let ctx = RerankContext::default();

    let (out, outcome) = reranking.apply("coolant pump seal", candidates(), &ctx).await;
    assert!(matches!(outcome, RerankOutcome::Reranked { .. }), "{outcome:?}");
    assert_eq!(ids(&out)[0], "d3", "the mock's word-overlap scores decide");
    let sent = &mock.requests_to("/v1/rerank")[0];
    assert_eq!(sent.body["documents"].as_array().unwrap().len(), 4);
    assert_eq!(sent.headers["authorization"], "Bearer k");

    let fused: Vec<String> = candidates().iter().map(|h| h.chunk.source.clone()).collect();
    let failures = [
        Reply::Status { code: 503, retry_after: None, body: "overloaded".into() },
        Reply::Delay(Duration::from_secs(2), Box::new(Reply::Default)),
        Reply::Malformed("{not json".into()),
        Reply::Json(serde_json::json!({"results": [{"index": 0, "relevance_score": 1.0}]})),
        Reply::Json(serde_json::json!({"results": [
            {"index": 0, "relevance_score": 1.0}, {"index": 0, "relevance_score": 0.9},
            {"index": 7, "relevance_score": 0.5}, {"index": 1, "relevance_score": 0.1}]})),
    ];
    for reply in failures {
        mock.enqueue("/v1/rerank", [reply.clone()]);
        let (out, outcome) = reranking.apply("coolant pump seal", candidates(), &ctx).await;
        assert_eq!(ids(&out), fused, "fused order after {reply:?}");
        let RerankOutcome::Fallback { reason, .. } = outcome else { panic!("no fallback after {reply:?}") };
        assert!(!reason.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    /// Whatever the candidates, the learned reranker returns each exactly once with a finite score.
    #[test]
    fn reranking_never_adds_or_drops_candidates(
        texts in prop::collection::vec("[a-z ]{0,60}(\n[a-z ]{0,200})?", 0..40),
        query in "[a-z ]{0,30}",
        top_n in 1usize..60,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let model = Arc::new(toy_model_cached());
        let hits: Vec<Hit> = texts.iter().enumerate().map(|(i, t)| hit(i, t, 1.0 / (61.0 + i as f32))).collect();
        let reranking = Reranking { top_n, ..Reranking::new(model) };
        let (out, _) = rt.block_on(reranking.apply(&query, hits.clone(), &RerankContext::default()));
        let mut a: Vec<_> = out.iter().map(|r| r.hit.chunk.id).collect();
        let mut b: Vec<_> = hits.iter().map(|h| h.chunk.id).collect();
        a.sort_unstable();
        b.sort_unstable();
        prop_assert_eq!(a, b);
        prop_assert!(out.iter().all(|r| r.score.is_finite()));
        // Beyond top_n the fused order is untouched.
        let tail: Vec<_> = out.iter().skip(top_n).map(|r| r.hit.chunk.id).collect();
        let fused_tail: Vec<_> = hits.iter().skip(top_n).map(|h| h.chunk.id).collect();
        prop_assert_eq!(tail, fused_tail);
    }
}

fn toy_model_cached() -> LearnedReranker {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    LearnedReranker::from_bytes(BYTES.get_or_init(|| toy_model().to_bytes().unwrap())).unwrap()
}
