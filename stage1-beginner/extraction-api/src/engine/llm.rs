//! The LLM engine: the schema goes to the model as a JSON-Schema response format; the answer is
//! validated against the same schema and re-asked (within genai-llm's re-ask and budget limits)
//! when it does not fit; then every value is span-resolved in the input ([`super::ground`]).

use super::{Engine, EngineOutput, ground};
use crate::ExtractError;
use crate::model::UsageReport;
use crate::schemas::Compiled;
use genai_llm::{ChatModel, ExtractOptions, Ledger, Message, Resilient};
use std::sync::Arc;

/// The system prompt (snapshot-tested).
pub const PROMPT: &str = include_str!("../../prompts/extract.md");

#[derive(Debug, Clone)]
pub struct LlmEngine {
    model: Resilient,
    /// Re-asks, output tokens and the per-extraction cost cap. Default: 2 re-asks, 1,024 output
    /// tokens, $0.01 per extraction.
    pub options: ExtractOptions,
    /// The model's context window in tokens (configured, or read from the server): a prompt
    /// that cannot fit with `options.max_tokens` of answer is refused before the call. `None`:
    /// unknown, the server decides.
    pub context_window: Option<u64>,
}

impl LlmEngine {
    pub fn new(model: Resilient) -> Self {
        Self {
            model,
            options: ExtractOptions { budget_usd: Some(0.01), ..ExtractOptions::default() },
            context_window: None,
        }
    }

    pub fn with_context_window(mut self, window: Option<u64>) -> Self {
        self.context_window = window;
        self
    }
}

#[async_trait::async_trait]
impl Engine for LlmEngine {
    fn name(&self) -> &'static str {
        "llm"
    }

    async fn extract(&self, text: &str, schema: &Arc<Compiled>) -> Result<EngineOutput, ExtractError> {
        let ledger = Arc::new(Ledger::default());
        let model = self.model.with_ledger(ledger.clone()).with_route("extract");
        let messages =
            vec![Message::system(format!("{PROMPT}\nJSON Schema:\n{}", schema.schema)), Message::user(text.to_owned())];
        // Extraction cannot drop part of the text the way a RAG prompt drops its weakest
        // passage: a value in the dropped part would silently go missing. So a text too long
        // for the window is refused (and `auto` answers offline), never cut.
        // Production note: no map-reduce over parts of a long text (extract per part, merge);
        // callers send long documents in parts or use the offline engine.
        if let Some(window) = self.context_window {
            let tokens = genai_llm::tokens::count_chat_tokens(model.name(), &messages);
            let needed = tokens + u64::from(self.options.max_tokens);
            if needed > window {
                return Err(ExtractError::TooLongForModel { tokens, reserve: self.options.max_tokens, window });
            }
        }
        let answer =
            genai_llm::extract_json(&model, messages, "extraction", schema.schema.clone(), false, &self.options, |v| {
                let problems = schema.problems(v);
                if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
            })
            .await
            .map_err(ExtractError::Model)?;
        let grounded = ground::ground(text, schema, &answer.value);
        Ok(EngineOutput {
            data: grounded.data,
            entities: grounded.entities,
            unsupported: grounded.unsupported,
            usage: Some(UsageReport {
                model: model.name().to_owned(),
                attempts: answer.attempts,
                input_tokens: answer.usage.input_tokens,
                output_tokens: answer.usage.output_tokens,
                cost_usd: ledger.total_cost(),
            }),
        })
    }
}
