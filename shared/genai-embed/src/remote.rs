//! OpenAI-compatible remote embeddings (`POST {base}/embeddings`): OpenAI, Azure OpenAI, vLLM,
//! Ollama, llama.cpp, LM Studio, text-embeddings-inference.
//!
//! Production note: retries (429/5xx/timeouts, honouring `Retry-After`) are here; client-side
//! rate limiting and circuit breaking belong to the LLM layer (genai-llm) and are not applied to
//! embeddings yet.

use crate::{EmbedError, Embedder, l2_normalize};
use async_trait::async_trait;
use genai_core::backoff::{Backoff, parse_retry_after};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where and what to call. Defaults: `OPENAI_BASE_URL` or `https://api.openai.com/v1`,
/// `text-embedding-3-small` at 1536 dimensions, key from `OPENAI_API_KEY`, 128 inputs per request,
/// 30 s per request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteConfig {
    pub base_url: String,
    pub model: String,
    /// The vector length the model returns; checked on every response.
    pub dim: usize,
    /// Sent as `dimensions` (models that can shorten their vectors, e.g. text-embedding-3-*).
    pub request_dimensions: bool,
    /// Name of the environment variable holding the API key; the key itself never sits in config.
    pub api_key_env: String,
    pub max_batch: usize,
    pub timeout_ms: u64,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            base_url: std::env::var("OPENAI_BASE_URL").unwrap_or_else(|_| "https://api.openai.com/v1".into()),
            model: "text-embedding-3-small".into(),
            dim: 1536,
            request_dimensions: false,
            api_key_env: "OPENAI_API_KEY".into(),
            max_batch: 128,
            timeout_ms: 30_000,
        }
    }
}

#[derive(Debug)]
pub struct RemoteEmbedder {
    config: RemoteConfig,
    client: reqwest::Client,
    api_key: Option<String>,
    backoff: Backoff,
    id: String,
}

impl RemoteEmbedder {
    pub fn new(config: RemoteConfig) -> Result<Self, EmbedError> {
        Self::with_backoff(config, Backoff::default())
    }

    /// With a custom retry policy (tests use short delays).
    pub fn with_backoff(config: RemoteConfig, backoff: Backoff) -> Result<Self, EmbedError> {
        if config.dim == 0 || config.max_batch == 0 {
            return Err(EmbedError::Config { reason: "dim and max_batch must be positive" });
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build()
            .map_err(|source| EmbedError::Transport { source })?;
        let api_key = std::env::var(&config.api_key_env).ok().filter(|k| !k.is_empty());
        let id = format!("remote:{}/{}:{}", config.base_url.trim_end_matches('/'), config.model, config.dim);
        Ok(Self { config, client, api_key, backoff, id })
    }

    async fn call(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let url = format!("{}/embeddings", self.config.base_url.trim_end_matches('/'));
        let body = Request {
            model: &self.config.model,
            input: batch,
            encoding_format: "float",
            dimensions: self.config.request_dimensions.then_some(self.config.dim),
        };
        let mut retry = 0;
        loop {
            let mut req = self.client.post(&url).json(&body);
            if let Some(key) = &self.api_key {
                req = req.bearer_auth(key);
            }
            let (err, retry_after) = match req.send().await {
                Ok(resp) if resp.status().is_success() => {
                    let parsed: Response = resp.json().await.map_err(|source| EmbedError::Transport { source })?;
                    return self.check(parsed, batch.len());
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after =
                        resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
                    let mut text = resp.text().await.unwrap_or_default();
                    text.truncate(500);
                    (EmbedError::Remote { status, body: text }, retry_after)
                }
                Err(source) => (EmbedError::Transport { source }, None),
            };
            use genai_core::Classify;
            let delay = if err.class().is_retryable() { self.backoff.next_delay(retry, retry_after) } else { None };
            match delay {
                Some(d) => {
                    tracing::warn!(error = %err, retry, delay_ms = d.as_millis() as u64, "embedding call failed; retrying");
                    tokio::time::sleep(d).await;
                    retry += 1;
                }
                None => return Err(err),
            }
        }
    }

    fn check(&self, mut parsed: Response, expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        if parsed.data.len() != expected {
            return Err(EmbedError::WrongCount { expected, got: parsed.data.len() });
        }
        // The API returns `index` per item; do not trust the order.
        parsed.data.sort_by_key(|d| d.index);
        parsed
            .data
            .into_iter()
            .map(|d| {
                if d.embedding.len() != self.config.dim {
                    return Err(EmbedError::WrongDimension { expected: self.config.dim, got: d.embedding.len() });
                }
                let mut v = d.embedding;
                l2_normalize(&mut v);
                Ok(v)
            })
            .collect()
    }
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

#[async_trait]
impl Embedder for RemoteEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.config.dim
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.config.max_batch) {
            out.extend(self.call(batch).await?);
        }
        Ok(out)
    }
}
