//! One test per provider failure mode, asserting attempts, waits, breaker state and ledger.

use crate::{CHAT, ask, model};
use genai_llm::resilience::BreakerState;
use genai_llm::{ChatModel, LlmError, Message};
use genai_testkit::{MockOpenAi, Reply};
use std::time::{Duration, Instant};

fn status(code: u16, retry_after: Option<u64>) -> Reply {
    Reply::Status { code, retry_after, body: format!("{{\"error\":{{\"message\":\"status {code}\"}}}}") }
}

#[tokio::test]
async fn rate_limited_429_waits_for_retry_after_then_succeeds() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [status(429, Some(1))]);
    let m = model(&mock, |_| {});
    let start = Instant::now();
    let r = m.chat(&ask("hi")).await.unwrap();
    let waited = start.elapsed();
    assert_eq!(r.text(), "mock answer");
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_millis(1_600), "waited {waited:?}");
    let entry = &m.ledger().entries()[0];
    assert_eq!((entry.attempts, entry.outcome.as_str()), (2, "ok"));
    assert_eq!(mock.requests_to(CHAT).len(), 2);
}

#[tokio::test]
async fn server_errors_500_and_503_are_retried_with_backoff() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [status(500, None), status(503, None)]);
    let m = model(&mock, |_| {});
    m.chat(&ask("hi")).await.unwrap();
    assert_eq!(m.ledger().entries()[0].attempts, 3);
    assert_eq!(m.breaker().state(), BreakerState::Closed { consecutive_failures: 0 }, "success closes the breaker");
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    for code in [400, 401, 403, 404, 422] {
        let mock = MockOpenAi::start(8).await;
        mock.enqueue(CHAT, [status(code, None)]);
        let m = model(&mock, |_| {});
        let err = m.chat(&ask("hi")).await.unwrap_err();
        assert!(matches!(err, LlmError::Http { status, .. } if status == code), "{code}: {err}");
        assert_eq!(mock.requests_to(CHAT).len(), 1, "{code} must not be retried");
        assert_eq!(m.ledger().entries()[0].outcome, "client_error");
    }
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, (0..10).map(|_| status(502, None)));
    let m = model(&mock, |_| {});
    let err = m.chat(&ask("hi")).await.unwrap_err();
    assert!(matches!(err, LlmError::Http { status: 502, .. }));
    assert_eq!(mock.requests_to(CHAT).len(), 4);
}

#[tokio::test]
async fn a_slow_attempt_times_out_and_the_retry_succeeds() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [Reply::Delay(Duration::from_secs(2), Box::new(Reply::chat_text("too late")))]);
    let m = model(&mock, |_| {});
    let start = Instant::now();
    assert_eq!(m.chat(&ask("hi")).await.unwrap().text(), "mock answer");
    assert!(start.elapsed() < Duration::from_secs(1), "gave up on the slow attempt at its 400 ms timeout");
    assert_eq!(m.ledger().entries()[0].attempts, 2);
}

#[tokio::test]
async fn the_overall_deadline_is_never_exceeded() {
    let mock = MockOpenAi::start(8).await;
    let slow = || Reply::Delay(Duration::from_secs(3), Box::new(Reply::chat_text("late")));
    mock.enqueue(CHAT, (0..6).map(|_| slow()));
    let m = model(&mock, |c| {
        c.attempt_timeout = Duration::from_millis(300);
        c.deadline = Duration::from_millis(700);
    });
    let start = Instant::now();
    let err = m.chat(&ask("hi")).await.unwrap_err();
    let took = start.elapsed();
    assert!(took <= Duration::from_millis(800), "took {took:?} against a 700 ms deadline");
    assert!(matches!(err, LlmError::DeadlineExceeded(_) | LlmError::AttemptTimeout(_)), "{err}");
}

#[tokio::test]
async fn malformed_json_and_empty_choices_are_typed_and_retried() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [Reply::Malformed("{\"choices\": [".into()), Reply::Json(serde_json::json!({"choices": []}))]);
    let m = model(&mock, |_| {});
    assert_eq!(m.chat(&ask("hi")).await.unwrap().text(), "mock answer");
    assert_eq!(m.ledger().entries()[0].attempts, 3);

    let once = model(&mock, |c| c.backoff.max_attempts = 1);
    mock.enqueue(CHAT, [Reply::Malformed("not json at all".into())]);
    assert!(matches!(once.chat(&ask("hi")).await, Err(LlmError::Malformed { .. })));
    mock.enqueue(CHAT, [Reply::Json(serde_json::json!({"choices": []}))]);
    assert!(matches!(once.chat(&ask("hi")).await, Err(LlmError::EmptyChoices)));
}

#[tokio::test]
async fn length_and_content_filter_finishes_are_errors_not_retried() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [Reply::chat_finish("partial answ", "length"), Reply::chat_finish("", "content_filter")]);
    let m = model(&mock, |_| {});
    assert!(matches!(m.chat(&ask("hi")).await, Err(LlmError::Truncated { max_tokens: 1024 })));
    assert!(matches!(m.chat(&ask("hi")).await, Err(LlmError::ContentFiltered)));
    assert_eq!(mock.requests_to(CHAT).len(), 2);
}

#[tokio::test]
async fn tool_calls_parse_and_unparsable_arguments_are_typed() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(
        CHAT,
        [
            Reply::chat_tool_call("call_1", "lookup", "{\"city\": \"Oslo\"}"),
            Reply::chat_tool_call("call_2", "lookup", "{city: Oslo"),
        ],
    );
    let m = model(&mock, |_| {});
    let r = m.chat(&ask("weather?")).await.unwrap();
    assert_eq!(r.message.tool_calls[0].name, "lookup");
    let args: serde_json::Value = r.message.tool_calls[0].parse_arguments().unwrap();
    assert_eq!(args["city"], "Oslo");
    let err = m.chat(&ask("weather?")).await.unwrap_err();
    assert!(matches!(err, LlmError::InvalidToolArguments { ref tool, .. } if tool == "lookup"), "{err}");
}

#[tokio::test]
async fn wrong_tool_message_order_is_rejected_like_openai_and_not_retried() {
    let mock = MockOpenAi::start(8).await;
    let m = model(&mock, |_| {});
    let mut req = ask("hi");
    req.messages.push(Message::tool_result("call_9", "42"));
    let err = m.chat(&req).await.unwrap_err();
    assert!(
        matches!(err, LlmError::Http { status: 400, ref body, .. } if body.contains("role 'tool' must be a response")),
        "{err}"
    );
    assert_eq!(mock.requests_to(CHAT).len(), 1);
}

#[tokio::test]
async fn the_breaker_opens_fails_fast_and_probes_after_cooldown() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [status(500, None), status(500, None)]);
    let m = model(&mock, |c| {
        c.backoff.max_attempts = 1;
        c.breaker.failure_threshold = 2;
        c.breaker.cooldown = Duration::from_millis(300);
    });
    assert!(m.chat(&ask("a")).await.is_err());
    assert!(m.chat(&ask("b")).await.is_err());
    assert!(matches!(m.breaker().state(), BreakerState::Open { .. }));
    let start = Instant::now();
    assert!(matches!(m.chat(&ask("c")).await, Err(LlmError::CircuitOpen { .. })));
    assert!(start.elapsed() < Duration::from_millis(50), "open breaker fails fast");
    assert_eq!(mock.requests_to(CHAT).len(), 2, "no request while open");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(m.chat(&ask("d")).await.unwrap().text(), "mock answer", "the half-open probe goes through");
    assert_eq!(m.breaker().state(), BreakerState::Closed { consecutive_failures: 0 });
}

#[tokio::test]
async fn client_side_rate_limit_fails_when_the_wait_is_too_long() {
    let mock = MockOpenAi::start(8).await;
    let m = model(&mock, |c| {
        c.rate.requests_per_minute = Some(2.0);
        c.rate.max_wait = Some(Duration::from_millis(100));
    });
    m.chat(&ask("1")).await.unwrap();
    m.chat(&ask("2")).await.unwrap();
    assert!(matches!(m.chat(&ask("3")).await, Err(LlmError::RateLimited { .. })));
    assert_eq!(mock.requests_to(CHAT).len(), 2);
}

#[tokio::test]
async fn usage_is_counted_when_the_server_omits_it() {
    let mock = MockOpenAi::start(8).await;
    let no_usage = serde_json::json!({"model": "gpt-4o-mini", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "hello there"}}]});
    mock.enqueue(CHAT, [Reply::Json(no_usage)]);
    let m = model(&mock, |_| {});
    let r = m.chat(&ask("hi")).await.unwrap();
    assert!(r.usage.counted);
    assert_eq!(r.usage.output_tokens, 2);
    assert!(r.usage.input_tokens > 10);
    let e = &m.ledger().entries()[0];
    assert!(e.cost_usd > 0.0, "priced from counted tokens");
}

#[tokio::test]
async fn calls_land_in_prometheus_metrics() {
    let handle = genai_telemetry::prometheus();
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [status(503, None)]);
    let m = model(&mock, |_| {});
    m.chat(&ask("hi")).await.unwrap();
    let text = handle.render();
    for name in [
        "genai_llm_requests_total",
        "genai_llm_retries_total",
        "genai_llm_latency_seconds",
        "genai_llm_input_tokens_total",
        "genai_llm_cost_microdollars_total",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("reason=\"server_error\""), "retries are labelled by reason");
}
