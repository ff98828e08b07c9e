//! `ask`: an answer with citations from what the caller may see, through the answer cache
//! (`answer_cache.rs`), then the extractive answerer or the model tiers (`models.rs`).

use crate::auth::Member;
use crate::checks::{check_attrs, check_text};
use crate::content::distinct_docs;
use crate::policy::Attrs;
use crate::{Kb, KbError};
use genai_answer::Answerer;
use genai_cache::Decision;
use genai_retrieval::Hit;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::Ordering;
use utoipa::ToSchema;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    #[schema(min_length = 1, max_length = 2000)]
    pub question: String,
    #[serde(default)]
    pub filters: Attrs,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AskResponse {
    /// The answer; a model's carries `[n]` markers, the `number`s of `citations`.
    pub answer: String,
    pub refused: bool,
    /// The passages the answer quotes, all visible to the caller.
    pub citations: Vec<AskCitation>,
    /// `extractive`, or `llm:<model>` when a model wrote it.
    pub engine: String,
    /// With a model configured: which tier the question went to, and why.
    pub route: Option<AskRoute>,
    /// What the reader should know: removed citations, a fallback to the offline answer.
    pub flagged: Vec<String>,
    /// `exact` or `semantic` (served from the cache), `miss`, `bypass` (the cache store
    /// failed), or `off`.
    pub cache: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AskCitation {
    pub number: usize,
    pub document: String,
    pub title: String,
    /// The cited passage.
    pub text: String,
    /// The words of it that support the answer.
    pub quote: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AskRoute {
    /// `cheap` or `strong`.
    pub tier: String,
    /// The router's complexity score (0-1) and the signals that made it.
    pub score: f64,
    pub reasons: Vec<String>,
    /// The model the tier names (the engine says whether it answered).
    pub model: String,
}

fn decision_name(d: &Decision) -> &'static str {
    match d {
        Decision::Exact => "exact",
        Decision::Semantic { .. } => "semantic",
        Decision::Miss { .. } => "miss",
        Decision::Bypassed { .. } => "bypass",
    }
}

impl Kb {
    /// An answer with citations from what the caller may see: from the cache when the same
    /// question (or one the guard accepts as the same) was answered in the same scope, else
    /// extractive offline, or the cheap or strong model when one is configured.
    pub async fn ask(&self, m: &Member, req: AskRequest) -> Result<AskResponse, KbError> {
        check_text(&req.question, "/question", 2000)?;
        check_attrs(&req.filters, "/filters")?;
        self.check_tokens(m.tenant()).await?;
        let tenant = m.tenant();
        let key = self.data_key(tenant).await?;
        let cache = self.inner.cache.as_ref();
        let answerer = self.inner.models.as_ref().map_or_else(|| "extractive".to_owned(), |mo| mo.fingerprint());
        let answerer = format!("{answerer}/k{}", self.config().top_k);
        let scope = match cache {
            Some(c) => c.scope(tenant, &m.user.attributes, &req.filters, &answerer).await,
            None => None,
        };
        let vector = match (cache, &scope) {
            (Some(c), Some(_)) if c.semantic() => self
                .inner
                .retriever
                .embedder()
                .embed(std::slice::from_ref(&req.question))
                .await
                .ok()
                .and_then(|mut v| v.pop()),
            _ => None,
        };
        let mut cache_state = if cache.is_none() { "off" } else { "bypass" };
        if let (Some(c), Some(scope)) = (cache, &scope) {
            let (hit, decision) = c.lookup(&key, tenant, scope, &req.question, vector.as_deref()).await;
            cache_state = decision_name(&decision);
            if let Some(mut resp) = hit
                && self.still_visible(m, &resp).await?
            {
                resp.cache = cache_state.to_owned();
                let docs: Vec<String> =
                    resp.citations.iter().map(|c| c.document.clone()).fold(Vec::new(), |mut v, d| {
                        if !v.contains(&d) {
                            v.push(d);
                        }
                        v
                    });
                let detail = json!({"question_sha256": crate::auth::hash_secret(&req.question), "refused": resp.refused,
                    "tokens": 0, "engine": resp.engine, "cache": cache_state, "via": m.via});
                self.record(tenant, &m.user.id, "ask", docs, detail).await?;
                return Ok(resp);
            }
            if matches!(decision, Decision::Exact | Decision::Semantic { .. }) {
                cache_state = "miss";
            }
        }
        let resp = self.answer(m, &req, cache_state).await?;
        // A fallback answer written because the model failed is not kept: the model may be back.
        let fell_back = self.inner.models.is_some() && resp.engine == "extractive";
        if let (Some(c), Some(scope), false) = (cache, &scope, fell_back) {
            c.insert(&key, tenant, scope, &req.question, vector.as_deref(), &resp).await;
        }
        Ok(resp)
    }

    /// Retrieval and an answer, audited.
    async fn answer(&self, m: &Member, req: &AskRequest, cache_state: &str) -> Result<AskResponse, KbError> {
        let hits = self.allowed_hits(m, &req.question, self.config().top_k, &req.filters).await?;
        let plain: Vec<Hit> = hits.iter().map(|(h, _)| h.clone()).collect();
        let stats = match genai_answer::evidence_terms(&req.question) {
            terms if !terms.is_empty() => self.inner.retriever.index().term_stats(&terms).await?,
            _ => None,
        };
        let written = match &self.inner.models {
            Some(models) => models.answer(&req.question, &plain, stats.as_ref()).await,
            None => crate::models::Written {
                answer: self.inner.extractive.answer(&req.question, &plain, stats.as_ref()).await,
                route: None,
                model: None,
            },
        };
        let answer = written.answer;
        let citations = answer
            .citations
            .iter()
            .filter_map(|c| {
                let (h, title) = hits.iter().find(|(h, _)| h.chunk.id == c.citation.chunk_id)?;
                Some(AskCitation {
                    number: c.number,
                    document: h.chunk.source.clone(),
                    title: title.clone(),
                    text: h.chunk.text.clone(),
                    quote: c.citation.quote.clone(),
                })
            })
            .collect();
        // What a model answerer is sent and writes: the budget the token quota counts.
        let tokens = [req.question.as_str(), answer.text.as_str()]
            .into_iter()
            .chain(plain.iter().map(|h| h.chunk.text.as_str()))
            .map(genai_ingest::count_tokens)
            .sum::<usize>() as u64;
        self.spend_tokens(m.tenant(), tokens).await;
        let tier = written.route.as_ref().map(|r| r.tier);
        let detail = json!({"question_sha256": crate::auth::hash_secret(&req.question), "refused": answer.refused,
            "tokens": tokens, "engine": answer.engine, "tier": tier, "cache": cache_state, "via": m.via});
        self.record(m.tenant(), &m.user.id, "ask", distinct_docs(&hits), detail).await?;
        let route = written.route.map(|r| AskRoute {
            tier: if r.tier == genai_llm::route::Tier::Strong { "strong" } else { "cheap" }.to_owned(),
            score: r.score,
            reasons: r.reasons,
            model: written.model.unwrap_or_default(),
        });
        Ok(AskResponse {
            answer: answer.text,
            refused: answer.refused,
            citations,
            engine: answer.engine,
            route,
            flagged: answer.flagged,
            cache: cache_state.to_owned(),
        })
    }

    /// Drops the tenant's cached answers (a new epoch first). Called before a write to the
    /// corpus or policy, where a failure refuses the write (nothing changed yet), and after it,
    /// where a failure is logged: the pre-write call already moved the epoch.
    pub(crate) async fn forget_answers(&self, tenant: &str, before_write: bool) -> Result<(), KbError> {
        let Some(c) = &self.inner.cache else { return Ok(()) };
        match c.forget(tenant).await {
            Ok(()) => Ok(()),
            Err(e) if before_write => Err(e),
            Err(e) => {
                tracing::error!(tenant, error = %e, "the answer cache could not be emptied after a write");
                Ok(())
            }
        }
    }

    /// A cached answer is served only if every document it cites still exists with attributes
    /// the caller's policy allows; otherwise it is an alarm (the epoch should have prevented it)
    /// and a miss.
    async fn still_visible(&self, m: &Member, resp: &AskResponse) -> Result<bool, KbError> {
        let tenant = m.tenant();
        let policy = self.policy(tenant).await?;
        let ids: Vec<String> = resp.citations.iter().map(|c| c.document.clone()).collect();
        let registry = self.inner.store.attributes(tenant, &ids).await?;
        let ok =
            ids.iter().all(|id| registry.get(id).is_some_and(|(_, attrs)| policy.allows(&m.user.attributes, attrs)));
        if !ok {
            self.inner.alarms.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("tenant_kb_policy_alarms_total").increment(1);
            tracing::error!(tenant, "a cached answer cites a document the caller may no longer see; not served");
        }
        Ok(ok)
    }
}
