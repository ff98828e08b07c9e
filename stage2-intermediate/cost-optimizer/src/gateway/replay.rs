//! Real models' recorded answers, served live: an OpenAI-compatible server that answers a
//! recorded prompt with the recorded model's recorded answer, and a driver that sends a split's
//! prompts through the real gateway over HTTP and scores what came back with the recorded
//! correctness and dollar costs.
//!
//! This is how the gateway is checked end to end offline: the same policy file, applied by the
//! running gateway to live requests, must reproduce what `eval` measured on the test split
//! (same embedder, same features, same answers for the cascade's scorers).

use super::config::{CacheSettings, Tier, UpstreamConfig};
use super::{Gateway, GatewayConfig};
use crate::data::Outcomes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use genai_eval::stats::{self, Interval, Paired};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Prompt → answer, per recorded model.
type Answers = Arc<HashMap<String, HashMap<String, String>>>;

fn prompt_of(body: &Value) -> Option<&str> {
    body["messages"].as_array()?.iter().rev().find(|m| m["role"] == "user")?["content"].as_str()
}

async fn answer(State(answers): State<Answers>, Json(body): Json<Value>) -> Response {
    let model = body["model"].as_str().unwrap_or_default();
    let found = prompt_of(&body).and_then(|p| answers.get(model)?.get(p));
    let Some(text) = found else {
        let e = json!({"error": {"message": format!("no recorded answer of {model:?} for this prompt"), "type": "not_found"}});
        return (StatusCode::NOT_FOUND, Json(e)).into_response();
    };
    let words = |t: &str| t.split_whitespace().count() as u64;
    let (input, output) = (words(prompt_of(&body).unwrap_or_default()), words(text).max(1));
    Json(json!({
        "id": "chatcmpl-replay", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}
    }))
    .into_response()
}

/// Starts the replay server for `outcomes` on a loopback port; returns its base URL (with
/// `/v1`). Models without recorded answers answer with a placeholder (their correctness is
/// still the recorded one; only a cascade's scorer reads answers, and it needs the real ones).
pub async fn start_server(outcomes: &Outcomes) -> std::io::Result<String> {
    let mut answers: HashMap<String, HashMap<String, String>> = HashMap::new();
    for row in &outcomes.rows {
        for (m, name) in outcomes.models.iter().enumerate() {
            let text = row.responses.get(m).cloned().flatten().unwrap_or_else(|| "(no recorded answer)".into());
            answers.entry(name.clone()).or_default().insert(row.prompt.clone(), text);
        }
    }
    let app = Router::new().route("/v1/chat/completions", axum::routing::post(answer)).with_state(Arc::new(answers));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// What the gateway did with a split's prompts, scored with the recorded outcomes.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub task: String,
    pub policy: String,
    pub questions: usize,
    /// Recorded correctness of the answers the gateway returned.
    pub accuracy: Interval,
    /// Recorded dollars (or strong calls) of every upstream call the gateway made, per question.
    pub mean_cost: Interval,
    /// 1 − cost / the best model's cost on the same questions.
    pub saving: Interval,
    /// Against always asking the best model (b − a: negative is a loss).
    pub vs_best: Paired,
    pub best: String,
    /// Share of answers each model gave.
    pub served_by: Vec<(String, f64)>,
    /// Requests the gateway failed (none expected).
    pub failed: usize,
}

/// Sends every prompt of `outcomes` through a gateway applying `policy` (upstreams: the replay
/// server, one per recorded model), `concurrency` at a time, and scores the answers.
pub async fn drive(
    outcomes: &Outcomes,
    best: usize,
    policy: &std::path::Path,
    model_dir: Option<std::path::PathBuf>,
    concurrency: usize,
) -> anyhow::Result<ReplayReport> {
    use futures::StreamExt;
    let base_url = start_server(outcomes).await?;
    let upstreams = outcomes
        .models
        .iter()
        .map(|m| UpstreamConfig {
            name: m.clone(),
            model: None,
            base_url: base_url.clone(),
            api_key_env: None,
            tier: Tier::Strong,
            input_usd_per_mtok: None,
            output_usd_per_mtok: None,
        })
        .collect();
    let config = GatewayConfig {
        upstreams,
        policy: Some(policy.to_owned()),
        model_dir,
        cache: CacheSettings { enabled: false, ..CacheSettings::default() },
        ..GatewayConfig::default()
    };
    let gateway = Gateway::new(config)?;
    let policy_name = gateway.inner.policy.as_ref().map(|p| p.saved.kind.name()).unwrap_or_default().to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/chat/completions", listener.local_addr()?);
    tokio::spawn(super::serve(listener, gateway, std::future::pending()));
    let http = reqwest::Client::new();
    let index: HashMap<&str, usize> = outcomes.models.iter().enumerate().map(|(i, m)| (m.as_str(), i)).collect();
    let results: Vec<Option<(usize, Vec<usize>)>> = futures::stream::iter(&outcomes.rows)
        .map(|row| {
            let (http, url, index) = (http.clone(), url.clone(), &index);
            async move {
                let body = json!({"model": "auto", "messages": [{"role": "user", "content": row.prompt}]});
                let r = http.post(url).json(&body).send().await.ok().filter(|r| r.status().is_success())?;
                let header = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let served = *index.get(header("x-gateway-served-by").as_str())?;
                let asked = header("x-gateway-asked").split(',').filter_map(|m| index.get(m).copied()).collect();
                Some((served, asked))
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut quality = Vec::new();
    let mut cost = Vec::new();
    let mut share = vec![0usize; outcomes.models.len()];
    let mut best_q = Vec::new();
    let mut best_c = Vec::new();
    let mut failed = 0;
    for (row, result) in outcomes.rows.iter().zip(&results) {
        let Some((served, asked)) = result else {
            failed += 1;
            continue;
        };
        quality.push(Some(row.correct[*served]));
        cost.push(asked.iter().map(|&m| row.cost[m]).sum::<f64>());
        share[*served] += 1;
        best_q.push(Some(row.correct[best]));
        best_c.push(row.cost[best]);
    }
    let n = quality.len();
    anyhow::ensure!(n > 0, "every request through the gateway failed");
    let saving = stats::bootstrap(n, |idx| {
        let base: f64 = idx.iter().map(|&i| best_c[i]).sum();
        if base > 0.0 { 1.0 - idx.iter().map(|&i| cost[i]).sum::<f64>() / base } else { f64::NAN }
    });
    Ok(ReplayReport {
        task: outcomes.task.clone(),
        policy: policy_name,
        questions: n,
        accuracy: stats::interval(&quality),
        mean_cost: stats::interval(&cost.iter().map(|&c| Some(c)).collect::<Vec<_>>()),
        saving,
        vs_best: stats::paired(&best_q, &quality),
        best: outcomes.models[best].clone(),
        served_by: outcomes
            .models
            .iter()
            .zip(&share)
            .filter(|(_, s)| **s > 0)
            .map(|(m, &s)| (m.clone(), s as f64 / n as f64))
            .collect(),
        failed,
    })
}
