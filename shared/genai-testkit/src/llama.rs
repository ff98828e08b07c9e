//! The real llama-server that `.ci/run` starts (`scripts/llama-server.sh`), for each
//! milestone's model-path conformance test: `LLAMA_SERVER_URL` names it.

use genai_llm::{OpenAiConfig, OpenAiModel, PriceTable, ResilienceConfig, Resilient, ServerKind};
use std::sync::Arc;
use std::time::Duration;

/// The server's model with timeouts for a small CPU model, and the context window the server
/// reports. `None` (and a SKIPPED line) when `LLAMA_SERVER_URL` is unset; a set but silent
/// server fails the test.
pub async fn llama_server() -> Option<(Resilient, u64)> {
    let Ok(url) = std::env::var("LLAMA_SERVER_URL") else {
        eprintln!("SKIPPED: real llama-server tests (LLAMA_SERVER_URL is not set)");
        return None;
    };
    let window = genai_llm::context::discover_window(&url, None, Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("LLAMA_SERVER_URL={url} is set but its /props does not answer"));
    let config = OpenAiConfig {
        base_url: url,
        model: "gemma-3-270m".into(),
        // No key: llama-server runs without one here; a variable nobody sets keeps it that way.
        api_key_env: "GENAI_TESTKIT_NO_KEY".into(),
        kind: Some(ServerKind::LlamaCpp),
        connect_timeout_ms: 2_000,
    };
    let resilience = ResilienceConfig {
        attempt_timeout: Duration::from_secs(90),
        deadline: Duration::from_secs(180),
        ..ResilienceConfig::default()
    };
    let model = OpenAiModel::new(&config).expect("a valid llama-server configuration");
    Some((Resilient::new(Arc::new(model), resilience, Arc::new(PriceTable::default())), window))
}
