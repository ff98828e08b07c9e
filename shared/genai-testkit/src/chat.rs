//! Chat-completions behaviour of the mock: canned answers, SSE streams (complete or cut), and the
//! tool-message ordering rules OpenAI enforces with a 400.

use crate::Reply;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;

impl Reply {
    /// A complete text answer with usage.
    pub fn chat_text(content: &str) -> Reply {
        Reply::Json(completion(json!({"role": "assistant", "content": content}), "stop"))
    }

    /// An answer that calls one tool; `arguments` is sent verbatim (it may be invalid JSON).
    pub fn chat_tool_call(id: &str, name: &str, arguments: &str) -> Reply {
        let message = json!({"role": "assistant", "content": null,
            "tool_calls": [{"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}]});
        Reply::Json(completion(message, "tool_calls"))
    }

    /// An answer with a given finish reason (`length`, `content_filter`...).
    pub fn chat_finish(content: &str, finish_reason: &str) -> Reply {
        Reply::Json(completion(json!({"role": "assistant", "content": content}), finish_reason))
    }

    /// A streamed answer in `parts`, finished with `stop`, usage and `[DONE]`.
    pub fn chat_stream(parts: &[&str]) -> Reply {
        let mut chunks: Vec<Value> = parts.iter().map(|p| chunk(json!({"content": p}), Value::Null)).collect();
        chunks.push(chunk(json!({}), json!("stop")));
        chunks.push(
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "model": "mock-model", "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": parts.len(), "total_tokens": 12 + parts.len()}}),
        );
        Reply::Sse { chunks, done: true }
    }

    /// [`Reply::chat_stream`] paced like a model: the first part after `first`, then one part
    /// every `every` (300 ms and 20 ms are a hosted model's 300 ms to first token at 50 tokens/s
    /// when each part is one token).
    pub fn chat_stream_paced(parts: &[&str], first: Duration, every: Duration) -> Reply {
        match Reply::chat_stream(parts) {
            Reply::Sse { chunks, .. } => Reply::Paced { chunks, first, every },
            other => other,
        }
    }

    /// A stream that sends `parts` and then closes the connection: no finish reason, no `[DONE]`.
    pub fn chat_stream_cut(parts: &[&str]) -> Reply {
        Reply::Sse { chunks: parts.iter().map(|p| chunk(json!({"content": p}), Value::Null)).collect(), done: false }
    }
}

fn completion(message: Value, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": "mock-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17, "prompt_tokens_details": {"cached_tokens": 0}}
    })
}

fn chunk(delta: Value, finish_reason: Value) -> Value {
    json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "model": "mock-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})
}

/// The default reply to a chat request: a short answer, streamed if the request asked to stream.
pub(crate) fn default_reply(body: &Value) -> Reply {
    if body["stream"] == json!(true) {
        Reply::chat_stream(&["mock ", "answer"])
    } else {
        Reply::chat_text("mock answer")
    }
}

/// An SSE response body.
pub(crate) fn sse(chunks: Vec<Value>, done: bool) -> Response {
    let mut text = String::new();
    for c in chunks {
        text.push_str(&format!("data: {c}\n\n"));
    }
    if done {
        text.push_str("data: [DONE]\n\n");
    }
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from(text))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// An SSE response whose chunks are sent on a schedule; the trailing finish and usage chunks
/// follow the last content chunk at once.
pub(crate) fn sse_paced(chunks: Vec<Value>, first: Duration, every: Duration) -> Response {
    let content = chunks.iter().filter(|c| c["choices"][0]["delta"]["content"].is_string()).count();
    let events = futures::stream::iter(chunks.into_iter().enumerate()).then(move |(i, c)| async move {
        if i == 0 {
            tokio::time::sleep(first).await;
        } else if i < content {
            tokio::time::sleep(every).await;
        }
        Ok::<_, std::convert::Infallible>(format!("data: {c}\n\n"))
    });
    let done = futures::stream::once(async { Ok("data: [DONE]\n\n".to_owned()) });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(events.chain(done)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// OpenAI's ordering rules for tool messages, with its error texts: a `tool` message must answer
/// a `tool_calls` id of the assistant message right before its block, and every such id must be
/// answered before the next non-tool message. `None` when the conversation is valid.
pub fn ordering_error(body: &Value) -> Option<String> {
    let messages = body["messages"].as_array()?;
    let mut pending: Vec<String> = Vec::new();
    let mut answerable: Vec<String> = Vec::new();
    for m in messages {
        let role = m["role"].as_str().unwrap_or_default();
        if role == "tool" {
            let id = m["tool_call_id"].as_str().unwrap_or_default().to_owned();
            if !answerable.contains(&id) {
                return Some(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
                        .into(),
                );
            }
            pending.retain(|p| *p != id);
            continue;
        }
        if !pending.is_empty() {
            return Some(format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. \
                 The following tool_call_ids did not have response messages: {}",
                pending.join(", ")
            ));
        }
        answerable.clear();
        if role == "assistant" {
            for c in m["tool_calls"].as_array().into_iter().flatten() {
                let id = c["id"].as_str().unwrap_or_default().to_owned();
                pending.push(id.clone());
                answerable.push(id);
            }
        }
    }
    (!pending.is_empty()).then(|| {
        format!(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. \
             The following tool_call_ids did not have response messages: {}",
            pending.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(v: Value) -> Value {
        json!({ "messages": v })
    }

    #[test]
    fn enforces_openai_tool_ordering() {
        let call = json!({"role": "assistant", "content": null, "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]});
        let ok = msgs(
            json!([{"role": "user", "content": "hi"}, call, {"role": "tool", "tool_call_id": "a", "content": "1"}, {"role": "user", "content": "ok"}]),
        );
        assert_eq!(ordering_error(&ok), None);
        let orphan =
            msgs(json!([{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "a", "content": "1"}]));
        assert!(ordering_error(&orphan).unwrap().contains("must be a response to a preceeding message"));
        let unanswered = msgs(json!([call, {"role": "user", "content": "next"}]));
        assert!(ordering_error(&unanswered).unwrap().contains("did not have response messages: a"));
    }
}
