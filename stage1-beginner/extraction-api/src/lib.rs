//! Milestone 2: a structured-extraction API.
//!
//! Text in, entities out: each with its type, value, exact character span, confidence and the
//! engine that found it, shaped by a named schema or the caller's JSON Schema. Two engines sit
//! behind one trait: offline recognisers (genai-guard, the default) and an LLM through
//! genai-llm's structured output, whose every value must be found in the input (span-resolved)
//! or is dropped and reported. A prompt-injection guard runs before any model call.
//!
//! ```text
//! POST /v1/extract ─▶ parse + limits ─▶ schema (named | inline, compiled) ─▶ guard
//!                       (4xx here)         (422 if invalid / unsatisfiable)   │
//!        ┌────────────────────────────────────────────────────────────────────┘
//!        ├─ offline: recognisers ─▶ fields
//!        └─ llm: JSON-Schema answer ─▶ re-ask on invalid ─▶ span resolution ─▶ fields
//! ```

pub mod api;
pub mod cli;
pub mod engine;
pub mod eval;
pub mod model;
pub mod schemas;

pub use engine::{Engine, EngineKind, LlmEngine, OfflineEngine};
pub use model::{Entity, ExtractRequest, ExtractResponse, RedactRequest, RedactResponse};

use genai_core::{Classify, ErrorClass};
use genai_guard::{Analyzer, InjectionDetector, RedactMode, Redactor};
use std::sync::Arc;

/// Why an extraction failed, classified by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("text is empty")]
    EmptyText,
    #[error("text is {chars} characters; the limit is {limit}")]
    TextTooLong { chars: usize, limit: usize },
    #[error(
        "the prompt would be {tokens} tokens, and with {reserve} for the answer it does not fit the model's \
         {window}-token context window; send a shorter text or use \"engine\": \"offline\""
    )]
    TooLongForModel { tokens: u64, reserve: u32, window: u64 },
    #[error("unknown schema `{0}`; GET /v1/schemas lists the named schemas")]
    UnknownSchema(String),
    #[error("give either `schema` (a name) or `json_schema` (an inline JSON Schema), not both")]
    TwoSchemas,
    #[error("invalid JSON Schema at `{pointer}`: {message}")]
    InvalidSchema { pointer: String, message: String },
    #[error("the {engine} engine cannot fill {fields}; {hint}")]
    Unsatisfiable { engine: &'static str, fields: String, hint: &'static str },
    #[error(
        "the llm engine is not configured on this server (set OPENAI_BASE_URL or OPENAI_API_KEY); use \"engine\": \"offline\""
    )]
    LlmNotConfigured,
    #[error("the text was flagged as a prompt injection (score {score:.2}): {}", reasons.join("; "))]
    Injection { score: f32, reasons: Vec<String> },
    #[error("the model could not produce a valid answer: {0}")]
    Model(#[source] genai_llm::LlmError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Classify for ExtractError {
    fn class(&self) -> ErrorClass {
        match self {
            ExtractError::TextTooLong { .. } | ExtractError::TooLongForModel { .. } => ErrorClass::Budget,
            ExtractError::Model(e) => e.class(),
            ExtractError::Internal(_) => ErrorClass::Permanent,
            _ => ErrorClass::InvalidInput,
        }
    }
}

/// Limits and keys. Defaults documented on each field; `extraction-api.toml` and
/// `EXTRACT_*` environment variables override them (see [`cli`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Request bodies over this many bytes get 413. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Texts over this many characters get 413. Default 100,000.
    pub max_text_chars: usize,
    /// Key of the redaction HMAC (hash and pseudonym modes). Default: a development key, with a
    /// warning at start-up.
    ///
    /// Production note: the default key is public, so its pseudonyms can be recomputed by anyone
    /// with a candidate value; set `EXTRACT_REDACT_KEY` from a secret store and rotate it with
    /// the data it keys.
    pub redact_key: String,
    /// Findings scoring below this are not reported. Default 0.4.
    pub min_score: f32,
    /// The model's context window in tokens. Default: what the server reports (llama.cpp
    /// `/props`, vLLM `/v1/models`), else `OPENAI_CONTEXT_TOKENS`, else the model family's
    /// published window, else unknown (the server decides).
    pub context_tokens: Option<u64>,
}

/// The extraction API's layers: `extraction-api.toml` and `EXTRACT_*` variables.
pub const LAYERS: genai_config::Layers<'static> = genai_config::Layers {
    default_file: "extraction-api.toml",
    env_prefix: "EXTRACT",
    aliases: &[],
    ignore: &["EXTRACT_ADDR"],
};

impl Config {
    /// Defaults < `path` (or `extraction-api.toml` if it exists) < `EXTRACT_<SETTING>` variables.
    pub fn load(path: Option<&std::path::Path>) -> Result<Self, genai_config::ConfigError> {
        LAYERS.load(path)
    }
}

/// The development redaction key; `serve` warns when it is in use.
pub const DEV_REDACT_KEY: &str = "genai-roadmap-development-key";

impl Default for Config {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_text_chars: 100_000,
            redact_key: DEV_REDACT_KEY.into(),
            min_score: 0.4,
            context_tokens: None,
        }
    }
}

/// The service: engines, guard, redactor, limits. Cheap to clone.
#[derive(Clone)]
pub struct Extractor {
    pub config: Arc<Config>,
    pub offline: Arc<OfflineEngine>,
    pub llm: Option<Arc<LlmEngine>>,
    pub guard: Arc<InjectionDetector>,
    redactor: Arc<Redactor>,
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extractor").field("config", &self.config).field("llm", &self.llm.is_some()).finish()
    }
}

impl Extractor {
    /// Offline only unless `llm` is given.
    pub fn new(config: Config, llm: Option<genai_llm::Resilient>) -> Self {
        let analyzer = Analyzer { min_score: config.min_score, ..Analyzer::default() };
        Self {
            redactor: Arc::new(Redactor::new(config.redact_key.as_bytes())),
            offline: Arc::new(OfflineEngine::new(analyzer)),
            llm: llm.map(|m| Arc::new(LlmEngine::new(m))),
            guard: Arc::new(InjectionDetector::bundled()),
            config: Arc::new(config),
        }
    }

    /// Empty or over-long text is refused before any work.
    pub fn check_text(&self, text: &str) -> Result<(), ExtractError> {
        if text.trim().is_empty() {
            return Err(ExtractError::EmptyText);
        }
        let chars = text.chars().count();
        if chars > self.config.max_text_chars {
            return Err(ExtractError::TextTooLong { chars, limit: self.config.max_text_chars });
        }
        Ok(())
    }

    // ANCHOR: extract
    /// The extractor the environment configures: the model from `OPENAI_*` when set, with its
    /// context window (`context_tokens`, else discovered as [`Config::context_tokens`] says).
    pub async fn open(config: Config) -> Result<Self, genai_llm::LlmError> {
        let llm = genai_llm::from_env()?;
        let window = match (&llm, config.context_tokens) {
            (None, _) => None,
            (Some(_), Some(n)) => Some(n),
            (Some(m), None) => genai_llm::context::window_from_env(genai_llm::ChatModel::name(m)).await?,
        };
        Ok(Self::new(config, llm).with_context_window(window))
    }

    /// Tells the model engine its context window (see [`LlmEngine::context_window`]).
    pub fn with_context_window(mut self, window: Option<u64>) -> Self {
        self.llm = self.llm.map(|e| Arc::new(e.as_ref().clone().with_context_window(window)));
        self
    }

    /// Runs one extraction request end to end.
    pub async fn extract(&self, req: &ExtractRequest) -> Result<ExtractResponse, ExtractError> {
        self.check_text(&req.text)?;
        let schema = match (&req.schema, &req.json_schema) {
            (Some(_), Some(_)) => return Err(ExtractError::TwoSchemas),
            (Some(name), None) => schemas::by_name_compiled(name)?,
            // Production note: inline schemas are compiled on every request (no cache keyed by
            // their hash); cheap at this size, and a gateway caps request rates.
            (None, Some(s)) => Arc::new(schemas::Compiled::new("inline", s.clone())?),
            (None, None) => schemas::by_name_compiled("pii")?,
        };
        let (guard, text) = (self.guard.clone(), req.text.clone());
        let verdict = cpu(move || guard.check(&text)).await?;
        let requested = req.engine.unwrap_or_default();
        let mut note = None;
        // Explicit `llm`: the model or a clear error. `auto`: the model when configured, with the
        // offline engine answering (and saying why) when the guard flags the text or the model
        // is unreachable. `offline`: never a model.
        let llm = match (requested, self.llm.as_deref()) {
            (EngineKind::Llm, None) => return Err(ExtractError::LlmNotConfigured),
            // Flagged, and no engine but the model can fill this schema: refuse, saying why.
            (EngineKind::Llm, Some(_)) | (EngineKind::Auto, Some(_))
                if verdict.flagged && (requested == EngineKind::Llm || !schema.offline_gaps().is_empty()) =>
            {
                return Err(ExtractError::Injection { score: verdict.score, reasons: verdict.reasons });
            }
            (EngineKind::Auto, Some(_)) if verdict.flagged => {
                note =
                    Some("the guard flagged the text, so no model was called; the offline engine answered".to_owned());
                None
            }
            (EngineKind::Offline, _) => None,
            (_, llm) => llm,
        };
        if let Some(llm) = llm {
            match llm.extract(&req.text, &schema).await {
                Ok(out) => return Ok(model::respond(&req.text, &schema, llm.name(), out, verdict, None)),
                Err(ExtractError::Model(e))
                    if requested == EngineKind::Auto
                        && e.class() == ErrorClass::Retryable
                        && schema.offline_gaps().is_empty() =>
                {
                    tracing::warn!(error = %e, "model unavailable; answering with the offline engine");
                    note = Some(format!("the model was unavailable ({}); the offline engine answered", e.kind()));
                }
                // Too long for the model's window (known before the call, or the server said so).
                Err(ExtractError::TooLongForModel { tokens, window, .. })
                    if requested == EngineKind::Auto && schema.offline_gaps().is_empty() =>
                {
                    note = Some(format!(
                        "the text ({tokens} prompt tokens) does not fit the model's {window}-token window; the offline engine answered"
                    ));
                }
                Err(ExtractError::Model(genai_llm::LlmError::ContextOverflow { .. }))
                    if requested == EngineKind::Auto && schema.offline_gaps().is_empty() =>
                {
                    note = Some(
                        "the text does not fit the model's context window; the offline engine answered".to_owned(),
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let out = self.offline.extract(&req.text, &schema).await?;
        Ok(model::respond(&req.text, &schema, self.offline.name(), out, verdict, note))
    }
    // ANCHOR_END: extract

    /// Replaces PII in `req.text` (all kinds, or those listed).
    pub async fn redact(&self, req: &RedactRequest) -> Result<RedactResponse, ExtractError> {
        self.check_text(&req.text)?;
        let analyzer = Analyzer { min_score: self.config.min_score, kinds: req.kinds.clone().unwrap_or_default() };
        let (redactor, original) = (self.redactor.clone(), req.text.clone());
        let mode = req.mode.unwrap_or(RedactMode::Mask);
        cpu(move || {
            let found = analyzer.analyze(&original);
            let (text, reps) = redactor.redact(&original, &found, mode);
            model::redacted(&original, text, reps)
        })
        .await
    }
}

/// Runs CPU-bound work (recognisers, the guard: up to ~100 ms on a maximal text) on the blocking
/// pool, so one large request does not stall every other request on its executor thread.
pub(crate) async fn cpu<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ExtractError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "a recogniser task failed");
        ExtractError::Internal("a recogniser task failed".into())
    })
}
