use crate::{CHAT, ask, model};
use genai_llm::{ChatModel, FallbackChain, LlmError, SessionBudget};
use genai_testkit::{MockOpenAi, Reply};
use std::sync::Arc;

#[tokio::test]
async fn a_request_over_its_budget_is_refused_before_it_is_sent() {
    let mock = MockOpenAi::start(8).await;
    let m = model(&mock, |c| c.request_budget_usd = Some(0.0001));
    let err = m.chat(&ask("hi")).await.unwrap_err();
    assert!(matches!(err, LlmError::BudgetExceeded { scope: "request", .. }), "{err}");
    assert!(mock.requests_to(CHAT).is_empty());
    assert_eq!(m.ledger().entries()[0].outcome, "budget");
}

#[tokio::test]
async fn a_session_budget_is_charged_by_every_call_and_then_refuses() {
    let mock = MockOpenAi::start(8).await;
    let session = Arc::new(SessionBudget::new(0.0014));
    let m = model(&mock, |_| {}).with_session(session.clone());
    m.chat(&ask("one")).await.unwrap();
    m.chat(&ask("two")).await.unwrap();
    assert!(session.spent() > 0.0);
    // Each worst case is ~$0.0006; spent is tiny, so the third call still fits... until it does not.
    let mut refused = false;
    for _ in 0..10 {
        if let Err(e) = m.chat(&ask("more")).await {
            assert!(matches!(e, LlmError::BudgetExceeded { scope: "session", .. }));
            refused = true;
            break;
        }
    }
    assert!(refused || session.spent() + 0.0006 <= 0.0014);
    let spent: f64 = m.ledger().entries().iter().map(|e| e.cost_usd).sum();
    assert!((spent - session.spent()).abs() < 1e-6, "ledger and session agree");
}

#[tokio::test]
async fn the_fallback_chain_records_why_each_step_was_taken() {
    let primary = MockOpenAi::start(8).await;
    let secondary = MockOpenAi::start(8).await;
    primary.enqueue(CHAT, (0..4).map(|_| Reply::Status { code: 503, retry_after: None, body: "down".into() }));
    secondary.enqueue(CHAT, [Reply::chat_text("from the secondary")]);
    let chain = FallbackChain::new(vec![
        Arc::new(model(&primary, |c| c.backoff.max_attempts = 2)),
        Arc::new(model(&secondary, |_| {})),
    ]);
    assert_eq!(chain.chat(&ask("hi")).await.unwrap().text(), "from the secondary");
    let trace = &chain.traces()[0];
    assert_eq!(trace.len(), 2);
    assert!(trace[0].failed_with.as_deref().unwrap().contains("503"));
    assert_eq!(trace[1].failed_with, None);
    assert_eq!(primary.requests_to(CHAT).len(), 2, "the primary's own retries ran first");
}

#[tokio::test]
async fn when_every_step_fails_the_caller_gets_the_story_and_runs_offline() {
    let a = MockOpenAi::start(8).await;
    let b = MockOpenAi::start(8).await;
    for m in [&a, &b] {
        m.enqueue(CHAT, (0..4).map(|_| Reply::Status { code: 500, retry_after: None, body: "down".into() }));
    }
    let chain = FallbackChain::new(vec![
        Arc::new(model(&a, |c| c.backoff.max_attempts = 1)),
        Arc::new(model(&b, |c| c.backoff.max_attempts = 1)),
    ]);
    let answer = match chain.chat(&ask("hi")).await {
        Ok(r) => r.text().to_owned(),
        Err(LlmError::FallbackExhausted(steps)) => {
            assert_eq!(steps.len(), 2);
            "offline extractive answer".to_owned()
        }
        Err(other) => panic!("{other}"),
    };
    assert_eq!(answer, "offline extractive answer");
}

#[tokio::test]
async fn a_budget_error_stops_the_chain() {
    let a = MockOpenAi::start(8).await;
    let b = MockOpenAi::start(8).await;
    let chain = FallbackChain::new(vec![
        Arc::new(model(&a, |c| c.request_budget_usd = Some(0.0))),
        Arc::new(model(&b, |_| {})),
    ]);
    assert!(matches!(chain.chat(&ask("hi")).await, Err(LlmError::FallbackExhausted(s)) if s.len() == 1));
    assert!(b.requests_to(CHAT).is_empty(), "another model would not make the caller's budget bigger");
}

#[tokio::test]
async fn concurrent_calls_never_jointly_cross_a_session_budget() {
    // Every answer uses all of `max_tokens`, so a call costs about its worst case; each is slow
    // (200 ms), so all twelve are in flight together. Checking the budget and charging it later
    // would let all twelve through; holding each call's worst case lets at most four.
    let mock = MockOpenAi::start(32).await;
    let answer = serde_json::json!({"id": "c", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 64, "total_tokens": 84}});
    let slow = || Reply::Delay(std::time::Duration::from_millis(200), Box::new(Reply::Json(answer.clone())));
    mock.enqueue(CHAT, (0..13).map(|_| slow()));
    let mut req = ask("hi");
    req.max_tokens = 64;
    let probe = Arc::new(SessionBudget::new(1.0));
    model(&mock, |_| {}).with_session(probe.clone()).chat(&req).await.unwrap();
    let one = probe.spent();
    assert!(one > 0.0);
    let session = Arc::new(SessionBudget::new(4.5 * one));
    let m = model(&mock, |_| {}).with_session(session.clone());
    let calls = (0..12).map(|_| {
        let (m, req) = (m.clone(), req.clone());
        tokio::spawn(async move { m.chat(&req).await })
    });
    let results: Vec<_> = futures::future::join_all(calls).await.into_iter().map(Result::unwrap).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, LlmError::BudgetExceeded { .. })));
    assert!((1..=4).contains(&ok), "{ok} calls got through");
    assert!(session.spent() <= session.limit() + 1e-12, "spent {} of {}", session.spent(), session.limit());
    assert!((session.committed() - session.spent()).abs() < 1e-12, "every hold was settled or released");
}
