//! Conformance against a real OpenAI-compatible server, not the project's own mock: llama.cpp's
//! `llama-server` with a small model (`scripts/llama-server.sh`; `.ci/run` starts one). The
//! model is tiny, so these tests assert protocol and behaviour — shapes, usage, schema-valid
//! JSON, error classes, recovery — never answer quality.
//!
//! The packaged Gemma 3 270M is a base model: it does not follow the chat format and only stops
//! at `max_tokens`. A length stop is an error here ([`LlmError::Truncated`]), so the tests that
//! need a complete answer ask for a JSON schema, whose grammar ends the answer.
//!
//! They run when `LLAMA_SERVER_URL` is set (its `/v1` base URL) and fail loudly when it is set
//! but unreachable. The restart test also needs `LLAMA_SERVER_BIN` and `LLAMA_MODEL` (it starts
//! and kills a server of its own).

use futures::StreamExt;
use genai_core::{Classify, ErrorClass};
use genai_llm::{
    ChatModel, ChatRequest, ExtractOptions, FinishReason, LlmError, Message, OpenAiConfig, OpenAiModel, PriceTable,
    ResilienceConfig, Resilient, ResponseFormat, ServerKind, StreamEvent, ToolSpec,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The server's base URL, or `None` (the test prints SKIPPED). Panics when set but unreachable.
pub async fn server() -> Option<String> {
    let Ok(url) = std::env::var("LLAMA_SERVER_URL") else {
        eprintln!("SKIPPED: LLAMA_SERVER_URL is not set (scripts/llama-server.sh start DIR prints one)");
        return None;
    };
    let health = format!("{}/health", url.trim_end_matches('/').trim_end_matches("/v1"));
    let ok = reqwest::get(&health).await.is_ok_and(|r| r.status().is_success());
    assert!(ok, "LLAMA_SERVER_URL={url} is set but {health} does not answer 200");
    Some(url)
}

fn model_at(url: &str, attempts: u32) -> Resilient {
    let config = OpenAiConfig {
        base_url: url.to_owned(),
        model: "gemma-3-270m".into(),
        api_key_env: "GENAI_LLM_REAL_SERVER_KEY".into(),
        kind: Some(ServerKind::LlamaCpp),
        connect_timeout_ms: 2_000,
    };
    let mut resilience = ResilienceConfig {
        attempt_timeout: Duration::from_secs(60),
        deadline: Duration::from_secs(120),
        ..ResilienceConfig::default()
    };
    resilience.backoff.max_attempts = attempts;
    resilience.backoff.base = Duration::from_millis(200);
    Resilient::new(Arc::new(OpenAiModel::new(&config).unwrap()), resilience, Arc::new(PriceTable::default()))
}

fn ask(text: &str, max_tokens: u32) -> ChatRequest {
    let mut r = ChatRequest::new(vec![Message::system("You answer briefly."), Message::user(text)]);
    r.max_tokens = max_tokens;
    r.temperature = Some(0.0);
    r
}

/// A request whose answer is a small JSON object (the grammar ends it).
fn ask_json(text: &str) -> ChatRequest {
    let mut r = ask(text, 64);
    r.response_format = ResponseFormat::JsonSchema {
        name: "answer".into(),
        schema: json!({
            "type": "object",
            "properties": { "answer": { "type": "string", "maxLength": 16 } },
            "required": ["answer"],
            "additionalProperties": false
        }),
        strict: true,
    };
    r
}

#[tokio::test]
async fn chat_returns_a_complete_answer_with_the_servers_usage() {
    let Some(url) = server().await else { return };
    let r = model_at(&url, 2).chat(&ask_json("Name a colour.")).await.unwrap();
    let v: Value = serde_json::from_str(r.text()).unwrap();
    assert!(v["answer"].is_string(), "{r:?}");
    assert_eq!(r.finish_reason, FinishReason::Stop, "{r:?}");
    assert!(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, "{r:?}");
    assert!(!r.usage.counted, "llama-server reports usage itself: {r:?}");
}

#[tokio::test]
async fn an_answer_cut_at_max_tokens_is_reported_as_truncated() {
    let Some(url) = server().await else { return };
    let err = model_at(&url, 2).chat(&ask("Tell me about lighthouses.", 8)).await.unwrap_err();
    assert!(matches!(err, LlmError::Truncated { max_tokens: 8 }), "{err:?}");
}

#[tokio::test]
async fn a_stream_is_deltas_then_one_done_with_the_servers_usage() {
    let Some(url) = server().await else { return };
    let mut stream = model_at(&url, 2).stream(&ask_json("Name a colour.")).await.unwrap();
    let (mut deltas, mut done, mut count) = (String::new(), None, 0);
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            StreamEvent::Delta(d) => {
                assert!(done.is_none(), "no delta after Done");
                deltas.push_str(&d);
                count += 1;
            }
            StreamEvent::Done(r) => done = Some(r),
        }
    }
    let done = done.expect("a Done event");
    assert!(count > 1, "streamed in pieces, not one block");
    assert_eq!(done.text(), deltas);
    assert!(serde_json::from_str::<Value>(&deltas).is_ok(), "{deltas}");
    assert!(
        !done.usage.counted && done.usage.output_tokens > 0,
        "usage from the stream's last chunk: {:?}",
        done.usage
    );
}

#[tokio::test]
async fn json_schema_output_parses_and_matches_the_schema() {
    let Some(url) = server().await else { return };
    let schema = json!({
        "type": "object",
        "properties": { "city": { "type": "string" }, "population": { "type": "integer" } },
        "required": ["city", "population"],
        "additionalProperties": false
    });
    let messages = vec![Message::user("Give a city and its population as JSON.")];
    let opts = ExtractOptions { max_tokens: 64, ..ExtractOptions::default() };
    let got = genai_llm::extract_json(&model_at(&url, 2), messages, "city", schema, true, &opts, |v| {
        let ok = v["city"].is_string() && v["population"].is_i64() && v.as_object().is_some_and(|o| o.len() == 2);
        if ok { Ok(()) } else { Err(format!("does not match the schema: {v}")) }
    })
    .await
    .unwrap();
    assert_eq!(got.attempts, 1, "the server constrains decoding to the schema: {:?}", got.value);
}

#[tokio::test]
async fn a_tool_request_is_accepted_and_any_call_carries_json_arguments() {
    let Some(url) = server().await else { return };
    let mut req = ask("What is the weather in Paris? Use the tool.", 64);
    req.tools = vec![ToolSpec {
        name: "get_weather".into(),
        description: "Current weather for a city".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    }];
    // The server accepts the tools; a base model of 270M parameters may answer in text (cut at
    // max_tokens) or call the tool, and a call must then be well formed.
    match model_at(&url, 2).chat(&req).await {
        Ok(r) => {
            for call in &r.message.tool_calls {
                assert_eq!(call.name, "get_weather");
                let args: Value = call.parse_arguments().unwrap();
                assert!(args.is_object(), "{args}");
            }
            if !r.message.tool_calls.is_empty() {
                assert_eq!(r.finish_reason, FinishReason::ToolCalls);
            }
        }
        Err(e) => assert!(matches!(e, LlmError::Truncated { .. }), "the request itself must be accepted: {e:?}"),
    }
}

#[tokio::test]
async fn a_prompt_longer_than_the_context_is_a_context_overflow_not_a_retry() {
    let Some(url) = server().await else { return };
    let long = "The pallets in aisle seven are stacked three high. ".repeat(400);
    let err = model_at(&url, 3).chat(&ask(&long, 16)).await.unwrap_err();
    assert!(matches!(err, LlmError::ContextOverflow { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    let window = genai_llm::context::discover_window(&url, None, Duration::from_secs(5)).await;
    // With one slot, llama.cpp's /props gives the whole context the server was started with.
    assert_eq!(window, Some(2048), "llama.cpp's /props says the context of a slot");
}

#[tokio::test]
async fn dropping_a_stream_cancels_it_and_the_server_serves_the_next_request() {
    let Some(url) = server().await else { return };
    let model = model_at(&url, 1);
    let mut stream = model.stream(&ask("Write a long story about a lighthouse.", 400)).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(first, StreamEvent::Delta(_)));
    drop(stream);
    let r = tokio::time::timeout(Duration::from_secs(60), model.chat(&ask_json("Say yes."))).await;
    assert!(r.expect("answered after a cancelled stream").is_ok());
}

#[tokio::test]
async fn a_server_killed_mid_stream_is_a_retryable_error_and_a_restarted_one_answers() {
    let Some(_) = server().await else { return };
    let (Ok(bin), Ok(gguf)) = (std::env::var("LLAMA_SERVER_BIN"), std::env::var("LLAMA_MODEL")) else {
        eprintln!("SKIPPED: restart test needs LLAMA_SERVER_BIN and LLAMA_MODEL");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let spawn = || {
        tokio::process::Command::new(&bin)
            .args(["--model", &gguf, "--host", "127.0.0.1", "--port", &port.to_string(), "--ctx-size", "1024"])
            .args(["--threads", "1", "--alias", "gemma-3-270m"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let url = format!("http://127.0.0.1:{port}/v1");
    let wait_ready = || async {
        for _ in 0..600 {
            if reqwest::get(format!("http://127.0.0.1:{port}/health")).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the test's llama-server did not start");
    };
    let mut child = spawn();
    wait_ready().await;
    let model = model_at(&url, 1);
    let mut stream = model.stream(&ask("Write a long story about a lighthouse.", 400)).await.unwrap();
    assert!(matches!(stream.next().await.unwrap().unwrap(), StreamEvent::Delta(_)));
    child.kill().await.unwrap();
    let mut failure = None;
    while let Some(event) = stream.next().await {
        if let Err(e) = event {
            failure = Some(e);
            break;
        }
    }
    let e = failure.expect("a stream cut by a dead server ends in an error, not a silent Done");
    assert_eq!(e.class(), ErrorClass::Retryable, "{e:?}");

    let mut child = spawn();
    wait_ready().await;
    let r = model_at(&url, 3).chat(&ask_json("Say yes.")).await.unwrap();
    assert_eq!(r.finish_reason, FinishReason::Stop);
    child.kill().await.unwrap();
}
