//! The mock OpenAI-compatible server as a process, for benchmarks that need a model with a
//! realistic pace (not for tests: they start `MockOpenAi` in-process).
//!
//! ```sh
//! cargo run --release -p genai-testkit --example mock-openai -- [TTFT_MS] [TOKENS_PER_SEC] [ANSWER_TOKENS]
//! ```
//!
//! Defaults 300, 50 and 60: every streamed chat completion sends its first token after 300 ms,
//! then 50 tokens a second, 60 tokens in all, ending with a citation `[1]`. Prints its base URL
//! (for `OPENAI_BASE_URL`) on the first line of stdout and serves until killed.

use genai_testkit::{MockOpenAi, Reply};
use std::io::Write;
use std::time::Duration;

#[tokio::main]
async fn main() {
    let arg = |i: usize, default: u64| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (ttft_ms, per_sec, tokens) = (arg(1, 300), arg(2, 50).max(1), arg(3, 60).max(1) as usize);
    let words = ["The", "passages", "say", "that", "the", "answer", "is", "given", "here", "in", "detail"];
    let mut parts: Vec<String> = (0..tokens - 1).map(|i| format!("{} ", words[i % words.len()])).collect();
    parts.push("[1].".to_owned());
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let mock = MockOpenAi::start(8).await;
    let paced =
        Reply::chat_stream_paced(&parts, Duration::from_millis(ttft_ms), Duration::from_secs_f64(1.0 / per_sec as f64));
    mock.set_default("/v1/chat/completions", paced);
    println!("{}", mock.base_url());
    let _ = std::io::stdout().flush();
    loop {
        // Requests are recorded for tests; a benchmark would keep them all.
        tokio::time::sleep(Duration::from_secs(1)).await;
        mock.clear_requests();
    }
}
