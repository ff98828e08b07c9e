//! HTTP: the OpenAI-compatible routes, the ledger, health, metrics and the OpenAPI description.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/chat/completions` | OpenAI's chat completions, streamed (`"stream": true`) or whole; `model: "auto"` lets the gateway choose |
//! | `GET /v1/models` | `auto` and every upstream |
//! | `GET /v1/ledger?limit=N` | the last requests (newest first) and totals per key: spend, baseline, saving |
//! | `GET /healthz`, `GET /readyz` | alive; ready when the cache store answers |
//! | `GET /metrics` | Prometheus: requests, spend by key and model, baseline, savings |
//! | `GET /openapi.json` | OpenAPI 3.1, generated from this code |
//!
//! Responses say how they were decided: `x-gateway-served-by`, `x-gateway-policy`,
//! `x-gateway-reason`, `x-gateway-asked` (every upstream called, in order), `x-gateway-cache`
//! (`hit`/`miss`) and, for whole answers,
//! `x-gateway-cost-usd`.

use super::Gateway;
use super::handle::{Reply, RouteInfo};
use super::ledger::{KeyTotals, RequestEntry};
use super::wire::{ChatCompletionRequest, ModelEntry, ModelList};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use genai_http::{ApiError, ErrorBody};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use utoipa::{OpenApi, ToSchema};

/// The routes, relative to wherever they are mounted.
pub fn router(gateway: Gateway) -> Router {
    let limit = gateway.config().max_body_bytes;
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route("/v1/ledger", get(ledger))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(gateway)
}

/// Serves until `shutdown` resolves; requests in flight (streams included) finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gateway: Gateway,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(gateway)).with_graceful_shutdown(shutdown).await
}

fn header_value(s: &str) -> HeaderValue {
    // Reasons are ASCII prose; anything else is dropped rather than failing the response.
    let clean: String = s.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).take(400).collect();
    HeaderValue::from_str(&clean).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn with_info(mut response: Response, info: &RouteInfo, cost: Option<f64>) -> Response {
    let h = response.headers_mut();
    let mut put = |name: &'static str, v: &str| {
        h.insert(HeaderName::from_static(name), header_value(v));
    };
    put("x-gateway-served-by", &info.served_by);
    put("x-gateway-policy", &info.policy);
    put("x-gateway-reason", &info.reason);
    put("x-gateway-cache", if info.cached { "hit" } else { "miss" });
    put("x-gateway-asked", &info.asked.join(","));
    if let Some(c) = cost {
        put("x-gateway-cost-usd", &format!("{c:.8}"));
    }
    response
}

#[utoipa::path(post, path = "/v1/chat/completions", request_body = ChatCompletionRequest, tag = "openai",
    responses(
        (status = 200, description = "A `chat.completion` object; with `\"stream\": true`, server-sent `chat.completion.chunk` events, then `[DONE]`"),
        (status = 400, description = "Empty or invalid JSON, a prompt over the context window, or a request the model server refused", body = ErrorBody),
        (status = 401, description = "No key, or an unknown one", body = ErrorBody),
        (status = 404, description = "A model that is neither `auto` nor a configured upstream", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A field out of range or unsupported (named by `at`)", body = ErrorBody),
        (status = 429, description = "The key's budget cannot cover this call's worst case", body = ErrorBody),
        (status = 502, description = "The model server failed", body = ErrorBody),
        (status = 503, description = "The model server is unavailable (after retries; or its circuit is open)", body = ErrorBody)))]
async fn chat_completions(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let caller = gateway.inner.keys.authenticate(&headers)?;
    let req: ChatCompletionRequest = genai_http::parse_json(&headers, body, gateway.config().max_body_bytes)?;
    let parsed = req.parse(gateway.config().max_output_tokens)?;
    metrics::histogram!("cost_gateway_parse_seconds").record(started.elapsed().as_secs_f64());
    match gateway.chat(caller, parsed).await? {
        Reply::Complete { body, info, cost_usd } => Ok(with_info(Json(body).into_response(), &info, Some(cost_usd))),
        Reply::Stream { events, info } => {
            let events = events.map(|data| Ok::<_, Infallible>(Event::default().data(data)));
            Ok(with_info(Sse::new(events).into_response(), &info, None))
        }
    }
}

#[utoipa::path(get, path = "/v1/models", tag = "openai", responses((status = 200, body = ModelList)))]
async fn models(State(gateway): State<Gateway>) -> Json<ModelList> {
    let mut data = vec![ModelEntry { id: "auto".into(), object: "model", owned_by: "cost-gateway".into() }];
    data.extend(gateway.inner.upstreams.iter().map(|u| ModelEntry {
        id: u.name.clone(),
        object: "model",
        owned_by: format!("{:?}", u.tier).to_lowercase(),
    }));
    Json(ModelList { object: "list", data })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// How many recent requests (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// `?limit=N` read by hand, so a bad value gets the one JSON error shape (422, naming `limit`).
fn ledger_limit(query: Option<&str>) -> Result<usize, ApiError> {
    let mut limit = 50;
    for (k, v) in query.unwrap_or_default().split('&').filter_map(|p| p.split_once('=')) {
        if k == "limit" {
            limit = v.parse::<usize>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_limit",
                    format!("limit {v:?} is not a whole number from 1 to 1000"),
                    "/limit",
                )
            })?;
        }
    }
    Ok(limit)
}

/// `GET /v1/ledger`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerView {
    pub recent: Vec<RequestEntry>,
    pub keys: BTreeMap<String, KeyView>,
    /// Where the upstreams' prices come from.
    pub prices: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    #[serde(flatten)]
    pub totals: KeyTotals,
    /// `baseline_usd − cost_usd`.
    pub saved_usd: f64,
    pub budget_usd: Option<f64>,
    /// Spent plus held by calls in flight.
    pub committed_usd: Option<f64>,
}

#[utoipa::path(get, path = "/v1/ledger", tag = "spend", params(LedgerQuery),
    responses((status = 200, body = LedgerView),
        (status = 422, description = "`limit` is not a whole number from 1 to 1000", body = ErrorBody)))]
async fn ledger(State(gateway): State<Gateway>, RawQuery(q): RawQuery) -> Result<Json<LedgerView>, ApiError> {
    let limit = ledger_limit(q.as_deref())?;
    let g = &gateway.inner;
    let totals = g.ledger.totals();
    let keys = g
        .keys
        .callers()
        .into_iter()
        .map(|c| {
            let totals = totals.get(&c.id).cloned().unwrap_or_default();
            let view = KeyView {
                saved_usd: totals.baseline_usd - totals.cost_usd,
                totals,
                budget_usd: c.budget.as_ref().map(|b| b.limit()),
                committed_usd: c.budget.as_ref().map(|b| b.committed()),
            };
            (c.id.clone(), view)
        })
        .collect();
    Ok(Json(LedgerView { recent: g.ledger.recent(limit), keys, prices: g.prices.source.clone() }))
}

async fn readyz(State(gateway): State<Gateway>) -> Response {
    let Some(cache) = &gateway.inner.cache else { return "ready".into_response() };
    match cache.store().ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("cache store: {e}")).into_response(),
    }
}

async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], genai_telemetry::render_metrics())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "genai-roadmap cost gateway", description = "An OpenAI-compatible gateway that routes or cascades each request to the cheapest model likely to answer it well, caches repeats, enforces per-key budgets and records every call's cost against an always-strong baseline."),
    paths(chat_completions, models, ledger),
    components(schemas(super::wire::MessageSchema, super::wire::MessageRole)),
    tags((name = "openai"), (name = "spend"))
)]
pub struct ApiDoc;

async fn openapi() -> Json<serde_json::Value> {
    Json(serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
}
