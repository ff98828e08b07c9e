//! The model path against the mock OpenAI-compatible server: a streamed answer with checked
//! citations and its cost, routing by complexity, failures before and during the stream (the
//! offline answer replaces the discarded text and is not cached), and a client that disconnects
//! mid-stream (the model call is cancelled and what it spent is still recorded).

use crate::{Server, config, corpus, ingest, serve, stages};
use futures::stream::BoxStream;
use genai_llm::{ChatModel, ChatRequest, ChatResponse, LlmError, PriceTable, ResilienceConfig, Resilient, StreamEvent};
use genai_testkit::{MockOpenAi, Reply};
use production_rag::Rag;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const CHAT: &str = "/v1/chat/completions";

async fn sse(client: &reqwest::Client, base: &str, body: Value) -> Vec<(String, Value)> {
    let res =
        client.post(format!("{base}/v1/query")).header("accept", "text/event-stream").json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|block| {
            let event = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((event.to_owned(), serde_json::from_str(data).unwrap()))
        })
        .collect()
}

fn last<'a>(events: &'a [(String, Value)], name: &str) -> &'a Value {
    &events.iter().rev().find(|(e, _)| e == name).unwrap_or_else(|| panic!("no {name} event in {events:?}")).1
}

/// The service on `config`, answering with `gpt-4o-mini` on a fresh mock server (two attempts
/// per call), with the test corpus ingested.
pub async fn with_mock_model(config: production_rag::Config) -> (MockOpenAi, Server, reqwest::Client) {
    let mock = MockOpenAi::start(8).await;
    let rag = Rag::open_with_models(config, mock.resilient_model("gpt-4o-mini", 2), None, None).await.unwrap();
    let s = serve(rag).await;
    let client = reqwest::Client::new();
    ingest(&client, &s.base, &corpus()).await;
    (mock, s, client)
}

#[tokio::test]
async fn a_streamed_model_answer_is_checked_costed_and_cached() {
    let dir = tempfile::tempdir().unwrap();
    let (mock, s, client) = with_mock_model(config(dir.path())).await;
    mock.enqueue(
        CHAT,
        [Reply::chat_stream(&[
            "The coolant pump is inspected ",
            "every six months [1]. ",
            "Seals last two years [7].",
        ])],
    );
    let events = sse(&client, &s.base, json!({"query": "How often is the coolant pump inspected?"})).await;
    let deltas: String =
        events.iter().filter(|(e, _)| e == "delta").map(|(_, d)| d["text"].as_str().unwrap()).collect();
    assert!(deltas.starts_with("The coolant pump is inspected every six months [1]."), "{deltas}");
    let answer = last(&events, "answer");
    assert_eq!(answer["engine"], "llm:gpt-4o-mini");
    assert_eq!(answer["citations"][0]["source"], "pumps.md", "{answer}");
    assert!(answer["flagged"].to_string().contains("citation [7]"), "the invented citation is removed: {answer}");
    let trace = last(&events, "summary");
    assert!(trace["cost_usd"].as_f64().unwrap() > 0.0 && trace["output_tokens"].as_u64().unwrap() > 0, "{trace}");
    assert!(
        stages(trace).ends_with(&["route".into(), "generate".into(), "check".into(), "cache_insert".into()]),
        "{trace}"
    );
    assert!(trace["first_token_ms"].as_f64().is_some());
    let sent = mock.requests_to(CHAT);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body["messages"][1]["content"].as_str().unwrap().contains("inspected every six months"));
    // Asked again: served from the cache, the model is not called.
    let events = sse(&client, &s.base, json!({"query": "how often is the coolant pump inspected"})).await;
    assert_eq!(last(&events, "summary")["cache"], "exact");
    assert_eq!(mock.requests_to(CHAT).len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn complex_questions_are_routed_to_the_strong_model() {
    let mock = MockOpenAi::start(8).await;
    let dir = tempfile::tempdir().unwrap();
    let cheap = mock.resilient_model("cheap-model", 2);
    let strong = mock.resilient_model("strong-model", 2);
    let s = serve(Rag::open_with_models(config(dir.path()), cheap, Some(strong), None).await.unwrap()).await;
    let client = reqwest::Client::new();
    ingest(&client, &s.base, &corpus()).await;
    let simple = sse(&client, &s.base, json!({"query": "When are passwords rotated?"})).await;
    assert_eq!(last(&simple, "summary")["route"]["tier"], "cheap");
    let hard = sse(&client, &s.base, json!({"query": "Why are pumps and boilers serviced differently, and how does that compare with password rotation?"})).await;
    let route = &last(&hard, "summary")["route"];
    assert_eq!(route["tier"], "strong", "{route}");
    let models: Vec<Value> = mock.requests_to(CHAT).iter().map(|r| r.body["model"].clone()).collect();
    assert_eq!(models, [json!("cheap-model"), json!("strong-model")]);
    s.stop().await;
}

#[tokio::test]
async fn model_failures_fall_back_to_the_offline_answer_which_is_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let (mock, s, client) = with_mock_model(config(dir.path())).await;
    let q = json!({"query": "How often is the coolant pump inspected?"});
    // 500 twice: every attempt fails before the stream starts.
    let err = || Reply::Status { code: 500, retry_after: None, body: "boom".into() };
    mock.enqueue(CHAT, [err(), err()]);
    let events = sse(&client, &s.base, q.clone()).await;
    assert_eq!(events.iter().filter(|(e, _)| e == "reset").count(), 1, "{events:?}");
    let answer = last(&events, "answer");
    assert_eq!(answer["engine"], "extractive");
    assert!(answer["text"].as_str().unwrap().contains("six months"));
    assert!(answer["flagged"].to_string().contains("offline extractive answer"), "{answer}");
    // Cut mid-stream: the text streamed so far is discarded by a reset, the offline answer follows.
    mock.enqueue(CHAT, [Reply::chat_stream_cut(&["The pump is ", "inspected"])]);
    let events = sse(&client, &s.base, q.clone()).await;
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    let reset = names.iter().position(|e| *e == "reset").expect("a reset");
    assert!(names[..reset].contains(&"delta"), "{names:?}");
    assert_eq!(last(&events, "answer")["engine"], "extractive");
    assert_ne!(last(&events, "summary")["cache"], "exact", "a fallback answer was cached");
    // The model is back: its answer is given (and now cached).
    mock.enqueue(CHAT, [Reply::chat_stream(&["Every six months [1]."])]);
    let events = sse(&client, &s.base, q.clone()).await;
    assert_eq!(last(&events, "answer")["engine"], "llm:gpt-4o-mini");
    let events = sse(&client, &s.base, q).await;
    assert_eq!(last(&events, "summary")["cache"], "exact");
    s.stop().await;
}

/// A model that streams a word every 20 ms forever and notes when its stream is dropped.
#[derive(Debug)]
struct Endless {
    dropped: Arc<AtomicBool>,
}

struct OnDrop(Arc<AtomicBool>);
impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl ChatModel for Endless {
    fn name(&self) -> &str {
        "endless-model"
    }
    fn endpoint(&self) -> &str {
        "endless://"
    }
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, LlmError> {
        unreachable!("the service streams")
    }
    async fn stream(&self, _: &ChatRequest) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        let guard = OnDrop(self.dropped.clone());
        Ok(Box::pin(futures::stream::unfold(guard, |g| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok(StreamEvent::Delta("pumps ".into())), g))
        })))
    }
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_model_call_and_its_cost_is_recorded() {
    let dropped = Arc::new(AtomicBool::new(false));
    let model = Resilient::new(
        Arc::new(Endless { dropped: dropped.clone() }),
        ResilienceConfig::default(),
        Arc::new(PriceTable::default()),
    );
    let dir = tempfile::tempdir().unwrap();
    let s = serve(Rag::open_with_models(config(dir.path()), model, None, None).await.unwrap()).await;
    let client = reqwest::Client::new();
    ingest(&client, &s.base, &corpus()).await;
    let mut res = client
        .post(format!("{}/v1/query", s.base))
        .header("accept", "text/event-stream")
        .json(&json!({"query": "How often is the coolant pump inspected?"}))
        .send()
        .await
        .unwrap();
    let first = res.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("delta"));
    drop(res);
    for _ in 0..100 {
        if dropped.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dropped.load(Ordering::SeqCst), "the model stream outlived its client");
    // The spend is recorded just after the stream is dropped.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = genai_telemetry::render_metrics();
    assert!(after.contains("rag_cancelled_total"), "{after}");
    let tokens = |m: &str| {
        m.lines()
            .filter(|l| {
                l.starts_with("rag_tokens_total") && l.contains("endless-model") && l.contains("kind=\"input\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    assert!(tokens(&after) > 0.0, "the cancelled call's tokens were not recorded: {after}");
    s.stop().await;
}

#[tokio::test]
async fn queries_are_rewritten_by_the_cheap_model_within_a_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (mock, s, client) = with_mock_model(production_rag::Config { rewrite: true, ..config(dir.path()) }).await;
    // The question shares no word with the pump document; one rewrite does.
    mock.enqueue(
        CHAT,
        [
            Reply::chat_text(r#"{"queries": ["coolant pump seals replaced", "pump seal replacement interval"]}"#),
            Reply::chat_stream(&["Every two years [1]."]),
        ],
    );
    let events =
        sse(&client, &s.base, json!({"query": "How long do the gaskets of the cooling circulator last?"})).await;
    let trace = last(&events, "summary");
    let names = stages(trace);
    let at = |n: &str| names.iter().position(|s| s == n).unwrap_or_else(|| panic!("no {n} stage in {names:?}"));
    assert!(at("rewrite") < at("retrieve") && at("retrieve") < at("generate"), "{names:?}");
    let rewrite = &trace["stages"][at("rewrite")]["detail"];
    assert_eq!((rewrite["outcome"].as_str(), rewrite["queries"].as_u64()), (Some("rewritten"), Some(2)), "{rewrite}");
    assert!(
        trace["passages"].as_array().unwrap().iter().any(|p| p["source"] == "pumps.md"),
        "the rewritten queries found the pump document: {trace}"
    );
    let sent = mock.requests_to(CHAT);
    assert_eq!(sent.len(), 2, "one rewrite call, one answer call");
    assert!(sent[0].body["messages"][0]["content"].as_str().unwrap().contains("search queries"));
    assert_eq!(last(&events, "answer")["engine"], "llm:gpt-4o-mini");

    // The rewriter fails: the search goes on with the original query and says why.
    let err = || Reply::Status { code: 500, retry_after: None, body: "boom".into() };
    mock.enqueue(CHAT, [err(), err(), Reply::chat_stream(&["Passwords are rotated every ninety days [1]."])]);
    let events = sse(&client, &s.base, json!({"query": "How often are passwords rotated?"})).await;
    let trace = last(&events, "summary");
    let rewrite = trace["stages"].as_array().unwrap().iter().find(|s| s["name"] == "rewrite").unwrap();
    assert_eq!(rewrite["detail"]["outcome"], "partial", "{rewrite}");
    assert_eq!(trace["passages"][0]["source"], "security.md", "{trace}");
    assert_eq!(last(&events, "answer")["engine"], "llm:gpt-4o-mini");
    s.stop().await;
}
