//! Traces over OTLP: an in-test collector (OTLP/HTTP, protobuf, decoded with the protocol's own
//! messages) receives what the exporter sends, and the spans of one query are checked as a tree:
//! joined to the caller's `traceparent`, one child per stage inside the root's time, GenAI
//! semantic-convention names and attributes on the model, retrieval and embedding spans, an
//! error status on a failed model call, and a cache hit as a short trace of its own.

use crate::config;
use axum::body::Bytes;
use genai_testkit::Reply;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const CHAT: &str = "/v1/chat/completions";

/// Everything the exporter sent: (service.name, span).
type Received = Arc<Mutex<Vec<(String, Span)>>>;

async fn collector() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| async move {
            let req = ExportTraceServiceRequest::decode(body).expect("a valid OTLP protobuf body");
            for rs in req.resource_spans {
                let service = rs
                    .resource
                    .iter()
                    .flat_map(|r| &r.attributes)
                    .find(|kv| kv.key == "service.name")
                    .and_then(|kv| kv.value.as_ref()?.value.clone());
                let service = match service {
                    Some(Any::StringValue(s)) => s,
                    _ => String::new(),
                };
                for ss in rs.scope_spans {
                    sink.lock().unwrap().extend(ss.spans.into_iter().map(|s| (service.clone(), s)));
                }
            }
            ""
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// The spans of one trace, once the exporter has flushed them.
async fn spans_of(received: &Received, trace_id: &[u8], at_least: usize) -> Vec<Span> {
    for _ in 0..50 {
        tokio::task::spawn_blocking(genai_telemetry::otel::flush).await.unwrap();
        let spans: Vec<Span> =
            received.lock().unwrap().iter().filter(|(_, s)| s.trace_id == trace_id).map(|(_, s)| s.clone()).collect();
        if spans.len() >= at_least {
            return spans;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("fewer than {at_least} spans arrived for the trace");
}

fn attr(span: &Span, key: &str) -> Option<Any> {
    span.attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()?.value.clone())
}

fn text(span: &Span, key: &str) -> String {
    match attr(span, key) {
        Some(Any::StringValue(s)) => s,
        other => panic!("{}: {key} is {other:?}", span.name),
    }
}

fn int(span: &Span, key: &str) -> i64 {
    match attr(span, key) {
        Some(Any::IntValue(i)) => i,
        other => panic!("{}: {key} is {other:?}", span.name),
    }
}

/// Posts a query with a `traceparent` naming a fresh trace; returns its id and parent span id.
async fn traced_query(client: &reqwest::Client, base: &str, query: &str) -> (Vec<u8>, Vec<u8>, Value) {
    let trace_id: [u8; 16] = rand::random();
    let parent: [u8; 8] = rand::random();
    let header = format!("00-{}-{}-01", hex::encode(trace_id), hex::encode(parent));
    let res = client.post(format!("{base}/v1/query")).header("traceparent", header).json(&json!({"query": query}));
    let res = res.send().await.unwrap();
    assert_eq!(res.status(), 200);
    (trace_id.to_vec(), parent.to_vec(), res.json().await.unwrap())
}

/// The root and its children, checked as a tree inside the root's time.
fn tree(spans: &[Span], parent: &[u8]) -> (Span, Vec<Span>) {
    let roots: Vec<&Span> = spans.iter().filter(|s| s.name == "rag query").collect();
    assert_eq!(roots.len(), 1, "{:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>());
    let root = roots[0].clone();
    assert_eq!(root.parent_span_id, parent, "the root joins the caller's trace");
    assert_eq!(root.kind, SpanKind::Server as i32);
    let children: Vec<Span> = spans.iter().filter(|s| s.span_id != root.span_id).cloned().collect();
    for c in &children {
        assert_eq!(c.parent_span_id, root.span_id, "{} is a child of the root", c.name);
        assert!(
            c.start_time_unix_nano >= root.start_time_unix_nano
                && c.end_time_unix_nano <= root.end_time_unix_nano
                && c.start_time_unix_nano <= c.end_time_unix_nano,
            "{} lies inside the root's time",
            c.name
        );
    }
    let mut children = children;
    children.sort_by_key(|s| s.start_time_unix_nano);
    (root, children)
}

#[tokio::test]
async fn a_query_is_exported_as_a_genai_span_tree() {
    let (url, received) = collector().await;
    genai_telemetry::otel::init_to(&url, "production-rag-test").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mock, s, client) = crate::model::with_mock_model(config(dir.path())).await;

    mock.enqueue(CHAT, [Reply::chat_stream(&["The coolant pump is inspected ", "every six months [1]."])]);
    let (trace_id, parent, body) = traced_query(&client, &s.base, "How often is the coolant pump inspected?").await;
    let stages = body["trace"]["stages"].as_array().unwrap().len();
    let spans = spans_of(&received, &trace_id, stages + 1).await;
    let (root, children) = tree(&spans, &parent);
    assert_eq!(children.len(), stages, "one span per stage of the JSON trace");
    assert_eq!(text(&root, "rag.cache"), "miss");
    assert_eq!(text(&root, "rag.outcome"), "answered");
    assert!(received.lock().unwrap().iter().any(|(svc, s)| svc == "production-rag-test" && s.trace_id == trace_id));
    let names: Vec<&str> = children.iter().map(|s| s.name.as_str()).collect();
    for want in
        ["rag.cache_exact", "retrieval production-rag", "rag.rerank", "rag.route", "chat gpt-4o-mini", "rag.check"]
    {
        assert!(names.contains(&want), "no {want} span in {names:?}");
    }
    let retrieval = children.iter().find(|s| s.name.starts_with("retrieval")).unwrap();
    assert_eq!(text(retrieval, "gen_ai.operation.name"), "retrieval");
    assert_eq!(text(retrieval, "gen_ai.data_source.id"), "production-rag");
    assert!(int(retrieval, "rag.retrieve.candidates") > 0);
    let chat = children.iter().find(|s| s.name == "chat gpt-4o-mini").unwrap();
    assert_eq!(chat.kind, SpanKind::Client as i32);
    assert_eq!(text(chat, "gen_ai.operation.name"), "chat");
    assert_eq!(text(chat, "gen_ai.request.model"), "gpt-4o-mini");
    assert!(!text(chat, "gen_ai.provider.name").is_empty());
    assert_eq!(int(chat, "gen_ai.usage.output_tokens"), body["trace"]["output_tokens"].as_i64().unwrap());
    assert!(int(chat, "gen_ai.usage.input_tokens") > 0);
    assert!(matches!(attr(chat, "gen_ai.response.time_to_first_chunk"), Some(Any::DoubleValue(t)) if t >= 0.0));
    if let Some(embed) = children.iter().find(|s| s.name.starts_with("embeddings ")) {
        assert_eq!(text(embed, "gen_ai.operation.name"), "embeddings");
    }

    // The same question again: a cache hit, exported as its own short trace.
    let (trace_id, parent, _) = traced_query(&client, &s.base, "how often is the coolant pump inspected").await;
    let spans = spans_of(&received, &trace_id, 2).await;
    let (root, children) = tree(&spans, &parent);
    assert_eq!(text(&root, "rag.cache"), "exact");
    assert_eq!(text(&root, "rag.outcome"), "cached");
    assert_eq!(children.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["rag.cache_exact"]);

    // A model that fails: its span carries the error; the offline answer's span follows.
    let err = || Reply::Status { code: 500, retry_after: None, body: "boom".into() };
    mock.enqueue(CHAT, [err(), err()]);
    let (trace_id, parent, body) = traced_query(&client, &s.base, "When are the pump seals replaced?").await;
    assert_eq!(body["engine"], "extractive", "{body}");
    let stages = body["trace"]["stages"].as_array().unwrap().len();
    let spans = spans_of(&received, &trace_id, stages + 1).await;
    let (_, children) = tree(&spans, &parent);
    let chat = children.iter().find(|s| s.name == "chat gpt-4o-mini").expect("the failed model call's span");
    assert_eq!(chat.status.as_ref().map(|s| s.code), Some(StatusCode::Error as i32));
    assert!(!text(chat, "error.type").is_empty());
    assert!(children.iter().any(|s| s.name == "rag.generate" && text(s, "rag.generate.engine") == "extractive"));
    s.stop().await;
}
