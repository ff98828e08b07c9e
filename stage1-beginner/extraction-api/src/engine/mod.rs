//! Two engines behind one trait. Both fill the fields of a compiled schema and report entities
//! as byte spans of the input; [`crate::model`] turns them into the response.

mod ground;
mod llm;
pub mod offline;

pub use crate::model::EngineKind;
pub use llm::LlmEngine;
pub use offline::OfflineEngine;

/// The LLM engine's system prompt (pinned by a snapshot test).
pub fn llm_prompt() -> &'static str {
    llm::PROMPT
}

use crate::ExtractError;
use crate::model::{Unsupported, UsageReport};
use crate::schemas::Compiled;
use serde_json::Value;
use std::sync::Arc;

/// An entity as an engine reports it: a byte span of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub field: Option<String>,
    pub kind: String,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
    pub recognizer: &'static str,
}

/// What an engine found.
#[derive(Debug, Default)]
pub struct EngineOutput {
    /// The schema-shaped object.
    pub data: Value,
    pub entities: Vec<Span>,
    pub unsupported: Vec<Unsupported>,
    pub usage: Option<UsageReport>,
}

#[async_trait::async_trait]
pub trait Engine: Send + Sync {
    /// `offline` or `llm`, reported with every entity.
    fn name(&self) -> &'static str;
    async fn extract(&self, text: &str, schema: &Arc<Compiled>) -> Result<EngineOutput, ExtractError>;
}
