//! What the gateway adds to a call's latency, at 32 concurrent clients against the mock server.
//!
//! `cargo bench -p cost-optimizer --bench gateway -- [REQUESTS] [CLIENTS] [POLICY_FILE]`
//! (defaults 4000, 32, none)
//!
//! Every client alternates two identical requests to the same in-process mock server: one
//! straight to it, one through the gateway (key check, parsing, routing, budget reservation,
//! genai-llm's resilience layer, ledger, metrics; the cache is off so every request goes
//! upstream). Added latency is gateway − direct, compared per percentile over all requests.
//! With a policy file the routing embeds each prompt (MiniLM: `EMBED_MODEL_DIR`) and shows
//! what a learned router costs on top.

use cost_optimizer::gateway::config::{CacheSettings, KeyConfig, Tier, UpstreamConfig};
use cost_optimizer::gateway::{Gateway, GatewayConfig};
use genai_testkit::MockOpenAi;
use serde_json::json;
use std::time::Instant;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let requests: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(4_000);
    let clients: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(32);
    let policy = args.get(2).map(std::path::PathBuf::from);
    let _ = genai_telemetry::prometheus(); // metrics recorded for real, as when served
    let mock = MockOpenAi::start(8).await;
    let upstream = |name: &String, tier| UpstreamConfig {
        name: name.clone(),
        model: None,
        base_url: mock.base_url(),
        api_key_env: None,
        tier,
        input_usd_per_mtok: Some(1.0),
        output_usd_per_mtok: Some(1.0),
    };
    let mut names = vec![("cheap-model".to_owned(), Tier::Cheap), ("strong-model".to_owned(), Tier::Strong)];
    if let Some(p) = &policy {
        // A policy names its recorded models: give each an upstream on the mock.
        let saved = cost_optimizer::policy::SavedPolicy::load(p)?;
        names = saved.models.iter().map(|m| (m.clone(), Tier::Strong)).collect();
    }
    let config = GatewayConfig {
        upstreams: names.iter().map(|(n, t)| upstream(n, *t)).collect(),
        keys: vec![KeyConfig {
            id: "bench".into(),
            key_sha256: None,
            key: Some("sk-bench".into()),
            budget_usd: Some(1e9),
        }],
        cache: CacheSettings { enabled: false, ..CacheSettings::default() },
        policy,
        ..GatewayConfig::default()
    };
    let gateway = Gateway::new(config)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gw = format!("http://{}/v1/chat/completions", listener.local_addr()?);
    tokio::spawn(cost_optimizer::gateway::serve(listener, gateway, std::future::pending()));
    let direct = format!("{}/chat/completions", mock.base_url());
    let body = json!({"model": "auto", "max_tokens": 64, "messages": [
        {"role": "system", "content": "You are a maintenance assistant. Answer from the manual, cite pages."},
        {"role": "user", "content": "How often must the coolant pump be inspected, and what is recorded?"}]});
    let http = reqwest::Client::builder().pool_max_idle_per_host(2 * clients).build()?;
    let send = move |url: String| {
        let (http, body) = (http.clone(), body.clone());
        async move {
            let t = Instant::now();
            let r = http.post(url).bearer_auth("sk-bench").json(&body).send().await?;
            anyhow::ensure!(r.status().is_success(), "HTTP {}", r.status());
            r.bytes().await?;
            Ok::<f64, anyhow::Error>(t.elapsed().as_secs_f64() * 1e3)
        }
    };
    // Warm up connections and code paths.
    for _ in 0..200 {
        send(direct.clone()).await?;
        send(gw.clone()).await?;
    }
    mock.clear_requests();
    let per_client = requests.div_ceil(clients);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (send, direct, gw) = (send.clone(), direct.clone(), gw.clone());
            tokio::spawn(async move {
                let (mut d, mut g) = (Vec::new(), Vec::new());
                for i in 0..per_client {
                    // Alternate which goes first, so neither always meets a warmer server.
                    if (i + c) % 2 == 0 {
                        d.push(send(direct.clone()).await?);
                        g.push(send(gw.clone()).await?);
                    } else {
                        g.push(send(gw.clone()).await?);
                        d.push(send(direct.clone()).await?);
                    }
                }
                Ok::<_, anyhow::Error>((d, g))
            })
        })
        .collect();
    let (mut d, mut g) = (Vec::new(), Vec::new());
    for t in tasks {
        let (a, b) = t.await??;
        d.extend(a);
        g.extend(b);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} requests each way, {clients} concurrent clients, {:.0} requests/s in all",
        d.len(),
        2.0 * d.len() as f64 / secs
    );
    println!("{:<10} {:>10} {:>10} {:>10}", "ms", "direct", "gateway", "added");
    for (label, p) in [("p50", 0.50), ("p95", 0.95), ("p99", 0.99)] {
        let (a, b) = (pct(&mut d, p), pct(&mut g, p));
        println!("{label:<10} {a:>10.3} {b:>10.3} {:>10.3}", b - a);
    }
    Ok(())
}
