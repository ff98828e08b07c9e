//! An embedder in front of an index: ingestion and the three search modes.

use crate::rewrite::{LlmRewriter, Prf, RewriteOutcome};
use crate::{Filter, Fusion, Hit, Index, IndexError, Record, RerankContext, RerankOutcome, Reranked, Reranking, rrf};
use genai_core::Chunk;
use genai_embed::Embedder;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Embedding similarity only.
    Dense,
    /// BM25 only.
    Keyword,
    /// Both, fused with reciprocal rank fusion.
    #[default]
    Hybrid,
}

impl std::str::FromStr for SearchMode {
    type Err = IndexError;
    fn from_str(s: &str) -> Result<Self, IndexError> {
        match s {
            "dense" => Ok(Self::Dense),
            "keyword" | "bm25" => Ok(Self::Keyword),
            "hybrid" => Ok(Self::Hybrid),
            _ => Err(IndexError::InvalidRequest { reason: "mode must be dense, keyword (bm25) or hybrid" }),
        }
    }
}

/// A search. Defaults: hybrid, top 5, 100 candidates per leg, RRF k = 60 with equal weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchRequest {
    pub query: String,
    pub mode: SearchMode,
    pub k: usize,
    /// How many results each leg contributes to fusion (hybrid only).
    pub candidates: usize,
    pub filter: Option<Filter>,
    pub fusion: Fusion,
    /// Pseudo-relevance feedback on the keyword leg (keyword and hybrid modes).
    pub prf: Option<Prf>,
}

impl Default for SearchRequest {
    fn default() -> Self {
        Self {
            query: String::new(),
            mode: SearchMode::Hybrid,
            k: 5,
            candidates: 100,
            filter: None,
            fusion: Fusion::default(),
            prf: None,
        }
    }
}

impl SearchRequest {
    pub fn new(query: impl Into<String>, mode: SearchMode, k: usize) -> Self {
        Self { query: query.into(), mode, k, ..Self::default() }
    }
}

/// Upper bound on `k` and `candidates`, so one request cannot ask for the whole index.
const MAX_K: usize = 1_000;

/// Embeds and indexes chunks; embeds and runs queries.
#[derive(Debug, Clone)]
pub struct Retriever {
    embedder: Arc<dyn Embedder>,
    index: Arc<dyn Index>,
}

impl Retriever {
    /// Fails with [`IndexError::EmbedderMismatch`] if the index holds another model's vectors.
    pub fn new(embedder: Arc<dyn Embedder>, index: Arc<dyn Index>) -> Result<Self, IndexError> {
        let info = index.info();
        if info.model_id != embedder.model_id() || info.dim != embedder.dim() {
            return Err(IndexError::EmbedderMismatch {
                location: info.backend.to_owned(),
                stored_model: info.model_id.clone(),
                stored_dim: info.dim,
                requested_model: embedder.model_id().to_owned(),
                requested_dim: embedder.dim(),
            });
        }
        Ok(Self { embedder, index })
    }

    pub fn index(&self) -> &Arc<dyn Index> {
        &self.index
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Embeds and stores chunks with the given tenant and attributes. Durable on return.
    pub async fn add(
        &self,
        chunks: Vec<Chunk>,
        tenant: Option<&str>,
        attrs: &BTreeMap<String, Vec<String>>,
    ) -> Result<usize, IndexError> {
        let texts: Vec<String> = chunks.iter().map(|c| c.text.clone()).collect();
        let vectors = self.embedder.embed(&texts).await?;
        let records: Vec<Record> = chunks
            .into_iter()
            .zip(vectors)
            .map(|(chunk, vector)| Record { chunk, vector, tenant: tenant.map(str::to_owned), attrs: attrs.clone() })
            .collect();
        let n = records.len();
        self.index.upsert(records).await?;
        Ok(n)
    }

    /// Runs a search and returns up to `k` hits, best first.
    pub async fn search(&self, req: &SearchRequest) -> Result<Vec<Hit>, IndexError> {
        let vector = match req.mode {
            SearchMode::Keyword => None,
            SearchMode::Dense | SearchMode::Hybrid => Some(self.embedder.embed_query(&req.query).await?),
        };
        self.search_with_vector(req, vector).await
    }

    /// The keyword leg searched again with the query expanded from `first` (a first pass).
    async fn expanded_keyword(
        &self,
        req: &SearchRequest,
        prf: &Prf,
        first: &[crate::ScoredId],
        limit: usize,
    ) -> Result<Vec<crate::ScoredId>, IndexError> {
        let ids: Vec<_> = first.iter().take(prf.feedback_docs).map(|h| h.id).collect();
        let mut feedback = self.index.fetch(&ids).await?;
        for (hit, scored) in feedback.iter_mut().zip(first) {
            hit.score = scored.score;
        }
        let stats = self.index.term_stats(&prf.candidate_terms(&feedback)).await?;
        let weighted = prf.expand(&req.query, &feedback, stats.as_ref());
        Ok(stable_order(self.index.keyword_terms(&weighted, limit, req.filter.as_ref()).await?))
    }

    // ANCHOR: search_rewritten
    /// Asks `rewriter` for alternative queries and/or a hypothetical passage, searches each
    /// alternative like the original and the passage with the dense leg, and fuses every list
    /// with RRF. When the rewriter fails or is late, this is the original search.
    pub async fn search_rewritten(
        &self,
        req: &SearchRequest,
        rewriter: &LlmRewriter,
    ) -> Result<(Vec<Hit>, RewriteOutcome), IndexError> {
        let (rewrites, outcome) = rewriter.rewrite(&req.query).await;
        let n = req.candidates.max(req.k).min(MAX_K);
        let mut requests = vec![SearchRequest { k: n, ..req.clone() }];
        requests.extend(rewrites.queries.iter().map(|q| SearchRequest { query: q.clone(), k: n, ..req.clone() }));
        let mut lists = Vec::new();
        // The original query's leg scores stay on its hits (rerankers read them).
        let mut legs = std::collections::HashMap::new();
        for (i, r) in requests.iter().enumerate() {
            let hits = self.search(r).await?;
            lists.push(hits.iter().map(|h| crate::ScoredId { id: h.chunk.id, score: h.score }).collect::<Vec<_>>());
            if i == 0 {
                legs = hits.iter().map(|h| (h.chunk.id, (h.dense_score, h.keyword_score))).collect();
            }
        }
        if let Some(passage) = &rewrites.hypothetical {
            let vector = self.embedder.embed_query(passage).await?;
            lists.push(stable_order(self.index.dense(vector, n, req.filter.as_ref()).await?));
        }
        if lists.len() == 1 {
            let hits = self.search(req).await?;
            return Ok((hits, outcome));
        }
        let weighted: Vec<(&[crate::ScoredId], f32)> = lists.iter().map(|l| (l.as_slice(), 1.0)).collect();
        let fused = rrf(&weighted, req.fusion.k, req.k);
        let scores: std::collections::HashMap<_, _> = fused.iter().map(|h| (h.id, h.score)).collect();
        let mut hits = self.index.fetch(&fused.iter().map(|h| h.id).collect::<Vec<_>>()).await?;
        for h in &mut hits {
            h.score = scores.get(&h.chunk.id).copied().unwrap_or_default();
            (h.dense_score, h.keyword_score) = legs.get(&h.chunk.id).copied().unwrap_or_default();
        }
        Ok((hits, outcome))
    }
    // ANCHOR_END: search_rewritten

    // ANCHOR: search_and_rerank
    /// Searches for at least `reranking.top_n` candidates, reranks them (falling back to the
    /// fused order when the reranker fails or is late), and returns the best `req.k`.
    pub async fn search_and_rerank(
        &self,
        req: &SearchRequest,
        reranking: &Reranking,
    ) -> Result<(Vec<Reranked>, RerankOutcome), IndexError> {
        let wide = SearchRequest { k: req.k.max(reranking.top_n).min(MAX_K), ..req.clone() };
        let hits = self.search(&wide).await?;
        let ctx = RerankContext { term_stats: self.index.term_stats(&crate::terms(&req.query)).await? };
        let (mut out, outcome) = reranking.apply(&req.query, hits, &ctx).await;
        out.truncate(req.k);
        Ok((out, outcome))
    }
    // ANCHOR_END: search_and_rerank

    /// [`Retriever::search`] with the query already embedded (`None` for keyword mode); lets a
    /// caller embed once for several searches, and benchmarks time the index alone.
    pub async fn search_with_vector(
        &self,
        req: &SearchRequest,
        vector: Option<Vec<f32>>,
    ) -> Result<Vec<Hit>, IndexError> {
        if req.k == 0 || req.k > MAX_K || req.candidates > MAX_K {
            return Err(IndexError::InvalidRequest { reason: "k must be 1..=1000 and candidates at most 1000" });
        }
        if req.query.trim().is_empty() {
            return Err(IndexError::InvalidRequest { reason: "query is empty" });
        }
        let filter = req.filter.as_ref();
        let needs_vector = IndexError::InvalidRequest { reason: "dense and hybrid search need a query vector" };
        let (ranked, dense_scores, keyword_scores) = match req.mode {
            SearchMode::Dense => {
                let d = self.index.dense(vector.ok_or(needs_vector)?, req.k + TIE_SLACK, filter).await?;
                let d = top(stable_order(d), req.k);
                (d.clone(), d, Vec::new())
            }
            SearchMode::Keyword => {
                let mut k = stable_order(self.index.keyword(&req.query, req.k + TIE_SLACK, filter).await?);
                if let Some(prf) = &req.prf {
                    k = self.expanded_keyword(req, prf, &k, req.k + TIE_SLACK).await?;
                }
                let k = top(k, req.k);
                (k.clone(), Vec::new(), k)
            }
            SearchMode::Hybrid => {
                let n = req.candidates.max(req.k);
                let vector = vector.ok_or(needs_vector)?;
                let (dense, keyword) =
                    tokio::try_join!(self.index.dense(vector, n, filter), self.index.keyword(&req.query, n, filter))?;
                let (dense, mut keyword) = (stable_order(dense), stable_order(keyword));
                if let Some(prf) = &req.prf {
                    let first = rrf(
                        &[(&dense, req.fusion.dense_weight), (&keyword, req.fusion.keyword_weight)],
                        req.fusion.k,
                        prf.feedback_docs,
                    );
                    keyword = self.expanded_keyword(req, prf, &first, n).await?;
                }
                let fused = rrf(
                    &[(&dense, req.fusion.dense_weight), (&keyword, req.fusion.keyword_weight)],
                    req.fusion.k,
                    req.k,
                );
                (fused, dense, keyword)
            }
        };
        let ids: Vec<_> = ranked.iter().map(|h| h.id).collect();
        let by_id = |list: &[crate::ScoredId]| {
            list.iter().map(|h| (h.id, h.score)).collect::<std::collections::HashMap<_, _>>()
        };
        let (scores, dense, keyword) = (by_id(&ranked), by_id(&dense_scores), by_id(&keyword_scores));
        let mut hits = self.index.fetch(&ids).await?;
        for hit in &mut hits {
            let id = hit.chunk.id;
            hit.score = scores.get(&id).copied().unwrap_or_default();
            hit.dense_score = dense.get(&id).copied();
            hit.keyword_score = keyword.get(&id).copied();
        }
        Ok(hits)
    }
}

/// Extra results asked of a backend beyond `k`, so that which of several equal-score chunks
/// make the cut is decided here (by id), not by the backend's internal order.
const TIE_SLACK: usize = 8;

fn top(mut hits: Vec<crate::ScoredId>, k: usize) -> Vec<crate::ScoredId> {
    hits.truncate(k);
    hits
}

/// Orders a leg best first with ties broken by id, so both backends (and every run) rank equal
/// scores the same way. Scores equal to about 3e-5 relative count as tied: the engines sum the
/// same terms in different orders, which moves the last bits.
fn stable_order(mut hits: Vec<crate::ScoredId>) -> Vec<crate::ScoredId> {
    let coarse = |s: f32| f32::from_bits(s.to_bits() & !0xFF);
    hits.sort_by(|a, b| coarse(b.score).total_cmp(&coarse(a.score)).then(a.id.cmp(&b.id)));
    hits
}
