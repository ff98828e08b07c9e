//! The multi-model strategy for answers. Offline, the extractive answerer (genai-answer) writes
//! every answer from the passages. With a model server configured (any OpenAI-compatible one,
//! through genai-llm's resilience stack: timeouts, retries, circuit breaker), a question goes to
//! the cheap model or the strong one by genai-llm's complexity router, and doc-qa's model
//! answerer writes the answer from the same passages, checks every citation, and falls back to
//! the extractive answer (flagged) when the model fails. Either way the model only ever sees
//! passages that passed the caller's policy twice: the filter in the index and the check after.
//!
//! Production note: both tiers share the service-wide configuration; per-tenant model choices
//! (a tenant on its own deployment, a region-pinned endpoint) would be a row in the tenant
//! record naming the endpoint, read here. The token quota counts cl100k tokens of what is sent
//! and written, which differs a little from a provider's own count.

use crate::{Config, KbError};
use doc_qa::answer::LlmAnswerer;
use genai_answer::{Answer, Answerer, Extractive};
use genai_llm::route::{ComplexityRouter, Route, Tier};
use genai_llm::{ChatModel, OpenAiConfig, OpenAiModel, PriceTable, ResilienceConfig, Resilient};
use genai_retrieval::{Hit, TermStats};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Which answerer `ask` uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswererChoice {
    /// A model when `OPENAI_BASE_URL` or `OPENAI_API_KEY` is set, the extractive one otherwise.
    #[default]
    Auto,
    Extractive,
    /// A model, and a start-up error when none is configured.
    Llm,
}

/// The two model tiers and the router between them.
#[derive(Debug, Clone)]
pub struct Models {
    cheap: LlmAnswerer,
    strong: LlmAnswerer,
    cheap_name: String,
    strong_name: String,
    router: ComplexityRouter,
}

/// How an answer was written: the route taken (with a model) and the engine that wrote it.
#[derive(Debug, Clone)]
pub struct Written {
    pub answer: Answer,
    pub route: Option<Route>,
    /// The model the route chose (the engine says whether it answered or the fallback did).
    pub model: Option<String>,
}

impl Models {
    /// `cheap` answers simple questions, `strong` (default: `cheap`) the ones the router scores
    /// at or above `threshold`; both fall back to `fallback`.
    pub fn new(cheap: Resilient, strong: Option<Resilient>, fallback: Extractive, threshold: f64) -> Self {
        let strong = strong.unwrap_or_else(|| cheap.clone());
        Self {
            cheap_name: cheap.name().to_owned(),
            strong_name: strong.name().to_owned(),
            cheap: LlmAnswerer::new(cheap.with_route("tenant-kb.answer.cheap"), fallback.clone()),
            strong: LlmAnswerer::new(strong.with_route("tenant-kb.answer.strong"), fallback),
            router: ComplexityRouter::new(threshold),
        }
    }

    /// The models the configuration and environment name, or `None` for the offline answerer.
    pub fn from_config(config: &Config, fallback: &Extractive) -> Result<Option<Self>, KbError> {
        let configured = genai_llm::configured_in_env();
        match config.answerer {
            AnswererChoice::Extractive => return Ok(None),
            AnswererChoice::Auto if !configured => return Ok(None),
            AnswererChoice::Llm if !configured => {
                return Err(KbError::Setup("answerer = llm needs OPENAI_BASE_URL or OPENAI_API_KEY".into()));
            }
            _ => {}
        }
        let cheap = model_named(config.cheap_model.as_deref())?;
        let strong = match &config.strong_model {
            Some(name) => Some(model_named(Some(name))?.with_ledger(cheap.ledger().clone())),
            None => None,
        };
        let models = Self::new(cheap, strong, fallback.clone(), config.route_threshold);
        tracing::info!(cheap = models.cheap_name, strong = models.strong_name, "model answerer");
        Ok(Some(models))
    }

    /// What identifies these answerers in cache scopes: the models and the routing threshold.
    pub fn fingerprint(&self) -> String {
        format!("llm:{}|{}|{}", self.cheap_name, self.strong_name, self.router.threshold)
    }

    pub async fn answer(&self, question: &str, hits: &[Hit], stats: Option<&TermStats>) -> Written {
        let route = self.router.route(question);
        let (answerer, name) = match route.tier {
            Tier::Cheap => (&self.cheap, &self.cheap_name),
            Tier::Strong => (&self.strong, &self.strong_name),
        };
        let answer = answerer.answer(question, hits, stats).await;
        if answer.engine == "extractive" {
            metrics::counter!("tenant_kb_model_fallbacks_total").increment(1);
        }
        Written { answer, model: Some(name.clone()), route: Some(route) }
    }
}

/// A model named `name` (default: `OPENAI_MODEL`, else genai-llm's default) on the configured
/// server, with the full resilience stack.
fn model_named(name: Option<&str>) -> Result<Resilient, KbError> {
    let mut config = OpenAiConfig::default();
    if let Some(n) = name {
        config.model = n.to_owned();
    }
    let model = OpenAiModel::new(&config).map_err(|e| KbError::Setup(format!("model: {e}")))?;
    Ok(Resilient::new(Arc::new(model), ResilienceConfig::default(), Arc::new(PriceTable::default())))
}
