//! chatbot tests: the window property, conversations against the mock provider (which rejects
//! bad tool-message ordering the way OpenAI does), the offline responder, the HTTP API, and a
//! restart of a real `chatbot serve` process.

mod api;
mod browser;
mod conversation;
mod real_server;
mod restart;
mod window;

use chatbot::{Chatbot, Config, Engine};
use genai_llm::Resilient;
use genai_testkit::MockOpenAi;

pub const CHAT: &str = "/v1/chat/completions";

/// A model on the mock server, with quick retries.
pub fn model(mock: &MockOpenAi) -> Resilient {
    mock.resilient_model("gpt-4o-mini", 2)
}

/// A config in `dir` with a small context, so a few turns already overflow the window.
pub fn small(dir: &std::path::Path, context_tokens: u64) -> Config {
    let mut c = Config { data_dir: dir.to_owned(), ..Config::default() };
    c.memory.context_tokens = context_tokens;
    c.memory.reserve_output = 64;
    c.memory.summary_tokens = 96;
    c.memory.recall_k = 2;
    c.memory.recall_tokens_each = 40;
    c.responder = Engine::Auto;
    c
}

pub async fn offline(dir: &std::path::Path, context_tokens: u64) -> Chatbot {
    Chatbot::open_with(small(dir, context_tokens), None).await.unwrap()
}
