//! The gateway's settings: defaults, then `cost-gateway.toml` (or `--config`), then
//! `COST_GATEWAY_*` variables (genai-config's one precedence rule), then flags.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub const LAYERS: genai_config::Layers<'static> = genai_config::Layers {
    default_file: "cost-gateway.toml",
    env_prefix: "COST_GATEWAY",
    aliases: &[("EMBED_MODEL_DIR", "model_dir")],
    ignore: &[],
};

/// Everything `cost-optimizer serve` reads. Defaults documented per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Listen address (default `127.0.0.1:8090`).
    pub addr: String,
    /// A policy file from `cost-optimizer eval --save-policy` (default none: requests for `auto`
    /// are routed by the hand-weighted complexity score between the cheap and strong tiers).
    pub policy: Option<PathBuf>,
    /// The complexity score at or above which `auto` goes to the strong tier (default 0.5).
    pub complexity_threshold: f64,
    /// all-MiniLM-L6-v2's folder when the policy was trained with it (default
    /// `$EMBED_MODEL_DIR`, then `models/all-MiniLM-L6-v2`).
    pub model_dir: Option<PathBuf>,
    /// Largest request body in bytes (default 1 MiB).
    pub max_body_bytes: usize,
    /// The most output tokens one call may ask for (default 32,768); a request asking for more
    /// is a 422. Lower it to bound what any one call can cost.
    pub max_output_tokens: u32,
    /// Attempts per upstream call, retries included (default 3).
    pub attempts: u32,
    /// Seconds one attempt may take (default 60).
    pub attempt_timeout_secs: f64,
    /// Ledger entries kept for `/v1/ledger` (default 1,000; totals count every call).
    pub ledger_entries: usize,
    pub cache: CacheSettings,
    /// The models behind the gateway. Default: one, from `OPENAI_BASE_URL` / `OPENAI_MODEL`,
    /// when those are set.
    pub upstreams: Vec<UpstreamConfig>,
    /// API keys and their budgets. None configured: the gateway is open (loopback use) and every
    /// call is charged to one `anonymous` budget of `open_budget_usd`.
    pub keys: Vec<KeyConfig>,
    /// The budget of the open gateway's `anonymous` key (default none: unlimited).
    pub open_budget_usd: Option<f64>,
    /// Where the `/cost` page reads `eval --out`'s report and plots (default
    /// `target/cost-report`).
    pub report_dir: PathBuf,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8090".into(),
            policy: None,
            complexity_threshold: 0.5,
            model_dir: None,
            max_body_bytes: 1 << 20,
            max_output_tokens: super::wire::MAX_OUTPUT_TOKENS,
            attempts: 3,
            attempt_timeout_secs: 60.0,
            ledger_entries: 1_000,
            cache: CacheSettings::default(),
            upstreams: Vec::new(),
            keys: Vec::new(),
            open_budget_usd: None,
            report_dir: PathBuf::from("target/cost-report"),
        }
    }
}

/// The exact answer cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// Serve repeated identical requests from the cache (default true). Only requests at
    /// temperature 0 (or unset) are cached: at a higher temperature a client asked for variety.
    pub enabled: bool,
    /// `redis://...` to share the cache between replicas (default: in process).
    pub redis_url: Option<String>,
    /// Life of an entry in seconds (default 86,400).
    pub ttl_secs: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self { enabled: true, redis_url: None, ttl_secs: 86_400 }
    }
}

/// Which side of the complexity router an upstream is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Cheap,
    Strong,
}

/// One model behind the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// What clients ask for and what a policy file calls the model (a policy trained on
    /// RouterBench names its models as RouterBench does, e.g. `gpt-4-1106-preview`).
    pub name: String,
    /// The model name sent to the server (default: `name`).
    #[serde(default)]
    pub model: Option<String>,
    /// The server's OpenAI-compatible base URL, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    /// The variable holding its API key (default none: no key sent).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// `cheap` or `strong` (default strong). The strong upstream is the always-strong baseline
    /// savings are counted against.
    #[serde(default = "strong")]
    pub tier: Tier,
    /// USD per million input and output tokens (default: genai-llm's price table for `model`;
    /// unknown models cost nothing, as on a local server).
    #[serde(default)]
    pub input_usd_per_mtok: Option<f64>,
    #[serde(default)]
    pub output_usd_per_mtok: Option<f64>,
}

fn strong() -> Tier {
    Tier::Strong
}

/// One API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// A name for logs, metrics and the ledger (never the key itself).
    pub id: String,
    /// The key's SHA-256, hex (`printf %s "$KEY" | sha256sum`): the file need not hold the key.
    #[serde(default)]
    pub key_sha256: Option<String>,
    /// Or the key itself (development only: the file then holds a secret).
    #[serde(default)]
    pub key: Option<String>,
    /// The most this key may spend, in USD, over the gateway's life (default none: unlimited).
    #[serde(default)]
    pub budget_usd: Option<f64>,
}
