//! The provider-neutral shapes of a chat call.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// One message of a conversation. An assistant message may carry tool calls instead of (or as
/// well as) text; a tool message answers exactly one tool call by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    fn text(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: Some(content.into()), tool_calls: Vec::new(), tool_call_id: None }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::text(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::text(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::text(Role::Assistant, content)
    }
    /// An assistant turn that calls tools.
    pub fn tool_calls(calls: Vec<ToolCall>) -> Self {
        Self { role: Role::Assistant, content: None, tool_calls: calls, tool_call_id: None }
    }
    /// The result of the tool call `id`.
    pub fn tool_result(id: impl Into<String>, content: impl Into<String>) -> Self {
        Self { role: Role::Tool, content: Some(content.into()), tool_calls: Vec::new(), tool_call_id: Some(id.into()) }
    }
}

/// A call the model asked for. `arguments` is the raw JSON text the model produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

impl ToolCall {
    /// The arguments parsed as JSON; a model may produce invalid JSON, which is an error value.
    pub fn parse_arguments<T: serde::de::DeserializeOwned>(&self) -> Result<T, crate::LlmError> {
        serde_json::from_str(&self.arguments)
            .map_err(|source| crate::LlmError::InvalidToolArguments { tool: self.name.clone(), source })
    }
}

/// A tool the model may call, described by a JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// What shape the answer must have.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum ResponseFormat {
    #[default]
    Text,
    /// A JSON object matching `schema` (OpenAI structured outputs when `strict`).
    JsonSchema { name: String, schema: Value, strict: bool },
}

/// A chat request. Defaults: the model's configured name, no tools, text answers, provider
/// default temperature, at most 1,024 output tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    #[serde(default)]
    pub response_format: ResponseFormat,
    pub temperature: Option<f64>,
    /// Upper bound on output tokens; also what budgets assume the answer may cost.
    pub max_tokens: u32,
    /// Return an answer cut at `max_tokens` (finish reason `Length`, billed as usual) instead
    /// of failing with `LlmError::Truncated`: what a gateway passing answers on needs. Default
    /// false: a milestone that needs a whole answer learns that it did not get one.
    #[serde(default)]
    pub allow_truncated: bool,
}

impl ChatRequest {
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            messages,
            tools: Vec::new(),
            response_format: ResponseFormat::Text,
            temperature: None,
            max_tokens: 1024,
            allow_truncated: false,
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    ToolCalls,
    Length,
    ContentFilter,
}

/// Tokens of one call. `source` says whether the provider reported them or we counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub counted: bool,
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub message: Message,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    /// The model that answered, as the server names it.
    pub model: String,
}

impl ChatResponse {
    pub fn text(&self) -> &str {
        self.message.content.as_deref().unwrap_or_default()
    }
}

/// One event of a streamed answer: text deltas, then exactly one `Done` with the whole answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Delta(String),
    Done(ChatResponse),
}
