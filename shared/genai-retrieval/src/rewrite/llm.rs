//! Query rewriting with a model: multi-query (several phrasings of the need) and HyDE (Gao et al.
//! 2022: embed a hypothetical answer passage instead of the question). Both run through
//! genai-llm's resilient client, concurrently, under one latency budget; whatever fails or is
//! late is dropped and the search goes on with what arrived (at worst, the original query).

use genai_llm::{ChatModel, ChatRequest, ExtractOptions, Message, Resilient};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const MULTI_QUERY_PROMPT: &str = include_str!("../../prompts/multi_query.md");
pub const HYDE_PROMPT: &str = include_str!("../../prompts/hyde.md");

/// Which rewrites to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewriteMode {
    /// `n` alternative queries.
    MultiQuery { n: usize },
    /// One hypothetical passage, searched with the dense leg.
    Hyde,
    /// Both, concurrently.
    Both { n: usize },
}

/// What the model produced (empty when it failed).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rewrites {
    pub queries: Vec<String>,
    pub hypothetical: Option<String>,
}

/// How the rewrite went, for traces and pages.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RewriteOutcome {
    Rewritten {
        queries: usize,
        hyde: bool,
        millis: f64,
    },
    /// Something failed or ran late; `reasons` says what, and the search used what remained.
    Partial {
        queries: usize,
        hyde: bool,
        reasons: Vec<String>,
        millis: f64,
    },
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Queries {
    queries: Vec<String>,
}

/// Rewrites queries with a model. Defaults: multi-query with 3 rewrites, 1.5 s budget.
#[derive(Debug, Clone)]
pub struct LlmRewriter {
    model: Arc<Resilient>,
    pub mode: RewriteMode,
    pub budget: Duration,
}

impl LlmRewriter {
    pub fn new(model: Arc<Resilient>) -> Self {
        Self { model, mode: RewriteMode::MultiQuery { n: 3 }, budget: Duration::from_millis(1500) }
    }

    /// The messages of a multi-query request (snapshot-tested).
    pub fn multi_query_messages(query: &str, n: usize) -> Vec<Message> {
        vec![Message::system(MULTI_QUERY_PROMPT.replace("{n}", &n.to_string())), Message::user(query)]
    }

    /// The messages of a HyDE request (snapshot-tested).
    pub fn hyde_messages(query: &str) -> Vec<Message> {
        vec![Message::system(HYDE_PROMPT), Message::user(query)]
    }

    // ANCHOR: rewrite
    /// Asks for the configured rewrites concurrently within the budget.
    pub async fn rewrite(&self, query: &str) -> (Rewrites, RewriteOutcome) {
        let started = Instant::now();
        let (n, hyde) = match self.mode {
            RewriteMode::MultiQuery { n } => (n, false),
            RewriteMode::Hyde => (0, true),
            RewriteMode::Both { n } => (n, true),
        };
        let multi = async {
            if n == 0 {
                return Ok(Vec::new());
            }
            let opts = ExtractOptions { max_tokens: 300, max_reasks: 1, ..ExtractOptions::default() };
            let got = genai_llm::extract::<Queries>(&self.model, Self::multi_query_messages(query, n), &opts).await;
            got.map(|e| clean(query, e.value.queries, n)).map_err(|e| format!("multi-query: {e}"))
        };
        let hypothetical = async {
            if !hyde {
                return Ok(None);
            }
            let req =
                ChatRequest { max_tokens: 200, temperature: Some(0.0), ..ChatRequest::new(Self::hyde_messages(query)) };
            match self.model.chat(&req).await {
                Ok(r) if !r.text().trim().is_empty() => Ok(Some(r.text().trim().to_owned())),
                Ok(_) => Err("hyde: empty passage".to_owned()),
                Err(e) => Err(format!("hyde: {e}")),
            }
        };
        let both = async { tokio::join!(multi, hypothetical) };
        let (multi, hypothetical) = match tokio::time::timeout(self.budget, both).await {
            Ok(pair) => pair,
            Err(_) => {
                let late = format!("over its {} ms budget", self.budget.as_millis());
                (Err(late.clone()), Err(late))
            }
        };
        let mut reasons = Vec::new();
        let queries = multi.unwrap_or_else(|e| {
            reasons.push(e);
            Vec::new()
        });
        let hypothetical = hypothetical.unwrap_or_else(|e| {
            reasons.push(e);
            None
        });
        let millis = started.elapsed().as_secs_f64() * 1e3;
        let (count, has_hyde) = (queries.len(), hypothetical.is_some());
        if !reasons.is_empty() {
            metrics::counter!("rewrite_fallbacks_total").increment(1);
            tracing::warn!(?reasons, "query rewriting incomplete; searching with what arrived");
        }
        let outcome = if reasons.is_empty() {
            RewriteOutcome::Rewritten { queries: count, hyde: has_hyde, millis }
        } else {
            RewriteOutcome::Partial { queries: count, hyde: has_hyde, reasons, millis }
        };
        (Rewrites { queries, hypothetical }, outcome)
    }
    // ANCHOR_END: rewrite
}

/// Trims, drops empties, duplicates and echoes of the original, caps length and count.
fn clean(original: &str, queries: Vec<String>, n: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for q in queries {
        let q: String = q.trim().chars().take(300).collect();
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        if !q.is_empty() && !same(&q, original.trim()) && !out.iter().any(|o| same(o, &q)) {
            out.push(q);
        }
    }
    out.truncate(n);
    out
}
