//! The query pipeline up to the answer: validation, the cache, retrieval and reranking; then
//! [`crate::answer`] streams the answer and finishes the trace.
//!
//! Concurrency: the exact lookup needs no embedding and runs first (a hit costs one store read).
//! On a miss the query is embedded once, for both the semantic lookup and the dense leg, and
//! retrieval starts at the same time as the semantic lookup; a semantic hit cancels it.

use crate::filters::Filters;
use crate::{Rag, RagError};
use futures::stream::BoxStream;
use genai_answer::NumberedCitation;
use genai_cache::{Decision, Scope};
use genai_llm::ChatModel;
use genai_llm::route::Route;
use genai_retrieval::rewrite::RewriteOutcome;
use genai_retrieval::{Hit, RerankContext, RerankOutcome, SearchRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime};
use utoipa::ToSchema;

/// `POST /v1/query`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// The question.
    #[schema(min_length = 1, max_length = 2000, example = "How does the cache avoid serving a wrong answer?")]
    pub query: String,
    #[serde(default, deserialize_with = "genai_http::object")]
    pub filters: Filters,
    /// Passages given to the answerer (1–20; default from the configuration).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 20)]
    pub top_k: Option<usize>,
    /// Skip the answer cache for this query (read and write).
    #[serde(default)]
    pub no_cache: bool,
    /// The caller's trace context (the HTTP layer reads it from `traceparent`); not part of the
    /// JSON body.
    #[serde(skip)]
    pub trace_parent: genai_telemetry::otel::Context,
}

/// An answer as cached: everything a client is shown except the trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CachedAnswer {
    pub text: String,
    pub short: Option<String>,
    pub refused: bool,
    #[schema(value_type = Vec<Object>)]
    pub citations: Vec<Value>,
    pub engine: String,
    pub flagged: Vec<String>,
    pub evidence: Option<f64>,
}

impl CachedAnswer {
    pub fn from_answer(a: &genai_answer::Answer) -> Self {
        Self {
            text: a.text.clone(),
            short: a.short.clone(),
            refused: a.refused,
            citations: a.citations.iter().map(citation_json).collect(),
            engine: a.engine.clone(),
            flagged: a.flagged.clone(),
            evidence: a.evidence,
        }
    }

    /// The documents the answer cites.
    pub fn cited_documents(&self) -> Vec<String> {
        let mut docs: Vec<String> =
            self.citations.iter().filter_map(|c| c["doc_id"].as_str().map(str::to_owned)).collect();
        docs.sort();
        docs.dedup();
        docs
    }
}

fn citation_json(c: &NumberedCitation) -> Value {
    serde_json::to_value(c).unwrap_or_default()
}

/// One stage's timing on the trace.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageTiming {
    /// `cache_exact`, `embed`, `cache_semantic`, `rewrite`, `retrieve`, `rerank`, `route`, `generate`,
    /// `check`, `cache_insert`.
    pub name: &'static str,
    /// Milliseconds from the start of the request.
    pub start_ms: f64,
    pub ms: f64,
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// What happened to one query, for the page's waterfall, logs and metrics.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Trace {
    /// `exact`, `semantic`, `miss`, `bypassed` or `off`.
    pub cache: &'static str,
    /// The cache decision's details (`null` when the cache is off).
    #[schema(value_type = Option<Object>)]
    pub cache_detail: Value,
    #[schema(value_type = Option<Object>)]
    pub route: Option<Route>,
    pub stages: Vec<StageTiming>,
    pub total_ms: f64,
    /// Milliseconds to the first streamed answer text.
    pub first_token_ms: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    /// The best passage's score after reranking.
    pub top_score: Option<f32>,
    /// The passages given to the answerer: source, score and rank before reranking.
    #[schema(value_type = Vec<Object>)]
    pub passages: Vec<Value>,
    #[serde(skip)]
    pub(crate) started: Instant,
    /// `started` on the wall clock, for span timestamps.
    #[serde(skip)]
    pub(crate) started_at: SystemTime,
    #[serde(skip)]
    pub(crate) parent: genai_telemetry::otel::Context,
}

impl Trace {
    fn new(started: Instant, parent: genai_telemetry::otel::Context) -> Self {
        Self {
            cache: "off",
            cache_detail: Value::Null,
            route: None,
            stages: Vec::new(),
            total_ms: 0.0,
            first_token_ms: None,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            top_score: None,
            passages: Vec::new(),
            started,
            started_at: SystemTime::now() - started.elapsed(),
            parent,
        }
    }

    pub(crate) fn since_start(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1e3
    }

    /// Records a stage that began at `from` and ended now.
    pub(crate) fn stage(&mut self, name: &'static str, from: Instant, detail: Value) {
        let ms = from.elapsed().as_secs_f64() * 1e3;
        let start_ms = from.duration_since(self.started).as_secs_f64() * 1e3;
        metrics::histogram!("rag_stage_seconds", "stage" => name).record(ms / 1e3);
        self.stages.push(StageTiming { name, start_ms, ms, detail });
    }

    fn set_cache(&mut self, decision: &Decision) {
        let (kind, detail) = match decision {
            Decision::Exact => ("exact", json!({})),
            Decision::Semantic { similarity, guard, matched } => {
                ("semantic", json!({ "similarity": similarity, "guard": guard, "matched": matched }))
            }
            Decision::Miss { best_similarity, rejected } => {
                ("miss", json!({ "best_similarity": best_similarity, "guard_rejected": rejected }))
            }
            Decision::Bypassed { reason } => ("bypassed", json!({ "reason": reason })),
        };
        self.cache = kind;
        self.cache_detail = detail;
    }
}

// ANCHOR: query_event
/// One event of a query's answer, in order: `delta`s (provisional text as it is generated),
/// possibly a `reset` (discard the deltas: the model failed and the offline answer follows),
/// one `answer` (the checked answer: authoritative), one `summary` (the trace).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum QueryEvent {
    Delta { text: String },
    Reset { reason: String },
    Answer(CachedAnswer),
    Summary(Box<Trace>),
}
// ANCHOR_END: query_event

/// `POST /v1/query` answered as one JSON object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueryResponse {
    pub query: String,
    #[serde(flatten)]
    pub answer: CachedAnswer,
    pub trace: Trace,
}

/// A validated query.
pub(crate) struct Prepared {
    pub query: String,
    pub filters: Filters,
    pub filter: Option<genai_retrieval::Filter>,
    pub top_k: usize,
    pub use_cache: bool,
}

impl Rag {
    fn prepare(&self, req: QueryRequest) -> Result<Prepared, RagError> {
        let query = req.query.trim().to_owned();
        let max = self.inner.config.max_query_chars;
        if query.is_empty() {
            return Err(RagError::InvalidQuery { reason: "the query is empty".into(), at: "/query" });
        }
        if query.chars().count() > max {
            return Err(RagError::InvalidQuery { reason: format!("the query is over {max} characters"), at: "/query" });
        }
        let top_k = req.top_k.unwrap_or(self.inner.config.top_k);
        if !(1..=20).contains(&top_k) {
            return Err(RagError::InvalidQuery { reason: "top_k must be 1-20".into(), at: "/top_k" });
        }
        let filters = req.filters.canonical();
        let filter = filters.to_filter()?;
        Ok(Prepared { query, filters, filter, top_k, use_cache: !req.no_cache })
    }

    /// Everything besides the question that an answer depends on.
    pub(crate) fn scope(&self, p: &Prepared) -> Scope {
        let c = &self.inner.config;
        let engine = match &self.inner.models {
            Some(m) => format!("llm:{}|{}", m.cheap.name(), m.strong.name()),
            None => "extractive".to_owned(),
        };
        Scope::new()
            .with("engine", engine)
            .with("prompt", &*crate::answer::PROMPT_VERSION)
            .with("filters", serde_json::to_string(&p.filters).unwrap_or_default())
            .with("corpus", self.inner.registry.version())
            .with(
                "settings",
                format!(
                    "k={} rerank={} prf={} rewrite={}",
                    p.top_k,
                    c.rerank_top_n,
                    c.expand_queries,
                    self.inner.rewriter.is_some()
                ),
            )
    }

    /// Runs a query: validation errors come back at once; everything after is a stream that
    /// always ends with an `answer` and a `summary`.
    pub async fn query(&self, mut req: QueryRequest) -> Result<BoxStream<'static, QueryEvent>, RagError> {
        let started = Instant::now();
        let parent = std::mem::take(&mut req.trace_parent);
        let p = self.prepare(req)?;
        let mut trace = Trace::new(started, parent);
        let scope = self.scope(&p);
        let cache = self.inner.cache.as_ref().filter(|_| p.use_cache);

        if let Some(cache) = cache {
            let t = Instant::now();
            let hit = cache.lookup(&scope, &p.query, None).await;
            trace.set_cache(&hit.decision);
            trace.stage("cache_exact", t, json!({ "decision": trace.cache }));
            if let Some(answer) = hit.value {
                return Ok(self.cached(answer, trace));
            }
        }
        let needs_vector =
            cache.is_some_and(|c| c.semantic_enabled()) || self.inner.mode != genai_retrieval::SearchMode::Keyword;
        let vector = if needs_vector {
            let t = Instant::now();
            let v = self.inner.retriever.embedder().embed_query(&p.query).await?;
            trace.stage("embed", t, json!({ "model": self.inner.retriever.embedder().model_id() }));
            Some(v)
        } else {
            None
        };
        // Retrieval starts now and runs while the semantic lookup does.
        let retrieval = {
            let (me, query, filter, k) = (self.clone(), p.query.clone(), p.filter.clone(), p.top_k);
            let v = vector.clone().filter(|_| me.inner.mode != genai_retrieval::SearchMode::Keyword);
            tokio::spawn(async move { me.retrieve(query, filter, k, v).await })
        };
        if let (Some(cache), Some(v)) = (cache, &vector)
            && cache.semantic_enabled()
        {
            let t = Instant::now();
            let hit = cache.lookup(&scope, &p.query, Some(v)).await;
            trace.set_cache(&hit.decision);
            trace.stage("cache_semantic", t, trace.cache_detail.clone());
            if let Some(answer) = hit.value {
                retrieval.abort();
                return Ok(self.cached(answer, trace));
            }
        }
        let retrieved =
            retrieval.await.map_err(|e| RagError::Internal(format!("the retrieval task failed: {e}")))??;
        for (name, t0, t1, detail) in retrieved.stages {
            let start_ms = t0.duration_since(started).as_secs_f64() * 1e3;
            let ms = t1.duration_since(t0).as_secs_f64() * 1e3;
            metrics::histogram!("rag_stage_seconds", "stage" => name).record(ms / 1e3);
            trace.stages.push(StageTiming { name, start_ms, ms, detail });
        }
        trace.top_score = retrieved.hits.first().map(|r| r.1);
        if let Some(s) = trace.top_score {
            metrics::histogram!("rag_top_score").record(f64::from(s));
        }
        trace.passages = retrieved
            .hits
            .iter()
            .map(|(h, score, fused)| {
                json!({ "source": h.chunk.source, "doc_id": h.chunk.doc_id, "score": score, "fused_rank": fused })
            })
            .collect();
        let hits: Vec<Hit> = retrieved.hits.into_iter().map(|(h, _, _)| h).collect();
        Ok(self.answer_stream(p, scope, vector, hits, retrieved.term_stats, trace))
    }

    /// A cached answer as a stream.
    fn cached(&self, answer: CachedAnswer, mut trace: Trace) -> BoxStream<'static, QueryEvent> {
        metrics::counter!("rag_queries_total", "cache" => trace.cache).increment(1);
        trace.first_token_ms = Some(trace.since_start());
        trace.total_ms = trace.since_start();
        crate::spans::export(&trace, crate::spans::Outcome::Cached);
        let events = vec![
            QueryEvent::Delta { text: answer.text.clone() },
            QueryEvent::Answer(answer),
            QueryEvent::Summary(Box::new(trace)),
        ];
        Box::pin(futures::stream::iter(events))
    }

    /// Hybrid (or BM25) search for the reranker's candidates, then the rerank.
    async fn retrieve(
        &self,
        query: String,
        filter: Option<genai_retrieval::Filter>,
        k: usize,
        vector: Option<Vec<f32>>,
    ) -> Result<Retrieved, RagError> {
        let inner = &self.inner;
        let wide = inner.reranking.as_ref().map_or(k, |r| r.top_n.max(k));
        let mut req = SearchRequest::new(query.clone(), inner.mode, wide);
        req.filter = filter;
        req.candidates = req.candidates.max(wide);
        if inner.config.expand_queries {
            req.prf = Some(genai_retrieval::rewrite::Prf::default());
        }
        let mut stages = Vec::new();
        let mut t = Instant::now();
        let hits = match &inner.rewriter {
            // The rewrite comes first (the searches need its queries); the stage is cut at the
            // moment the rewriter answered, so the waterfall shows the two apart.
            Some(rewriter) => {
                let (hits, outcome) = inner.retriever.search_rewritten(&req, rewriter).await?;
                let millis = match &outcome {
                    RewriteOutcome::Rewritten { millis, .. } | RewriteOutcome::Partial { millis, .. } => *millis,
                };
                let cut = t + Duration::from_secs_f64(millis / 1e3);
                stages.push(("rewrite", t, cut, serde_json::to_value(&outcome).unwrap_or_default()));
                t = cut;
                hits
            }
            None => inner.retriever.search_with_vector(&req, vector).await?,
        };
        let terms = genai_retrieval::terms(&query);
        let term_stats = inner.retriever.index().term_stats(&terms).await?;
        let end = Instant::now();
        stages.push((
            "retrieve",
            t,
            end,
            json!({ "mode": inner.mode, "candidates": hits.len(), "expanded": inner.config.expand_queries }),
        ));
        let mut out: Vec<(Hit, f32, usize)> = match &inner.reranking {
            Some(r) if !hits.is_empty() => {
                let ctx = RerankContext { term_stats: term_stats.clone() };
                let (reranked, outcome) = r.apply(&query, hits, &ctx).await;
                let detail = match &outcome {
                    RerankOutcome::Reranked { reranker, candidates, .. } => {
                        json!({ "reranker": reranker, "candidates": candidates })
                    }
                    RerankOutcome::Fallback { reranker, reason, .. } => {
                        json!({ "reranker": reranker, "fallback": reason })
                    }
                };
                stages.push(("rerank", end, Instant::now(), detail));
                reranked.into_iter().map(|r| (r.hit, r.score, r.fused_rank)).collect()
            }
            _ => hits
                .into_iter()
                .enumerate()
                .map(|(i, h)| {
                    let score = h.score;
                    (h, score, i)
                })
                .collect(),
        };
        out.truncate(k);
        Ok(Retrieved { hits: out, term_stats, stages })
    }
}

/// Passages with their reranked score and fused rank, and the stages' timings.
struct Retrieved {
    hits: Vec<(Hit, f32, usize)>,
    term_stats: Option<genai_retrieval::TermStats>,
    stages: Vec<(&'static str, Instant, Instant, Value)>,
}
