//! A cross-encoder served over HTTP. Two request shapes cover the common servers:
//!
//! - `cohere` (Cohere, Jina, vLLM, Infinity): `POST {base}/rerank` with
//!   `{"model", "query", "documents": [..], "top_n"}`, answering
//!   `{"results": [{"index", "relevance_score"}]}`;
//! - `tei` (Hugging Face text-embeddings-inference): `POST {base}/rerank` with
//!   `{"query", "texts": [..]}`, answering `[{"index", "score"}]`.
//!
//! Any failure is a [`RerankError`]; [`Reranking`](super::Reranking) turns it into the fused order.

use super::{RerankContext, RerankError, Reranked, Reranker};
use crate::Hit;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Which request shape the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RerankApi {
    #[default]
    Cohere,
    Tei,
}

/// Where the reranker is. Defaults: Cohere shape, model `rerank`, 2 s timeout, no key.
#[derive(Debug, Clone)]
pub struct RemoteRerankerConfig {
    /// Base URL; `/rerank` is appended (`http://localhost:8080`, `https://api.jina.ai/v1`).
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub api: RerankApi,
    pub timeout: Duration,
}

impl RemoteRerankerConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: "rerank".into(),
            api_key: None,
            api: RerankApi::Cohere,
            timeout: Duration::from_secs(2),
        }
    }
}

#[derive(Debug)]
pub struct RemoteReranker {
    config: RemoteRerankerConfig,
    name: String,
    http: reqwest::Client,
}

impl RemoteReranker {
    pub fn new(config: RemoteRerankerConfig) -> Result<Self, RerankError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| RerankError::Remote { url: config.base_url.clone(), reason: e.to_string() })?;
        Ok(Self { name: format!("remote:{}", config.model), config, http })
    }

    fn url(&self) -> String {
        format!("{}/rerank", self.config.base_url.trim_end_matches('/'))
    }

    async fn scores(&self, query: &str, docs: Vec<&str>) -> Result<Vec<(usize, f32)>, RerankError> {
        let url = self.url();
        let fail = |reason: String| RerankError::Remote { url: url.clone(), reason };
        let body = match self.config.api {
            RerankApi::Cohere => {
                json!({"model": self.config.model, "query": query, "documents": docs, "top_n": docs.len()})
            }
            RerankApi::Tei => json!({"query": query, "texts": docs, "truncate": true}),
        };
        let mut req = self.http.post(&url).json(&body);
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| fail(e.to_string()))?;
        if !status.is_success() {
            let snippet: String = text.chars().take(200).collect();
            return Err(fail(format!("HTTP {status}: {snippet}")));
        }
        #[derive(Deserialize)]
        struct Item {
            index: usize,
            #[serde(alias = "relevance_score")]
            score: f32,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Body {
            Results { results: Vec<Item> },
            List(Vec<Item>),
        }
        let items = match serde_json::from_str::<Body>(&text).map_err(|e| fail(format!("unreadable answer: {e}")))? {
            Body::Results { results } => results,
            Body::List(list) => list,
        };
        Ok(items.into_iter().map(|i| (i.index, i.score)).collect())
    }
}

#[async_trait]
impl Reranker for RemoteReranker {
    fn name(&self) -> &str {
        &self.name
    }

    async fn rerank(
        &self,
        query: &str,
        candidates: Vec<Hit>,
        _ctx: &RerankContext,
    ) -> Result<Vec<Reranked>, RerankError> {
        let docs: Vec<&str> = candidates.iter().map(|h| h.chunk.text.as_str()).collect();
        let scores = self.scores(query, docs).await?;
        let mut seen = vec![false; candidates.len()];
        if scores.len() != candidates.len()
            || scores.iter().any(|&(i, s)| i >= seen.len() || std::mem::replace(&mut seen[i], true) || !s.is_finite())
        {
            return Err(RerankError::Malformed { sent: candidates.len(), got: scores.len() });
        }
        let mut by_index = vec![0.0; candidates.len()];
        for (i, s) in scores {
            by_index[i] = s;
        }
        let mut out: Vec<Reranked> = candidates
            .into_iter()
            .enumerate()
            .map(|(i, hit)| Reranked {
                hit,
                score: by_index[i],
                fused_rank: i,
                evidence: vec![("cross_encoder".into(), by_index[i])],
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.fused_rank.cmp(&b.fused_rank)));
        Ok(out)
    }
}
