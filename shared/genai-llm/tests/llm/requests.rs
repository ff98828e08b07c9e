//! What goes over the wire, pinned by snapshots: a chat, a tool-call round trip, a structured
//! extraction, and the quirks table.

use crate::{CHAT, ask, model};
use genai_llm::{
    ChatModel, ChatRequest, ExtractOptions, Message, OpenAiConfig, OpenAiModel, ServerKind, ToolCall, ToolSpec,
};
use genai_testkit::{MockOpenAi, Reply};
use serde_json::json;

/// Keys sorted: serde_json keeps insertion order when another crate in the build enables its
/// `preserve_order` feature, and the snapshot must not depend on who else is compiled.
fn snapshot(name: &str, body: &serde_json::Value) {
    insta::with_settings!({ sort_maps => true }, { insta::assert_json_snapshot!(name, body) });
}

#[tokio::test]
async fn chat_request_body() {
    let mock = MockOpenAi::start(8).await;
    let m = model(&mock, |_| {});
    let mut req = ask("Is the pump due for inspection?");
    req.temperature = Some(0.2);
    req.max_tokens = 200;
    m.chat(&req).await.unwrap();
    let r = &mock.requests_to(CHAT)[0];
    // The key comes from the configured variable, unset here: an empty bearer token.
    assert_eq!(r.headers.get("authorization").map(|h| h.trim()), Some("Bearer"));
    snapshot("chat", &r.body);
}

#[tokio::test]
async fn tool_call_round_trip_body() {
    let mock = MockOpenAi::start(8).await;
    let m = model(&mock, |_| {});
    let mut req = ChatRequest::new(vec![
        Message::user("What is the pressure limit of pump P-7?"),
        Message::tool_calls(vec![ToolCall {
            id: "call_1".into(),
            name: "lookup_spec".into(),
            arguments: "{\"pump\":\"P-7\"}".into(),
        }]),
        Message::tool_result("call_1", "{\"max_bar\": 12}"),
    ]);
    req.tools = vec![ToolSpec {
        name: "lookup_spec".into(),
        description: "Look up a pump's specification sheet.".into(),
        parameters: json!({"type": "object", "properties": {"pump": {"type": "string"}}, "required": ["pump"], "additionalProperties": false}),
    }];
    m.chat(&req).await.unwrap();
    snapshot("tool_round_trip", &mock.requests_to(CHAT)[0].body);
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, PartialEq)]
struct Inspection {
    pump: String,
    interval_months: u32,
    notes: Option<String>,
}

#[tokio::test]
async fn structured_extraction_body() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [Reply::chat_text("{\"pump\":\"P-7\",\"interval_months\":6,\"notes\":null}")]);
    let m = model(&mock, |_| {});
    let got = genai_llm::extract::<Inspection>(
        &m,
        vec![Message::user("Pump P-7 is inspected every six months.")],
        &ExtractOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(got.value, Inspection { pump: "P-7".into(), interval_months: 6, notes: None });
    snapshot("structured", &mock.requests_to(CHAT)[0].body);
}

#[test]
fn quirks_pick_the_output_limit_field_and_stream_usage() {
    let body = |url: &str, kind: Option<ServerKind>| {
        let m = OpenAiModel::new(&OpenAiConfig { base_url: url.into(), kind, ..OpenAiConfig::default() }).unwrap();
        m.request_body(&ask("x"), true)
    };
    let openai = body("https://api.openai.com/v1", None);
    assert_eq!(openai["max_completion_tokens"], 1024);
    assert!(openai.get("max_tokens").is_none());
    assert_eq!(openai["stream_options"]["include_usage"], true);
    let ollama = body("http://localhost:11434/v1", None);
    assert_eq!(ollama["max_tokens"], 1024);
    // llama.cpp reports usage in streams when asked (tests/llm/real_server.rs checks it on a
    // real llama-server); an unknown server is not sent a field it may reject.
    let llamacpp = body("http://10.0.0.5:8080/v1", Some(ServerKind::LlamaCpp));
    assert_eq!(llamacpp["stream_options"]["include_usage"], true);
    let generic = body("http://10.0.0.5:8080/v1", None);
    assert!(generic.get("stream_options").is_none());
}
