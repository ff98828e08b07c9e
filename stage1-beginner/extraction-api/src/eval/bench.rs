//! `extraction-api bench`: offline engine throughput, guard latency by text size, and the HTTP
//! API's latency percentiles under concurrent load (server and client in this process, sharing
//! the machine's cores: the numbers are a floor for a dedicated server).

use super::quantile;
use crate::{Config, Extractor, schemas};
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Used when no data file is given: invented texts in the shapes the recognisers handle.
const SAMPLES: &[&str] = &[
    "Hi, my name is Laura Pérez and my phone number is +34 612 345 678. Mail me at laura.perez@example.es.",
    "Invoice 2024-117 from Acme Corporation, due 14 March 2025: EUR 1,250.00 to IBAN GB82 WEST 1234 5698 7654 32.",
    "Ship the order to 1200 Harbor View Road, Springfield, IL 62704. Card on file: 4111 1111 1111 1111.",
    "Meeting with Dr. Kenji Watanabe on Tuesday at 10:30 in Berlin; dial-in at https://meet.example.com/room/42.",
    "The server 192.168.10.24 logged a login from 2001:db8::8a2e:370:7334 on 2023-11-02 08:15:00.",
];

pub async fn run(data: Option<&Path>, concurrency: usize, requests: usize) -> anyhow::Result<()> {
    let texts: Vec<String> = match data {
        Some(p) => {
            let records: Vec<super::pii::Record> =
                serde_json::from_str(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)?;
            records.into_iter().map(|r| r.full_text).filter(|t| !t.trim().is_empty()).collect()
        }
        None => SAMPLES.iter().map(|s| (*s).to_owned()).collect(),
    };
    anyhow::ensure!(!texts.is_empty(), "no texts to run");
    let ex = Extractor::new(Config::default(), None);
    offline_throughput(&ex, &texts)?;
    guard_latency(&ex, &texts);
    api_load(ex, &texts, concurrency.max(1), requests.max(1)).await
}

fn offline_throughput(ex: &Extractor, texts: &[String]) -> anyhow::Result<()> {
    let schema = schemas::by_name_compiled("pii")?;
    let bytes_per_pass: usize = texts.iter().map(String::len).sum();
    let start = Instant::now();
    let mut passes = 0;
    while start.elapsed() < Duration::from_secs(3) || passes == 0 {
        for t in texts {
            std::hint::black_box(crate::engine::offline::fill(ex.offline.analyzer(), t, &schema)?);
        }
        passes += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = (bytes_per_pass * passes) as f64 / 1e6;
    println!(
        "offline engine (pii schema, 1 thread): {:.2} MB/s over {} texts × {passes} passes ({:.1} MB in {secs:.1} s)",
        mb / secs,
        texts.len(),
        mb
    );
    Ok(())
}

fn guard_latency(ex: &Extractor, texts: &[String]) {
    let joined = texts.join("\n");
    for kb in [1usize, 10, 100] {
        let mut text: String = joined.chars().cycle().take(kb * 1024).collect();
        while text.len() > kb * 1024 {
            text.pop();
        }
        let mut times: Vec<f64> = (0..50)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(ex.guard.check(&text));
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let p95 = quantile(&mut times, 0.95);
        println!(
            "guard on {kb:>3} KB: p50 {:.3} ms, p95 {p95:.3} ms = {:.3} ms/KB (budget 1 ms/KB)",
            quantile(&mut times, 0.5),
            p95 / kb as f64
        );
    }
}

async fn api_load(ex: Extractor, texts: &[String], concurrency: usize, requests: usize) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/extract", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::api::serve(listener, ex, async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let bodies: Arc<Vec<String>> = Arc::new(
        texts
            .iter()
            .map(|t| serde_json::json!({"text": t, "schema": "pii", "engine": "offline"}).to_string())
            .collect(),
    );
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, bodies, next) = (client.clone(), url.clone(), bodies.clone(), next.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= requests {
                        break;
                    }
                    let body = bodies[i % bodies.len()].clone();
                    let t = Instant::now();
                    let resp = client.post(&url).header("content-type", "application/json").body(body).send().await?;
                    anyhow::ensure!(resp.status().is_success(), "status {}", resp.status());
                    let _: serde_json::Value = resp.json().await?;
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                }
                anyhow::Ok(lat)
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(requests);
    for w in workers {
        lat.extend(w.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = tx.send(());
    server.await??;
    println!(
        "API POST /v1/extract (pii, offline), {concurrency} concurrent clients, {requests} requests: {:.0} req/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
        requests as f64 / secs,
        quantile(&mut lat, 0.5),
        quantile(&mut lat, 0.95),
        quantile(&mut lat, 0.99)
    );
    Ok(())
}
