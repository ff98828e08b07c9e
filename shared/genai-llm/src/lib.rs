//! The LLM layer: one `ChatModel` trait, one implementation over async-openai for any
//! OpenAI-compatible server, and the production machinery around it.
//!
//! ```text
//! caller ─▶ FallbackChain ─▶ Resilient ─▶ OpenAiModel ─▶ server
//!            (next model,     budget → rate limit → breaker → attempt timeout
//!             then offline)   → retry with jitter + Retry-After → ledger, span, metrics
//! ```
//!
//! - [`Resilient`] wraps any model with budgets, client-side rate limits, a circuit breaker,
//!   per-attempt timeouts inside a deadline and retries of retryable failures only.
//! - [`extract`] returns a validated `T` from a JSON-schema answer, re-asking on a bad fit.
//! - [`tokens`] counts tokens per model family; [`pricing`] prices calls, keeps the ledger and
//!   enforces budgets.
//! - [`from_env`] builds the whole stack from `OPENAI_BASE_URL` / `OPENAI_API_KEY`;
//!   [`context`] finds the model's context window so prompts are budgeted to it.
//! - [`route`] sends simple questions to a cheap model and hard ones to a strong one.

pub mod context;
mod error;
mod openai;
pub mod pricing;
pub mod resilience;
pub mod route;
mod structured;
pub mod tokens;
mod types;

pub use error::LlmError;
pub use openai::{OpenAiConfig, OpenAiModel, Quirks, ServerKind, openai_message};
pub use pricing::{Ledger, LedgerEntry, Price, PriceTable, SessionBudget};
pub use resilience::{FallbackChain, FallbackStep, ResilienceConfig, Resilient};
pub use structured::{ExtractOptions, Extracted, extract, extract_json, strict_schema};
pub use types::{
    ChatRequest, ChatResponse, FinishReason, Message, ResponseFormat, Role, StreamEvent, ToolCall, ToolSpec, Usage,
};

use async_trait::async_trait;
use futures::stream::BoxStream;
use std::sync::Arc;

// ANCHOR: chat_model
/// A chat model. Implementations are cheap to share (`Arc<dyn ChatModel>`).
#[async_trait]
pub trait ChatModel: Send + Sync + std::fmt::Debug {
    /// The model's name as requested (`gpt-4o-mini`, `llama3.1:8b`...); prices key on it.
    fn name(&self) -> &str;

    /// Where it is served; circuit breakers key on it.
    fn endpoint(&self) -> &str;

    /// One complete answer.
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError>;

    /// Text deltas, then one [`StreamEvent::Done`] with the complete answer.
    async fn stream(&self, req: &ChatRequest) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError>;
}
// ANCHOR_END: chat_model

/// Whether the environment names a model server (`OPENAI_BASE_URL` and/or `OPENAI_API_KEY`).
pub fn configured_in_env() -> bool {
    ["OPENAI_BASE_URL", "OPENAI_API_KEY"].iter().any(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()))
}

/// The configured remote model, if the environment names one: set `OPENAI_BASE_URL` (any
/// OpenAI-compatible server) and/or `OPENAI_API_KEY`; `OPENAI_MODEL` picks the model
/// (default `gpt-4o-mini`). `None` means: run the offline path.
pub fn from_env() -> Result<Option<Resilient>, LlmError> {
    if !configured_in_env() {
        return Ok(None);
    }
    let model = OpenAiModel::new(&OpenAiConfig::default())?;
    Ok(Some(Resilient::new(Arc::new(model), ResilienceConfig::default(), Arc::new(PriceTable::default()))))
}
