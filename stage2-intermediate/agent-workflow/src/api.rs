//! HTTP: start runs, watch them step by step, answer approvals, travel in time; and the
//! `/agents` page. Runs are driven by background tasks of this process and journaled, so a
//! server that is killed and started again picks up every run it was driving (`Service::open`).
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page: the graph, a question box, live steps, pending approvals, history |
//! | `GET /api/graph` | the workflow's nodes and edges |
//! | `POST /api/runs` | start a run: `{"question", "publish"}`; 202 with its id |
//! | `GET /api/runs` | recent runs |
//! | `GET /api/runs/{id}` | a run: status, current state, the pending approval request |
//! | `GET /api/runs/{id}/events` | server-sent events: the journal as it grows, until the run stops running (`Last-Event-ID` resumes) |
//! | `GET /api/runs/{id}/checkpoints` | the state after every step |
//! | `POST /api/runs/{id}/approval` | `{"decision": "approve" \| "reject" \| "edit", "reason", "report"}` |
//! | `POST /api/runs/{id}/resume` | drive a run that stopped (a failed worker, a restart) |
//! | `POST /api/runs/{id}/fork` | `{"step"}`: a new run from that checkpoint |
//! | `GET /healthz`, `GET /openapi.json` | liveness; OpenAPI 3.1 generated from this code |

use crate::agents::publisher::Approval;
use crate::service::{RunView, Service, ServiceError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use genai_agent::{CheckpointInfo, Event, GraphSpec, RunInfo, RunStatus};
use genai_http::{ApiError, ErrorBody};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use utoipa::{OpenApi, ToSchema};

const BODY_LIMIT: usize = 64 * 1024;

/// The routes, relative to wherever they are mounted.
pub fn router(service: Service) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/graph", get(graph))
        .route("/api/runs", post(start).get(runs))
        .route("/api/runs/{id}", get(run))
        .route("/api/runs/{id}/events", get(events))
        .route("/api/runs/{id}/checkpoints", get(checkpoints))
        .route("/api/runs/{id}/approval", post(approve))
        .route("/api/runs/{id}/resume", post(resume))
        .route("/api/runs/{id}/fork", post(fork))
        .route("/healthz", get(|| async { "ok" }))
        .route("/openapi.json", get(openapi))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(service)
}

/// Serves until `shutdown` resolves. Runs being driven stop at their next step boundary when
/// the process exits; their journals let the next start finish them.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Service,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(service)).with_graceful_shutdown(shutdown).await
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(id) => ApiError::not_found("run_not_found", format!("no run {id}")),
            ServiceError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "run_state", message, None),
            ServiceError::Invalid { message, at } => ApiError::invalid("invalid_request", message, at),
            ServiceError::Internal(e) => ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "journal_unavailable", &e),
        }
    }
}

async fn page() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-cache")], Html(include_str!("page.html")))
}

#[utoipa::path(get, path = "/api/graph", tag = "workflow", responses((status = 200, description = "The graph: nodes, edges (conditional or not), start")))]
async fn graph(State(s): State<Service>) -> Json<GraphSpec> {
    Json(s.graph())
}

/// A new run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The question to research (1 to 1,000 characters, not only spaces).
    #[schema(min_length = 1, max_length = 1000)]
    pub question: String,
    /// Publish the report after approval (to the server's publish folder).
    #[serde(default)]
    pub publish: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Started {
    pub id: String,
}

#[utoipa::path(post, path = "/api/runs", tag = "workflow", request_body = StartRequest,
    responses(
        (status = 202, description = "Started; watch `/api/runs/{id}/events`", body = Started),
        (status = 400, description = "Empty or invalid JSON", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A field missing or out of range (named by `at`), or publishing with no publish folder", body = ErrorBody),
        (status = 503, description = "The journal is unavailable", body = ErrorBody)))]
async fn start(
    State(s): State<Service>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let req: StartRequest = genai_http::parse_json(&headers, body, BODY_LIMIT)?;
    let id = s.start(&req.question, req.publish).await?;
    Ok((StatusCode::ACCEPTED, Json(Started { id })))
}

#[utoipa::path(get, path = "/api/runs", tag = "workflow", params(("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "At most this many (default 50)")),
    responses((status = 200, description = "Runs, most recently updated first"),
        (status = 400, description = "`limit` is not an integer from 1 to 500", body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn runs(State(s): State<Service>, RawQuery(query): RawQuery) -> Result<Json<Vec<RunInfo>>, ApiError> {
    let mut limit = 50;
    // Only an integer is accepted, so the value needs no percent-decoding.
    for (key, value) in query.as_deref().unwrap_or_default().split('&').filter_map(|kv| kv.split_once('=')) {
        if key == "limit" {
            limit = value.parse::<usize>().ok().filter(|n| (1..=500).contains(n)).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "`limit` must be an integer from 1 to 500",
                    Some("limit".into()),
                )
            })?;
        }
    }
    Ok(Json(s.runs(limit).await?))
}

#[utoipa::path(get, path = "/api/runs/{id}", tag = "workflow", params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn run(State(s): State<Service>, Path(id): Path<String>) -> Result<Json<RunView>, ApiError> {
    Ok(Json(s.view(&id).await?))
}

#[utoipa::path(get, path = "/api/runs/{id}/checkpoints", tag = "workflow", params(("id" = String, Path)),
    responses((status = 200, description = "The state after every step"), (status = 404, body = ErrorBody)))]
async fn checkpoints(State(s): State<Service>, Path(id): Path<String>) -> Result<Json<Vec<CheckpointInfo>>, ApiError> {
    Ok(Json(s.checkpoints(&id).await?))
}

#[utoipa::path(get, path = "/api/runs/{id}/events", tag = "workflow", params(("id" = String, Path)),
    responses(
        (status = 200, description = "`text/event-stream`: one event per journal entry (`id` = its sequence number, `event` = its type, `data` = the entry); ends when the run is not running (finished, failed, or waiting for approval: reconnect with `Last-Event-ID` to follow on)"),
        (status = 404, body = ErrorBody)))]
async fn events(State(s): State<Service>, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    s.info(&id).await?;
    let from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |n| n + 1);
    Ok(Sse::new(follow(s, id, from)).keep_alive(KeepAlive::default()).into_response())
}

/// The journal from `from` on, as it grows; ends once the run has stopped running.
fn follow(s: Service, id: String, from: u64) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    struct Follow {
        s: Service,
        id: String,
        next: u64,
        buffer: VecDeque<(u64, Event)>,
        done: bool,
    }
    impl Follow {
        fn take(&mut self, new: Vec<Event>) {
            let start = self.next;
            self.next += new.len() as u64;
            self.buffer.extend(new.into_iter().enumerate().map(|(i, e)| (start + i as u64, e)));
        }
    }
    let state = Follow { s, id, next: from, buffer: VecDeque::new(), done: false };
    futures::stream::unfold(state, |mut f| async move {
        loop {
            if let Some((seq, e)) = f.buffer.pop_front() {
                f.done = matches!(e, Event::Finished { .. } | Event::Failed { .. });
                let data = serde_json::to_string(&e).unwrap_or_default();
                // `retry`: reconnect after a second when the stream ends at an approval.
                let event = SseEvent::default().id(seq.to_string()).event(e.kind()).data(data);
                return Some((Ok(event.retry(Duration::from_secs(1))), f));
            }
            if f.done {
                return None;
            }
            match f.s.events_from(&f.id, f.next).await {
                Ok(new) if !new.is_empty() => f.take(new),
                Ok(_) => {
                    // A run waiting for a person may wait for days: the stream ends there, so it
                    // never holds a connection (or a graceful shutdown) open; EventSource
                    // reconnects with `Last-Event-ID` and gets what follows. The status is read
                    // first: it commits with the events, so the read after it misses nothing.
                    if f.s.info(&f.id).await.is_ok_and(|r| r.status != RunStatus::Running) {
                        match f.s.events_from(&f.id, f.next).await {
                            Ok(tail) if !tail.is_empty() => f.take(tail),
                            _ => return None,
                        }
                    } else {
                        tokio::time::sleep(Duration::from_millis(150)).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(run = %f.id, error = %e, "the event stream stops: the journal failed");
                    return None;
                }
            }
        }
    })
}

/// A human's answer to a run waiting for approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    pub decision: Decision,
    /// Why, for `reject`.
    pub reason: Option<String>,
    /// The report to publish instead of the draft, for `edit` (not empty).
    pub report: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
    /// Approve `report` instead of the draft.
    Edit,
}

impl ApprovalRequest {
    fn into_approval(self) -> Result<Approval, ApiError> {
        match self.decision {
            Decision::Approve => Ok(Approval::Approve),
            Decision::Reject => Ok(Approval::Reject { reason: self.reason }),
            Decision::Edit => match self.report.filter(|r| !r.trim().is_empty()) {
                Some(report) => Ok(Approval::Edit { report }),
                None => Err(ApiError::invalid("invalid_request", "`edit` needs a non-empty `report`", "/report")),
            },
        }
    }
}

#[utoipa::path(post, path = "/api/runs/{id}/approval", tag = "workflow", params(("id" = String, Path)), request_body = ApprovalRequest,
    responses(
        (status = 202, description = "Answered; the run goes on"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 409, description = "The run is not waiting for approval (or another answer came first)", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn approve(
    State(s): State<Service>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let req: ApprovalRequest = genai_http::parse_json(&headers, body, BODY_LIMIT)?;
    let approval = req.into_approval()?;
    s.answer(&id, approval).await?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(post, path = "/api/runs/{id}/resume", tag = "workflow", params(("id" = String, Path)),
    responses((status = 202, description = "Being driven (again, if a task was already driving it)"), (status = 404, body = ErrorBody),
        (status = 409, description = "Finished, failed, or waiting for approval", body = ErrorBody)))]
async fn resume(State(s): State<Service>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    s.resume(&id).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForkRequest {
    /// The checkpoint's step.
    pub step: u64,
}

#[utoipa::path(post, path = "/api/runs/{id}/fork", tag = "workflow", params(("id" = String, Path)), request_body = ForkRequest,
    responses((status = 202, body = Started), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, description = "No checkpoint at that step", body = ErrorBody)))]
async fn fork(
    State(s): State<Service>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let req: ForkRequest = genai_http::parse_json(&headers, body, BODY_LIMIT)?;
    let id = s.fork(&id, req.step).await?;
    Ok((StatusCode::ACCEPTED, Json(Started { id })))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "genai-roadmap agent workflow", description = "A research workflow of specialised agents on a durable runtime: start runs, follow their journal as server-sent events, answer approvals, fork from checkpoints."),
    paths(graph, start, runs, run, checkpoints, events, approve, resume, fork),
    tags((name = "workflow"))
)]
pub struct ApiDoc;

async fn openapi() -> Json<serde_json::Value> {
    Json(serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
}
