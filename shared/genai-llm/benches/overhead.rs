//! The LLM layer's own cost per call, against a local mock server.
//!
//! `cargo bench -p genai-llm --bench overhead -- [CALLS] [CONCURRENCY]` (defaults 2000, 32)
//!
//! Three ways to make the same call to the same in-process mock server:
//! 1. raw: one pooled reqwest client POSTs the body and parses the JSON (the floor);
//! 2. provider: `OpenAiModel::chat` (async-openai, our transport, body building and parsing);
//! 3. full stack: `Resilient::chat` (budget check with token counting, rate limiter, breaker,
//!    timeout, ledger, tracing span, metrics).
//!
//! The layer's overhead is (3) − (1) per call. Then N concurrent full-stack calls give throughput.

use genai_llm::{ChatModel, ChatRequest, Message, OpenAiConfig, OpenAiModel, PriceTable, ResilienceConfig, Resilient};
use genai_testkit::MockOpenAi;
use std::sync::Arc;
use std::time::Instant;

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let calls = args.first().copied().unwrap_or(2_000);
    let concurrency = args.get(1).copied().unwrap_or(32);
    let _ = genai_telemetry::prometheus(); // metrics recorded for real, as in the showcase
    let mock = MockOpenAi::start(8).await;
    let config = OpenAiConfig {
        base_url: mock.base_url(),
        model: "gpt-4o-mini".into(),
        api_key_env: "NONE".into(),
        ..OpenAiConfig::default()
    };
    let provider = Arc::new(OpenAiModel::new(&config)?);
    let full = Resilient::new(provider.clone(), ResilienceConfig::default(), Arc::new(PriceTable::default()));
    let req = ChatRequest::new(vec![
        Message::system("You are a maintenance assistant. Answer from the manual, cite pages."),
        Message::user("How often must the coolant pump be inspected, and what is recorded?"),
    ]);
    let body = provider.request_body(&req, false);
    let http = reqwest::Client::new();
    let url = format!("{}/chat/completions", mock.base_url());

    let mut raw = Vec::new();
    let mut prov = Vec::new();
    let mut stack = Vec::new();
    for i in 0..calls + 200 {
        let t = Instant::now();
        let v: serde_json::Value = http.post(&url).json(&body).send().await?.json().await?;
        std::hint::black_box(v);
        let raw_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        std::hint::black_box(provider.chat(&req).await?);
        let prov_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        std::hint::black_box(full.chat(&req).await?);
        let full_ms = t.elapsed().as_secs_f64() * 1e3;
        if i >= 200 {
            raw.push(raw_ms);
            prov.push(prov_ms);
            stack.push(full_ms);
        }
    }
    let over: Vec<f64> = stack.iter().zip(&raw).map(|(s, r)| s - r).collect();
    println!("| path ({calls} sequential calls) | p50 ms | p95 ms |\n|---|---|---|");
    println!("| raw reqwest + JSON parse (floor) | {:.3} | {:.3} |", pct(raw.clone(), 0.5), pct(raw.clone(), 0.95));
    println!("| OpenAiModel::chat | {:.3} | {:.3} |", pct(prov.clone(), 0.5), pct(prov.clone(), 0.95));
    println!("| Resilient::chat (full stack) | {:.3} | {:.3} |", pct(stack.clone(), 0.5), pct(stack.clone(), 0.95));
    println!(
        "| overhead of the layer (full − raw, per call) | {:.3} | {:.3} |",
        pct(over.clone(), 0.5),
        pct(over, 0.95)
    );

    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = calls / concurrency;
    for _ in 0..concurrency {
        let (m, r) = (full.clone(), req.clone());
        tasks.spawn(async move {
            for _ in 0..per_task {
                m.chat(&r).await.expect("mock call");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let secs = start.elapsed().as_secs_f64();
    println!(
        "\n{concurrency} concurrent callers: {} calls in {secs:.2} s → {:.0} calls/s (mock server in the same process)",
        per_task * concurrency,
        (per_task * concurrency) as f64 / secs
    );
    Ok(())
}
