use crate::{CHAT, ask, model};
use futures::StreamExt;
use genai_llm::{ChatModel, LlmError, StreamEvent};
use genai_testkit::{MockOpenAi, Reply};

async fn collect(m: &genai_llm::Resilient) -> (String, Vec<Result<StreamEvent, LlmError>>) {
    let events: Vec<_> = m.stream(&ask("hi")).await.unwrap().collect().await;
    let text = events.iter().filter_map(|e| match e {
        Ok(StreamEvent::Delta(d)) => Some(d.as_str()),
        _ => None,
    });
    (text.collect(), events)
}

#[tokio::test]
async fn streams_deltas_then_one_complete_answer_with_usage() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [Reply::chat_stream(&["The ", "pump ", "is fine."])]);
    let m = model(&mock, |_| {});
    let (text, events) = collect(&m).await;
    assert_eq!(text, "The pump is fine.");
    match events.last() {
        Some(Ok(StreamEvent::Done(r))) => {
            assert_eq!(r.text(), "The pump is fine.");
            assert_eq!(r.usage.output_tokens, 3);
            assert!(!r.usage.counted);
        }
        other => panic!("last event {other:?}"),
    }
    let body = &mock.requests_to(CHAT)[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(m.ledger().entries()[0].outcome, "ok");
}

#[tokio::test]
async fn a_stream_cut_mid_answer_ends_with_stream_cut_and_is_not_restarted() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [Reply::chat_stream_cut(&["The ", "pump "])]);
    let m = model(&mock, |_| {});
    let (text, events) = collect(&m).await;
    assert_eq!(text, "The pump ");
    assert!(matches!(events.last(), Some(Err(LlmError::StreamCut))), "{:?}", events.last());
    assert_eq!(mock.requests_to(CHAT).len(), 1, "text already reached the caller: no silent restart");
    assert_eq!(m.ledger().entries()[0].outcome, "stream_cut");
}

#[tokio::test]
async fn a_stream_that_fails_before_its_first_token_is_retried() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(
        CHAT,
        [Reply::chat_stream_cut(&[]), Reply::Status { code: 503, retry_after: None, body: "busy".into() }],
    );
    let m = model(&mock, |_| {});
    let (text, events) = collect(&m).await;
    assert_eq!(text, "mock answer");
    assert!(matches!(events.last(), Some(Ok(StreamEvent::Done(_)))));
    assert_eq!(mock.requests_to(CHAT).len(), 3);
}
