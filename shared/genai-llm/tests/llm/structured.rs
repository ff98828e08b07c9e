use crate::{CHAT, model};
use genai_llm::{ExtractOptions, LlmError, Message, Role};
use genai_testkit::{MockOpenAi, Reply};

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, PartialEq)]
struct Reading {
    sensor: String,
    value: f64,
}

fn ask() -> Vec<Message> {
    vec![Message::user("Sensor T1 reads 71.5 degrees.")]
}

#[tokio::test]
async fn reasks_with_the_validation_error_until_the_answer_fits() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(
        CHAT,
        [
            Reply::chat_text("{\"sensor\": \"T1\"}"),
            Reply::chat_text("```json\n{\"sensor\": \"T1\", \"value\": 71.5}\n```"),
        ],
    );
    let m = model(&mock, |_| {});
    let got = genai_llm::extract::<Reading>(&m, ask(), &ExtractOptions::default()).await.unwrap();
    assert_eq!(got.value, Reading { sensor: "T1".into(), value: 71.5 });
    assert_eq!(got.attempts, 2);
    assert_eq!(got.usage.input_tokens, 24, "usage summed over both attempts");
    let second = &mock.requests_to(CHAT)[1].body["messages"];
    let last = second.as_array().unwrap().last().unwrap();
    assert!(last["content"].as_str().unwrap().contains("missing field `value`"), "the re-ask quotes the error: {last}");
}

#[tokio::test]
async fn gives_up_with_schema_mismatch_after_the_reasks() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, (0..3).map(|_| Reply::chat_text("not json")));
    let m = model(&mock, |_| {});
    let err = genai_llm::extract::<Reading>(&m, ask(), &ExtractOptions::default()).await.unwrap_err();
    assert!(matches!(err, LlmError::SchemaMismatch { attempts: 3, .. }), "{err}");
    assert_eq!(mock.requests_to(CHAT).len(), 3);
}

#[tokio::test]
async fn transport_failures_are_retried_by_the_retry_layer_not_reasked() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(
        CHAT,
        [
            Reply::Status { code: 500, retry_after: None, body: "oops".into() },
            Reply::chat_text("{\"sensor\":\"T1\",\"value\":1}"),
        ],
    );
    let m = model(&mock, |_| {});
    let got = genai_llm::extract::<Reading>(&m, ask(), &ExtractOptions::default()).await.unwrap();
    assert_eq!(got.attempts, 1, "one extraction attempt, whose call needed two transport attempts");
    let sent = &mock.requests_to(CHAT)[1].body["messages"];
    assert_eq!(sent.as_array().unwrap().len(), 1, "the retry resent the same request, no re-ask message");
    assert_eq!(Role::User, Role::User);
}

#[tokio::test]
async fn the_budget_covers_every_reask() {
    let mock = MockOpenAi::start(8).await;
    // Each bad answer reports 1,000 input and 500 output tokens: $0.00045 at gpt-4o-mini prices.
    let costly = serde_json::json!({"model": "gpt-4o-mini", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "{}"}}], "usage": {"prompt_tokens": 1000, "completion_tokens": 500}});
    mock.enqueue(CHAT, (0..3).map(|_| Reply::Json(costly.clone())));
    let m = model(&mock, |_| {});
    // The worst case of one attempt is about $0.00062 (1,024 output tokens), so $0.0008 allows
    // the first attempt; after it spent $0.00045 the second no longer fits and is never sent.
    let opts = ExtractOptions { budget_usd: Some(0.0008), ..ExtractOptions::default() };
    let err = genai_llm::extract::<Reading>(&m, ask(), &opts).await.unwrap_err();
    assert!(matches!(err, LlmError::BudgetExceeded { scope: "session", .. }), "{err}");
    assert_eq!(mock.requests_to(CHAT).len(), 1, "the second attempt was refused before it was sent");
}
