//! The OpenAI chat-completions wire format: requests parsed into genai-llm's [`ChatRequest`]
//! with every unsupported or malformed part refused by name, and answers and stream chunks
//! written back the way OpenAI's SDKs read them.

use genai_http::ApiError;
use genai_llm::{ChatRequest, ChatResponse, FinishReason, Message, ResponseFormat, Role, ToolCall, ToolSpec, Usage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Largest `max_tokens` the gateway accepts by default (`max_output_tokens` lowers it): what a
/// call's budget hold assumes is bounded by it.
pub const MAX_OUTPUT_TOKENS: u32 = 32_768;
/// `max_tokens` when the client gives none (capped by `max_output_tokens`).
pub const DEFAULT_OUTPUT_TOKENS: u32 = 1_024;

/// `POST /v1/chat/completions`.
///
/// Production note: fields OpenAI defines that are not listed here (`top_p`, `seed`, `user`,
/// logprobs, ...) are accepted and not forwarded; those that would change what is returned and
/// cannot be honoured (`n > 1`, image parts) are refused by name.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatCompletionRequest {
    /// `auto` lets the gateway choose (policy, cascade or complexity routing); the name of a
    /// configured upstream sends the request there.
    #[schema(example = "auto")]
    pub model: String,
    #[schema(value_type = Vec<MessageSchema>, min_items = 1)]
    pub messages: Vec<Value>,
    #[serde(default)]
    pub stream: bool,
    #[schema(value_type = Option<Object>)]
    pub stream_options: Option<Value>,
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    /// At most the gateway's `max_output_tokens` (default 32,768).
    #[schema(minimum = 1, maximum = 32768)]
    pub max_tokens: Option<u32>,
    #[schema(minimum = 1, maximum = 32768)]
    pub max_completion_tokens: Option<u32>,
    /// Only 1 is supported.
    #[schema(minimum = 1, maximum = 1)]
    pub n: Option<u32>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<Value>,
}

/// One message as OpenAPI describes it (documentation only: messages are parsed by hand, so
/// each refusal names its field).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct MessageSchema {
    pub role: MessageRole,
    /// Text, or an array of `{"type": "text", "text": ...}` parts; null when `tool_calls` is set.
    pub content: Option<String>,
    /// The id of the tool call a `tool` message answers.
    pub tool_call_id: Option<String>,
}

/// Who speaks (`developer` is read as `system`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum MessageRole {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

/// A parsed request: what goes upstream, and how the client wants the answer.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub model: String,
    pub chat: ChatRequest,
    pub stream: bool,
    pub include_usage: bool,
}

fn invalid(code: &'static str, message: impl Into<String>, at: impl Into<String>) -> ApiError {
    ApiError::invalid(code, message, &at.into())
}

fn text_of(content: &Value, at: &str) -> Result<Option<String>, ApiError> {
    match content {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Array(parts) => {
            let mut text = String::new();
            for (i, part) in parts.iter().enumerate() {
                match (part.get("type").and_then(Value::as_str), part.get("text").and_then(Value::as_str)) {
                    (Some("text"), Some(t)) => text.push_str(t),
                    (kind, _) => {
                        return Err(invalid(
                            "unsupported_content",
                            format!("content part of type {kind:?}: only text parts are supported"),
                            format!("{at}/{i}"),
                        ));
                    }
                }
            }
            Ok(Some(text))
        }
        _ => Err(invalid("invalid_message", "content must be a string, an array of text parts, or null", at)),
    }
}

fn message(v: &Value, i: usize) -> Result<Message, ApiError> {
    let at = format!("/messages/{i}");
    let role = match v.get("role").and_then(Value::as_str) {
        Some("system" | "developer") => Role::System,
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("tool") => Role::Tool,
        other => {
            return Err(invalid(
                "invalid_message",
                format!("role {other:?}: use system, developer, user, assistant or tool"),
                format!("{at}/role"),
            ));
        }
    };
    let content = text_of(v.get("content").unwrap_or(&Value::Null), &format!("{at}/content"))?;
    let mut tool_calls = Vec::new();
    if let Some(calls) = v.get("tool_calls").and_then(Value::as_array) {
        for (j, c) in calls.iter().enumerate() {
            let f = c.get("function");
            let field = |k: &str| f.and_then(|f| f.get(k)).and_then(Value::as_str);
            let (Some(id), Some(name)) = (c.get("id").and_then(Value::as_str), field("name")) else {
                return Err(invalid(
                    "invalid_message",
                    "a tool call needs an id and a function name",
                    format!("{at}/tool_calls/{j}"),
                ));
            };
            tool_calls.push(ToolCall {
                id: id.into(),
                name: name.into(),
                arguments: field("arguments").unwrap_or("{}").into(),
            });
        }
    }
    let tool_call_id = v.get("tool_call_id").and_then(Value::as_str).map(str::to_owned);
    if role == Role::Tool && tool_call_id.is_none() {
        return Err(invalid("invalid_message", "a tool message needs tool_call_id", format!("{at}/tool_call_id")));
    }
    if content.is_none() && tool_calls.is_empty() {
        return Err(invalid("invalid_message", "a message needs content or tool calls", format!("{at}/content")));
    }
    Ok(Message { role, content, tool_calls, tool_call_id })
}

fn tool(v: &Value, i: usize) -> Result<ToolSpec, ApiError> {
    let f = v.get("function").filter(|_| v.get("type").and_then(Value::as_str) == Some("function"));
    let name = f.and_then(|f| f.get("name")).and_then(Value::as_str);
    let Some((f, name)) = f.zip(name) else {
        return Err(invalid(
            "invalid_tool",
            "a tool must be {\"type\": \"function\", \"function\": {\"name\", ...}}",
            format!("/tools/{i}"),
        ));
    };
    Ok(ToolSpec {
        name: name.into(),
        description: f.get("description").and_then(Value::as_str).unwrap_or_default().into(),
        parameters: f.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object"})),
    })
}

fn response_format(v: Option<&Value>) -> Result<ResponseFormat, ApiError> {
    let Some(v) = v else { return Ok(ResponseFormat::Text) };
    match v.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_schema") => {
            let s = v.get("json_schema");
            let schema = s.and_then(|s| s.get("schema")).cloned();
            let Some(schema) = schema else {
                return Err(invalid(
                    "invalid_response_format",
                    "json_schema needs a schema",
                    "/response_format/json_schema/schema",
                ));
            };
            Ok(ResponseFormat::JsonSchema {
                name: s.and_then(|s| s.get("name")).and_then(Value::as_str).unwrap_or("answer").into(),
                schema,
                strict: s.and_then(|s| s.get("strict")).and_then(Value::as_bool).unwrap_or(false),
            })
        }
        other => Err(invalid(
            "invalid_response_format",
            format!("response_format type {other:?}: use text or json_schema"),
            "/response_format/type",
        )),
    }
}

impl ChatCompletionRequest {
    /// Checks the request and turns it into a [`ChatRequest`]; each refusal names the field.
    /// `max_output` is the most output tokens one call may ask for.
    pub fn parse(self, max_output: u32) -> Result<Parsed, ApiError> {
        if self.model.trim().is_empty() {
            return Err(invalid("invalid_model", "model is empty: use auto or a configured upstream", "/model"));
        }
        if self.messages.is_empty() {
            return Err(invalid("empty_messages", "messages is empty", "/messages"));
        }
        if self.n.is_some_and(|n| n != 1) {
            return Err(invalid("unsupported_n", "only n = 1 is supported", "/n"));
        }
        if let Some(t) = self.temperature.filter(|t| !(0.0..=2.0).contains(t)) {
            return Err(invalid("invalid_temperature", format!("temperature {t} is outside 0–2"), "/temperature"));
        }
        let max_output = max_output.clamp(1, MAX_OUTPUT_TOKENS);
        let max_tokens =
            self.max_completion_tokens.or(self.max_tokens).unwrap_or(DEFAULT_OUTPUT_TOKENS.min(max_output));
        if max_tokens == 0 || max_tokens > max_output {
            return Err(invalid(
                "invalid_max_tokens",
                format!("max_tokens {max_tokens} is outside 1–{max_output}"),
                "/max_tokens",
            ));
        }
        let messages = self.messages.iter().enumerate().map(|(i, m)| message(m, i)).collect::<Result<_, _>>()?;
        let tools = self.tools.iter().flatten().enumerate().map(|(i, t)| tool(t, i)).collect::<Result<_, _>>()?;
        let include_usage =
            self.stream_options.as_ref().and_then(|o| o.get("include_usage")).and_then(Value::as_bool).unwrap_or(false);
        Ok(Parsed {
            model: self.model.trim().to_owned(),
            chat: ChatRequest {
                messages,
                tools,
                response_format: response_format(self.response_format.as_ref())?,
                temperature: self.temperature,
                max_tokens,
                // A client that sets max_tokens gets what fits, as from OpenAI.
                allow_truncated: true,
            },
            stream: self.stream,
            include_usage,
        })
    }
}

/// The text a router judges: the last user message (routers are trained on single prompts).
///
/// Production note: a multi-turn conversation is routed by its last user turn only; a router
/// trained on conversations would see them whole.
pub fn prompt_of(req: &ChatRequest) -> &str {
    req.messages.iter().rev().find(|m| m.role == Role::User).and_then(|m| m.content.as_deref()).unwrap_or_default()
}

fn finish(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::Length => "length",
        FinishReason::ContentFilter => "content_filter",
    }
}

fn usage_json(u: &Usage) -> Value {
    json!({"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens, "total_tokens": u.input_tokens + u.output_tokens})
}

/// A `chat.completion` object.
pub fn completion(id: &str, created: u64, model: &str, r: &ChatResponse) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": genai_llm::openai_message(&r.message), "finish_reason": finish(r.finish_reason)}],
        "usage": usage_json(&r.usage),
    })
}

/// One `chat.completion.chunk` with a text delta (the first carries the role).
pub fn delta_chunk(id: &str, created: u64, model: &str, text: &str, first: bool) -> Value {
    let delta = if first { json!({"role": "assistant", "content": text}) } else { json!({"content": text}) };
    json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
}

/// The closing chunk: tool calls (never streamed piecemeal here) and the finish reason.
pub fn final_chunk(id: &str, created: u64, model: &str, r: &ChatResponse) -> Value {
    let mut delta = json!({});
    if !r.message.tool_calls.is_empty() {
        delta = genai_llm::openai_message(&r.message);
        delta["content"] = Value::Null;
    }
    json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish(r.finish_reason)}]})
}

/// The usage chunk OpenAI sends last when `stream_options.include_usage` is set.
pub fn usage_chunk(id: &str, created: u64, model: &str, u: &Usage) -> Value {
    json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
           "choices": [], "usage": usage_json(u)})
}

/// `GET /v1/models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelEntry {
    pub id: String,
    pub object: &'static str,
    pub owned_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Parsed, ApiError> {
        serde_json::from_value::<ChatCompletionRequest>(v).unwrap().parse(MAX_OUTPUT_TOKENS)
    }

    #[test]
    fn an_openai_request_becomes_a_chat_request() {
        let p = parse(json!({
            "model": "auto", "stream": true, "stream_options": {"include_usage": true}, "top_p": 0.9,
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "2+2?"}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{\"a\":2}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "4"}
            ],
            "tools": [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}],
            "max_completion_tokens": 50
        }))
        .unwrap();
        assert!(p.stream && p.include_usage);
        assert_eq!(p.chat.max_tokens, 50);
        assert_eq!(p.chat.messages[0].role, Role::System);
        assert_eq!(prompt_of(&p.chat), "What is 2+2?");
        assert_eq!(p.chat.messages[2].tool_calls[0].arguments, "{\"a\":2}");
        assert_eq!(p.chat.tools[0].name, "add");
    }

    #[test]
    fn each_refusal_names_its_field() {
        let cases = [
            (json!({"model": "auto", "messages": []}), "/messages"),
            (json!({"model": " ", "messages": [{"role": "user", "content": "x"}]}), "/model"),
            (json!({"model": "auto", "messages": [{"role": "robot", "content": "x"}]}), "/messages/0/role"),
            (
                json!({"model": "auto", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
                "/messages/0/content/0",
            ),
            (json!({"model": "auto", "messages": [{"role": "tool", "content": "4"}]}), "/messages/0/tool_call_id"),
            (json!({"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}), "/max_tokens"),
            (
                json!({"model": "auto", "messages": [{"role": "user", "content": "x"}], "temperature": 3}),
                "/temperature",
            ),
            (json!({"model": "auto", "messages": [{"role": "user", "content": "x"}], "n": 2}), "/n"),
            (
                json!({"model": "auto", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "x"}]}),
                "/tools/0",
            ),
            (
                json!({"model": "auto", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}}),
                "/response_format/type",
            ),
        ];
        for (body, at) in cases {
            let e = parse(body.clone()).unwrap_err();
            assert_eq!(e.at.as_deref(), Some(at), "{body}: {e:?}");
            assert_eq!(e.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        }
    }

    #[test]
    fn the_output_cap_bounds_what_a_call_may_ask_for() {
        let req = |extra: Value| {
            let mut v = json!({"model": "auto", "messages": [{"role": "user", "content": "x"}]});
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            serde_json::from_value::<ChatCompletionRequest>(v).unwrap()
        };
        assert_eq!(req(json!({})).parse(64).unwrap().chat.max_tokens, 64, "the default is capped too");
        assert_eq!(req(json!({"max_tokens": 64})).parse(64).unwrap().chat.max_tokens, 64);
        let e = req(json!({"max_tokens": 65})).parse(64).unwrap_err();
        assert_eq!((e.code, e.at.as_deref()), ("invalid_max_tokens", Some("/max_tokens")));
    }

    #[test]
    fn answers_are_written_as_openai_sdks_read_them() {
        let r = ChatResponse {
            message: Message::assistant("4"),
            finish_reason: FinishReason::Stop,
            usage: Usage { input_tokens: 10, cached_input_tokens: 0, output_tokens: 1, counted: false },
            model: "m".into(),
        };
        let c = completion("id1", 7, "cheap", &r);
        assert_eq!(c["choices"][0]["message"]["content"], "4");
        assert_eq!(c["usage"]["total_tokens"], 11);
        assert_eq!(delta_chunk("id1", 7, "cheap", "4", true)["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(final_chunk("id1", 7, "cheap", &r)["choices"][0]["finish_reason"], "stop");
        assert_eq!(usage_chunk("id1", 7, "cheap", &r.usage)["choices"], json!([]));
    }
}
