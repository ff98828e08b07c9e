//! Settings: defaults, then `tenant-kb.toml` (or `--config`), then `TENANT_KB_*` variables.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Every setting, with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the registry, the embedded index, the audit log and the master key live.
    pub data_dir: PathBuf,
    /// The platform operator's bearer token for `/admin/v1/*`. Unset: one is generated on first
    /// start into `<data_dir>/admin.token` (mode 0600).
    pub admin_token: Option<String>,
    /// The master key (64 hex characters). Unset: `<data_dir>/master.key`, created on first start.
    pub master_key: Option<String>,
    /// PostgreSQL URL for the audit log (`DATABASE_URL` also sets it). Unset: SQLite in the data folder.
    pub audit_url: Option<String>,
    /// Qdrant server gRPC URL(s) for the index (`QDRANT_URL` also sets it). Unset: embedded.
    pub qdrant_url: Option<String>,
    /// The Qdrant collection holding every tenant's chunks (payload-partitioned by tenant).
    pub qdrant_collection: String,
    /// Shards and copies of each shard when the collection is created on a Qdrant cluster
    /// (unset: the server's defaults, one copy). With 2 copies a lost node loses no data.
    pub qdrant_shards: Option<u32>,
    pub qdrant_replication: Option<u32>,
    /// `hashing` (no model files) or `minilm` (all-MiniLM-L6-v2 from `model_dir`).
    pub embedder: String,
    pub model_dir: Option<PathBuf>,
    /// JWT verification: an HS256 shared secret ...
    pub jwt_hs256_secret: Option<String>,
    /// ... or an RS256 public key (PEM file) ...
    pub jwt_rs256_public_key: Option<PathBuf>,
    /// ... or a JWKS file (keys chosen by `kid`).
    pub jwks_file: Option<PathBuf>,
    /// Required `iss` claim, when set.
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, when set (then a token for another service is refused). Unset: the
    /// `aud` claim is not checked.
    pub jwt_audience: Option<String>,
    /// Passages per answer.
    pub top_k: usize,
    /// Largest document text accepted, in bytes.
    pub max_document_bytes: usize,
    /// Ingest worker tasks in this process.
    pub workers: usize,
    /// Jobs a tenant may have waiting or running before submissions get 429.
    pub max_queued_jobs: usize,
    /// Attempts before a job that keeps failing is marked failed.
    pub job_attempts: u32,
    /// How long a worker holds a job before another may take it over (a worker that died).
    pub job_lease_ms: u64,
    /// First retry delay; doubles per attempt, at most a minute.
    pub job_retry_base_ms: u64,
    /// The Tesseract command that OCRs scanned PDF pages (Debian: `apt install tesseract-ocr`).
    /// Empty: OCR off, and a page without a text layer is refused.
    pub ocr_command: String,
    /// Longest OCR of one image.
    pub ocr_timeout_secs: u64,
    /// NATS server for the shared job queue (JetStream; `NATS_URL` also sets it), so workers in
    /// several processes (`tenant-kb worker`) share the jobs. Unset: the registry is the queue.
    pub nats_url: Option<String>,
    /// The JetStream stream's name (subjects `<name>.jobs.<tenant>`).
    pub nats_stream: String,
    /// TLS: the certificate chain (PEM) and its private key (PEM). Both set: HTTPS only.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Redis for the quota counters, shared by every instance (`REDIS_URL` also sets it).
    /// Unset: counted in this process.
    pub redis_url: Option<String>,
    /// Prefix of the quota keys in Redis.
    pub redis_prefix: String,
    /// Requests per tenant per minute, across instances when Redis is set (0: unlimited).
    pub requests_per_minute: u64,
    /// Answer tokens (question, passages and answer) per tenant per day (0: unlimited).
    pub tokens_per_day: u64,
    /// Price per million tokens for the per-tenant cost metric (0: no cost recorded, as for the
    /// offline answerer; set it to the configured model's price).
    pub usd_per_million_tokens: f64,
    /// `auto` (a model when `OPENAI_BASE_URL` or `OPENAI_API_KEY` is set, else extractive),
    /// `extractive`, or `llm` (a model, and a start-up error without one).
    pub answerer: crate::models::AnswererChoice,
    /// The model simple questions go to (default: `OPENAI_MODEL`, else gpt-4o-mini).
    pub cheap_model: Option<String>,
    /// The model complex questions go to (default: the cheap one).
    pub strong_model: Option<String>,
    /// Complexity score (0-1) at or above which a question goes to the strong model.
    pub route_threshold: f64,
    /// Where answers are cached: `memory` (this process, default), `redis` (`redis_url`, shared
    /// by every instance) or `off`.
    pub cache: crate::CacheChoice,
    /// Life of a cached answer in seconds.
    pub cache_ttl_secs: u64,
    /// Prefix of the answer cache's keys.
    pub cache_namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data/tenant-kb"),
            admin_token: None,
            master_key: None,
            audit_url: None,
            qdrant_url: None,
            qdrant_collection: "tenant_kb_chunks".into(),
            qdrant_shards: None,
            qdrant_replication: None,
            embedder: "hashing".into(),
            model_dir: None,
            jwt_hs256_secret: None,
            jwt_rs256_public_key: None,
            jwks_file: None,
            jwt_issuer: None,
            jwt_audience: None,
            top_k: 5,
            max_document_bytes: 1024 * 1024,
            workers: 2,
            max_queued_jobs: 100,
            job_attempts: 5,
            job_lease_ms: 60_000,
            job_retry_base_ms: 1_000,
            ocr_command: "tesseract".into(),
            ocr_timeout_secs: 60,
            nats_url: None,
            nats_stream: "TENANT_KB".into(),
            tls_cert: None,
            tls_key: None,
            redis_url: None,
            redis_prefix: "tenant-kb:quota".into(),
            requests_per_minute: 1_200,
            tokens_per_day: 0,
            usd_per_million_tokens: 0.0,
            answerer: Default::default(),
            cheap_model: None,
            strong_model: None,
            route_threshold: 0.5,
            cache: Default::default(),
            cache_ttl_secs: 3_600,
            cache_namespace: "tenant-kb:answers".into(),
        }
    }
}

/// The layers this milestone reads.
pub const LAYERS: genai_config::Layers<'static> = genai_config::Layers {
    default_file: "tenant-kb.toml",
    env_prefix: "TENANT_KB",
    aliases: &[
        ("DATABASE_URL", "audit_url"),
        ("QDRANT_URL", "qdrant_url"),
        ("EMBED_MODEL_DIR", "model_dir"),
        ("REDIS_URL", "redis_url"),
        ("NATS_URL", "nats_url"),
    ],
    ignore: &["TENANT_KB_ADDR"],
};
