//! How many tokens the model's context window holds, so callers budget prompts to the real
//! model instead of learning it from an HTTP 400.
//!
//! Asked in this order: `OPENAI_CONTEXT_TOKENS`; the server itself where it says (llama.cpp's
//! `/props` gives `default_generation_settings.n_ctx`, vLLM's `/v1/models` gives
//! `max_model_len`); the model family's published window; otherwise unknown.

use std::time::Duration;

/// Published context windows of known model families (tokens), matched by name prefix.
pub fn known_window(model: &str) -> Option<u64> {
    let m = model.to_ascii_lowercase();
    [
        ("gpt-4.1", 1_047_576),
        ("gpt-4o", 128_000),
        ("o1", 200_000),
        ("o3", 200_000),
        ("o4", 200_000),
        ("gpt-4-turbo", 128_000),
        ("gpt-3.5", 16_385),
        ("llama3.1", 128_000),
        ("llama3", 8_192),
        ("mistral", 32_768),
    ]
    .iter()
    .find(|(p, _)| m.starts_with(p))
    .map(|(_, n)| *n)
}

/// The window the server at `base_url` (an OpenAI-compatible `.../v1`) reports, if it does.
pub async fn discover_window(base_url: &str, api_key: Option<&str>, timeout: Duration) -> Option<u64> {
    let client = reqwest::Client::builder().timeout(timeout).build().ok()?;
    let base = base_url.trim_end_matches('/');
    let root = base.strip_suffix("/v1").unwrap_or(base);
    let get = |url: String| {
        let mut req = client.get(url);
        if let Some(key) = api_key.filter(|k| !k.is_empty()) {
            req = req.bearer_auth(key);
        }
        req
    };
    if let Ok(r) = get(format!("{root}/props")).send().await
        && r.status().is_success()
        && let Ok(v) = r.json::<serde_json::Value>().await
        && let Some(n) = v["default_generation_settings"]["n_ctx"].as_u64().or_else(|| v["n_ctx"].as_u64())
    {
        return Some(n);
    }
    if let Ok(r) = get(format!("{base}/models")).send().await
        && r.status().is_success()
        && let Ok(v) = r.json::<serde_json::Value>().await
    {
        return v["data"].as_array()?.iter().find_map(|m| m["max_model_len"].as_u64());
    }
    None
}

/// The context window for the model configured by the environment (see the module docs).
/// An `OPENAI_CONTEXT_TOKENS` that is not a number is an error, not a guess.
pub async fn window_from_env(model: &str) -> Result<Option<u64>, crate::LlmError> {
    if let Ok(v) = std::env::var("OPENAI_CONTEXT_TOKENS")
        && !v.trim().is_empty()
    {
        return v.trim().parse().map(Some).map_err(|_| crate::LlmError::InvalidRequest {
            reason: format!("OPENAI_CONTEXT_TOKENS={v:?} is not a number of tokens"),
        });
    }
    if let Ok(base) = std::env::var("OPENAI_BASE_URL")
        && !base.is_empty()
    {
        let key = std::env::var("OPENAI_API_KEY").ok();
        if let Some(n) = discover_window(&base, key.as_deref(), Duration::from_secs(2)).await {
            return Ok(Some(n));
        }
    }
    Ok(known_window(model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_families_match_by_prefix() {
        assert_eq!(known_window("gpt-4o-mini"), Some(128_000));
        assert_eq!(known_window("Llama3.1:8b"), Some(128_000));
        assert_eq!(known_window("gemma3-270m"), None);
    }
}
