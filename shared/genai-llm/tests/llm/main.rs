//! genai-llm integration tests: every provider failure mode against the mock server, request
//! bodies as snapshots, structured output, budgets, fallback, and the deadline property.

mod budget_and_fallback;
mod faults;
mod props;
mod real_server;
mod requests;
mod streaming;
mod structured;

use genai_core::backoff::Backoff;
use genai_llm::{ChatRequest, Message, OpenAiConfig, OpenAiModel, PriceTable, ResilienceConfig, Resilient};
use genai_testkit::MockOpenAi;
use std::sync::Arc;
use std::time::Duration;

/// A model on the mock server with short, test-sized timings: 4 attempts, 20–80 ms backoff.
pub fn model(mock: &MockOpenAi, tweak: impl FnOnce(&mut ResilienceConfig)) -> Resilient {
    let config = OpenAiConfig {
        base_url: mock.base_url(),
        model: "gpt-4o-mini".into(),
        api_key_env: "GENAI_LLM_TEST_KEY".into(),
        kind: None,
        connect_timeout_ms: 1_000,
    };
    let mut resilience = ResilienceConfig {
        attempt_timeout: Duration::from_millis(400),
        deadline: Duration::from_secs(5),
        backoff: Backoff {
            max_attempts: 4,
            base: Duration::from_millis(20),
            cap: Duration::from_millis(80),
            ..Backoff::default()
        },
        ..ResilienceConfig::default()
    };
    tweak(&mut resilience);
    Resilient::new(Arc::new(OpenAiModel::new(&config).unwrap()), resilience, Arc::new(PriceTable::default()))
}

pub fn ask(text: &str) -> ChatRequest {
    ChatRequest::new(vec![Message::system("You answer briefly."), Message::user(text)])
}

pub const CHAT: &str = "/v1/chat/completions";
