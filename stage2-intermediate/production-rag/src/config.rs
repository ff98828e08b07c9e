//! Configuration: documented defaults < a TOML file (`production-rag.toml`) < `PRODUCTION_RAG_*`
//! environment variables (`REDIS_URL`, `EMBED_MODEL_DIR` also read) < command-line flags.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which embedder indexes the documents (an index refuses another one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EmbedderChoice {
    /// Zero setup, lexical: searches are BM25 (a lexical dense leg only adds noise to fusion).
    Hashing,
    /// all-MiniLM-L6-v2 from a local folder (`scripts/fetch-minilm.sh`): hybrid search.
    Minilm,
}

/// Where cached answers live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CacheBackend {
    /// No answer cache.
    Off,
    /// In-process (lost on restart, one replica).
    Memory,
    /// `redis_url` (shared by replicas; a down Redis is bypassed, never a failed query).
    Redis,
}

/// Who writes the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AnswererChoice {
    /// A model when `OPENAI_BASE_URL`/`OPENAI_API_KEY` are set, otherwise extractive.
    Auto,
    /// Offline: the best supporting sentences, cited, or a refusal.
    Extractive,
    /// A model (routed by query complexity); the offline answer when it fails.
    Llm,
}

/// Everything the service can be told; every field has a documented default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Index, vector cache, document registry (default `data/production-rag`).
    pub data_dir: PathBuf,
    /// Default `hashing`.
    pub embedder: EmbedderChoice,
    /// MiniLM folder (default: `EMBED_MODEL_DIR`, then `models/all-MiniLM-L6-v2`).
    pub model_dir: Option<PathBuf>,
    /// Default `memory`.
    pub cache: CacheBackend,
    /// Redis for `cache = "redis"` (default `redis://127.0.0.1:6379/0`; `REDIS_URL` also read).
    pub redis_url: String,
    /// Seconds a cached answer lives (default 86,400).
    pub cache_ttl_secs: u64,
    /// Semantic lookups (guarded near-duplicate questions) besides exact ones (default true).
    pub semantic_cache: bool,
    /// Passages given to the answerer (default 5).
    pub top_k: usize,
    /// Candidates the reranker sees (default 20; 0 turns reranking off).
    pub rerank_top_n: usize,
    /// Reranker time budget in milliseconds; late means the fused order (default 200).
    pub rerank_budget_ms: u64,
    /// Pseudo-relevance feedback (offline query expansion) on the keyword leg (default false:
    /// measured neutral on SciFact; see the retrieval chapter).
    pub expand_queries: bool,
    /// Multi-query rewriting by the cheap model before retrieval, when a model is configured
    /// (default false: it adds a model call to every cache miss).
    pub rewrite: bool,
    /// Rewrite time budget in milliseconds; late or failed means the original query alone
    /// (default 800).
    pub rewrite_budget_ms: u64,
    /// Default `auto`.
    pub answerer: AnswererChoice,
    /// Model for simple questions (default: `OPENAI_MODEL`, else `gpt-4o-mini`).
    pub cheap_model: Option<String>,
    /// Model for complex questions (default: the cheap model: routing is then recorded only).
    pub strong_model: Option<String>,
    /// Complexity score at or above which a question goes to the strong model (default 0.5).
    pub route_threshold: f64,
    /// Chunk size and overlap in cl100k tokens (defaults 300 and 30).
    pub chunk_tokens: usize,
    pub chunk_overlap: usize,
    /// Longest accepted question in characters (default 2,000).
    pub max_query_chars: usize,
    /// Largest request body (default 20 MiB, for document uploads).
    pub max_body_bytes: usize,
    /// Share of live queries scored by the online evaluator, 0–1 (default 0.1).
    pub eval_sample_rate: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data/production-rag"),
            embedder: EmbedderChoice::Hashing,
            model_dir: None,
            cache: CacheBackend::Memory,
            redis_url: "redis://127.0.0.1:6379/0".into(),
            cache_ttl_secs: 86_400,
            semantic_cache: true,
            top_k: 5,
            rerank_top_n: 20,
            rerank_budget_ms: 200,
            expand_queries: false,
            rewrite: false,
            rewrite_budget_ms: 800,
            answerer: AnswererChoice::Auto,
            cheap_model: None,
            strong_model: None,
            route_threshold: 0.5,
            chunk_tokens: 300,
            chunk_overlap: 30,
            max_query_chars: 2_000,
            max_body_bytes: 20 * 1024 * 1024,
            eval_sample_rate: 0.1,
        }
    }
}

pub use genai_config::ConfigError;

/// The service's layers.
pub const LAYERS: genai_config::Layers<'static> = genai_config::Layers {
    default_file: "production-rag.toml",
    env_prefix: "PRODUCTION_RAG",
    aliases: &[("EMBED_MODEL_DIR", "model_dir"), ("REDIS_URL", "redis_url")],
    ignore: &["PRODUCTION_RAG_ADDR"],
};

impl Config {
    /// Defaults < `file` (or `production-rag.toml` in the working directory) < environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        LAYERS.load(file)
    }

    /// The MiniLM folder: the setting, else `models/all-MiniLM-L6-v2`.
    pub fn model_dir(&self) -> PathBuf {
        self.model_dir.clone().unwrap_or_else(|| PathBuf::from("models/all-MiniLM-L6-v2"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn file_then_environment_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("production-rag.toml");
        std::fs::write(&file, "top_k = 3\ncache = \"redis\"").unwrap();
        let c: Config = LAYERS.load_with_env(Some(&file), env(&[("REDIS_URL", "redis://10.0.0.1/1")])).unwrap();
        assert_eq!((c.top_k, c.cache, c.redis_url.as_str()), (3, CacheBackend::Redis, "redis://10.0.0.1/1"));
        let c: Config = LAYERS.load_with_env(Some(&file), env(&[("PRODUCTION_RAG_TOP_K", "8")])).unwrap();
        assert_eq!(c.top_k, 8);
        assert!(LAYERS.load_with_env::<Config>(None, env(&[("PRODUCTION_RAG_CACHE", "disk")])).is_err());
        std::fs::write(&file, "top_kk = 1").unwrap();
        assert!(LAYERS.load_with_env::<Config>(Some(&file), env(&[])).is_err(), "typos are errors");
    }
}
