//! `cost-optimizer serve`: an OpenAI-compatible gateway that spends less.
//!
//! ```text
//! client ─▶ key + budget ─▶ parse ─▶ exact cache ─▶ decide ─────────────▶ upstream(s) ─▶ ledger, metrics
//!                                                    requested model      (genai-llm: retries, breaker,
//!                                                    policy: kNN/boosted   budget reservations)
//!                                                    policy: cascade
//!                                                    complexity score
//! ```
//!
//! - [`config`]: settings (file, environment, flags); [`keys`]: API keys and budgets;
//!   [`wire`]: the OpenAI request and answer format; [`handle`]: one request end to end;
//!   [`api`]: HTTP, OpenAPI, metrics.
//! - Every upstream call goes through genai-llm's `Resilient`, charged to the caller's budget
//!   (held before it is sent, settled at its cost), and lands in the gateway's ledger with what
//!   the same answer would have cost from the strong upstream.

pub mod api;
pub mod command;
pub mod config;
pub mod handle;
pub mod keys;
pub mod ledger;
pub mod page;
pub mod replay;
pub mod wire;

pub use api::{router, serve};
pub use config::{GatewayConfig, Tier, UpstreamConfig};

use crate::policy::SavedPolicy;
use config::KeyConfig;
use genai_cache::{AnswerCache, CacheConfig, StoreSpec};
use genai_embed::{Embedder, EmbedderSpec};
use genai_llm::route::ComplexityRouter;
use genai_llm::{ChatResponse, OpenAiConfig, OpenAiModel, Price, PriceTable, ResilienceConfig, Resilient};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One model behind the gateway.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub name: String,
    pub tier: Tier,
    pub model: Resilient,
    /// The name prices key on (what is sent upstream).
    pub wire_model: String,
}

/// A policy file with what applying it needs.
pub struct LivePolicy {
    pub saved: SavedPolicy,
    pub embedder: Arc<dyn Embedder>,
    /// Policy model index → upstream index.
    pub upstream_of: Vec<Option<usize>>,
    pub available: Vec<bool>,
}

/// What the cache keeps for a request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedReply {
    pub response: ChatResponse,
    /// The upstream that answered.
    pub served_by: String,
}

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("no upstream: add [[upstreams]] to the config file, or set OPENAI_BASE_URL")]
    NoUpstream,
    #[error("upstream {name}: {reason}")]
    Upstream { name: String, reason: String },
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    #[error("policy: {0}")]
    PolicyUse(String),
    #[error("cache: {0}")]
    Cache(String),
}

/// The gateway's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: GatewayConfig,
    pub upstreams: Vec<Upstream>,
    pub by_name: HashMap<String, usize>,
    /// The always-strong baseline, and where complexity routing sends simple prompts.
    pub strong: usize,
    pub cheap: usize,
    pub policy: Option<LivePolicy>,
    pub complexity: ComplexityRouter,
    pub keys: keys::Keys,
    pub cache: Option<AnswerCache<CachedReply>>,
    pub prices: Arc<PriceTable>,
    pub ledger: ledger::RequestLedger,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("upstreams", &self.inner.upstreams.iter().map(|u| &u.name).collect::<Vec<_>>())
            .field("policy", &self.inner.policy.as_ref().map(|p| &p.saved))
            .finish()
    }
}

fn upstream_from_env() -> Option<UpstreamConfig> {
    let base_url = std::env::var("OPENAI_BASE_URL").ok().filter(|v| !v.is_empty())?;
    let name = std::env::var("OPENAI_MODEL").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| "gpt-4o-mini".into());
    Some(UpstreamConfig {
        name,
        model: None,
        base_url,
        api_key_env: Some("OPENAI_API_KEY".into()),
        tier: Tier::Strong,
        input_usd_per_mtok: None,
        output_usd_per_mtok: None,
    })
}

fn prices(upstreams: &[UpstreamConfig]) -> Result<PriceTable, SetupError> {
    let mut table = PriceTable::default();
    for u in upstreams {
        let wire = u.model.clone().unwrap_or_else(|| u.name.clone());
        if u.input_usd_per_mtok.is_none() && u.output_usd_per_mtok.is_none() {
            continue; // the price table's, if it knows the model
        }
        let known = table.price(&wire);
        let input = u.input_usd_per_mtok.or(known.map(|k| k.input)).unwrap_or(0.0);
        let output = u.output_usd_per_mtok.or(known.map(|k| k.output)).unwrap_or(0.0);
        if !(input.is_finite() && output.is_finite() && input >= 0.0 && output >= 0.0) {
            return Err(SetupError::Upstream {
                name: u.name.clone(),
                reason: "prices must be non-negative numbers".into(),
            });
        }
        table.models.insert(wire, Price { input, cached_input: input, output });
    }
    table.source = format!("{}; with the gateway's configured upstream prices", table.source);
    Ok(table)
}

impl Gateway {
    /// Builds the gateway from settings: upstream clients, keys, the policy (and its embedder),
    /// the cache. Nothing is contacted yet.
    pub fn new(config: GatewayConfig) -> Result<Self, SetupError> {
        // Record metrics from the first request on (installs the Prometheus recorder once).
        let _ = genai_telemetry::prometheus();
        let configs: Vec<UpstreamConfig> = if config.upstreams.is_empty() {
            upstream_from_env().into_iter().collect()
        } else {
            config.upstreams.clone()
        };
        if configs.is_empty() {
            return Err(SetupError::NoUpstream);
        }
        let prices = Arc::new(prices(&configs)?);
        let mut resilience = ResilienceConfig::default();
        resilience.backoff.max_attempts = config.attempts.max(1);
        resilience.attempt_timeout = Duration::from_secs_f64(config.attempt_timeout_secs.clamp(0.05, 3_600.0));
        resilience.deadline = resilience.attempt_timeout * resilience.backoff.max_attempts + Duration::from_secs(10);
        let shared_ledger = Arc::new(genai_llm::Ledger::bounded(config.ledger_entries));
        let mut upstreams = Vec::new();
        let mut by_name = HashMap::new();
        for u in &configs {
            let wire_model = u.model.clone().unwrap_or_else(|| u.name.clone());
            let client = OpenAiModel::new(&OpenAiConfig {
                base_url: u.base_url.clone(),
                model: wire_model.clone(),
                api_key_env: u.api_key_env.clone().unwrap_or_else(|| "COST_GATEWAY_NO_KEY".into()),
                ..OpenAiConfig::default()
            })
            .map_err(|e| SetupError::Upstream { name: u.name.clone(), reason: e.to_string() })?;
            let model = Resilient::new(Arc::new(client), resilience.clone(), prices.clone())
                .with_ledger(shared_ledger.clone())
                .with_route(format!("gateway:{}", u.name));
            if by_name.insert(u.name.clone(), upstreams.len()).is_some() || u.name == "auto" {
                return Err(SetupError::Upstream {
                    name: u.name.clone(),
                    reason: "names must be unique and not `auto`".into(),
                });
            }
            upstreams.push(Upstream { name: u.name.clone(), tier: u.tier, model, wire_model });
        }
        let worst = |i: usize| prices.worst_case(&upstreams[i].wire_model, 1_000, 1_000);
        let dearest = |pick: &dyn Fn(&Upstream) -> bool, most: bool| {
            (0..upstreams.len()).filter(|&i| pick(&upstreams[i])).max_by(|&a, &b| {
                let o = worst(a).total_cmp(&worst(b));
                if most { o.then(b.cmp(&a)) } else { o.reverse().then(b.cmp(&a)) }
            })
        };
        let strong = dearest(&|u| u.tier == Tier::Strong, true).or_else(|| dearest(&|_| true, true)).unwrap_or(0);
        let cheap = dearest(&|u| u.tier == Tier::Cheap, false).unwrap_or(strong);
        let policy = match &config.policy {
            Some(path) => Some(live_policy(SavedPolicy::load(path)?, &by_name, &config)?),
            None => None,
        };
        // Production note: exact only; the semantic cache's pair guard was trained on questions,
        // not on whole prompts with instructions, so it is not used here.
        let cache = if config.cache.enabled {
            let spec = match &config.cache.redis_url {
                Some(url) => StoreSpec::Redis { url: url.clone() },
                None => StoreSpec::Memory,
            };
            let store = genai_cache::store::open(&spec).map_err(|e| SetupError::Cache(e.to_string()))?;
            let settings = CacheConfig {
                namespace: "cost-gateway".into(),
                ttl_secs: config.cache.ttl_secs,
                semantic: false,
                ..CacheConfig::default()
            };
            Some(AnswerCache::new(store, settings))
        } else {
            None
        };
        let keys = keys::Keys::new(&config.keys, config.open_budget_usd)?;
        let ledger = ledger::RequestLedger::new(config.ledger_entries);
        let complexity = ComplexityRouter::new(config.complexity_threshold);
        let inner =
            Inner { config, upstreams, by_name, strong, cheap, policy, complexity, keys, cache, prices, ledger };
        Ok(Self { inner: Arc::new(inner) })
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.inner.config
    }

    /// The request ledger: recent requests and totals per key.
    pub fn ledger(&self) -> &ledger::RequestLedger {
        &self.inner.ledger
    }

    /// The configured keys' ids and budgets (for tests and `/v1/spend`).
    pub fn key_configs(&self) -> &[KeyConfig] {
        &self.inner.config.keys
    }
}

fn live_policy(
    saved: SavedPolicy,
    by_name: &HashMap<String, usize>,
    config: &GatewayConfig,
) -> Result<LivePolicy, SetupError> {
    let upstream_of: Vec<Option<usize>> = saved.models.iter().map(|m| by_name.get(m).copied()).collect();
    let available: Vec<bool> = upstream_of.iter().map(Option::is_some).collect();
    if let crate::policy::PolicyKind::Cascade { chain, .. } = &saved.kind {
        // Each step's scorer was trained on the answers of the steps before it: every step
        // needs its upstream.
        let missing: Vec<&str> = chain.iter().filter(|&&m| !available[m]).map(|&m| saved.models[m].as_str()).collect();
        if !missing.is_empty() {
            return Err(SetupError::PolicyUse(format!(
                "the cascade asks {missing:?}: configure an upstream named after each"
            )));
        }
    } else if !available.iter().any(|&a| a) {
        return Err(SetupError::PolicyUse(format!(
            "no upstream is named after any of the policy's models {:?}",
            saved.models
        )));
    }
    let spec = if saved.embedder.starts_with("hashing") {
        EmbedderSpec::default()
    } else {
        EmbedderSpec::Minilm { dir: config.model_dir.clone(), threads: None }
    };
    let embedder =
        genai_embed::build(&spec).map_err(|e| SetupError::PolicyUse(format!("loading its embedder: {e}")))?;
    if embedder.model_id() != saved.embedder || embedder.dim() != saved.dim {
        return Err(SetupError::PolicyUse(format!(
            "trained with embedder {} ({} dims), loaded {} ({} dims)",
            saved.embedder,
            saved.dim,
            embedder.model_id(),
            embedder.dim()
        )));
    }
    Ok(LivePolicy { saved, embedder, upstream_of, available })
}
