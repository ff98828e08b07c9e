//! HTTP: queries (JSON or server-sent events), asynchronous ingest, deletion, health, metrics,
//! the OpenAPI description and the `/rag` page. Mounted by the showcase at `/rag`.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page: streaming answers with citations, filters, the stage waterfall |
//! | `POST /v1/query` | `{"query", "filters"?, "top_k"?, "no_cache"?}` → the answer and its trace; with `Accept: text/event-stream`, events `delta`… `reset`? `answer` `summary` |
//! | `POST /v1/documents` | `{"documents": [{"name", "text" \| "content_base64", "category"?, "date"?}]}` → 202 and a job |
//! | `GET /v1/documents` | what is indexed |
//! | `DELETE /v1/documents/{id}` | removes a document and the cached answers citing it |
//! | `GET /v1/jobs/{id}` | an ingest job's progress and per-file results |
//! | `GET /healthz`, `GET /readyz` | alive; ready when the index and the cache store answer |
//! | `GET /metrics` | Prometheus |
//! | `GET /openapi.json` | OpenAPI 3.1, generated from this code |
//!
//! Every malformed request gets a 4xx in the one JSON error shape of `genai-http`.

use crate::pipeline::{QueryEvent, QueryRequest, QueryResponse};
use crate::{DocumentInfo, Job, Rag, RagError, Upload};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use futures::StreamExt;
use genai_core::{Classify, ErrorClass};
use genai_http::{ApiError, ErrorBody};
use serde::Deserialize;
use std::convert::Infallible;
use std::future::Future;
use utoipa::{OpenApi, ToSchema};

/// The routes, relative to wherever they are mounted.
///
/// Production note: no authentication and no rate limit; the showcase runs on loopback. The
/// multi-tenant milestone puts this pipeline behind per-tenant keys and limits.
pub fn router(rag: Rag) -> Router {
    let limit = rag.config().max_body_bytes;
    Router::new()
        .route("/", get(page))
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/query", post(query))
        .route("/v1/documents", post(ingest).get(list_documents))
        .route("/v1/documents/{id}", delete(delete_document))
        .route("/v1/jobs/{id}", get(job))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(rag)
}

/// Serves until `shutdown` resolves; queries in flight finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    rag: Rag,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(rag)).with_graceful_shutdown(shutdown).await
}

fn api_error(e: RagError) -> ApiError {
    match &e {
        RagError::InvalidQuery { reason, at } => {
            let code = if reason.contains("empty") { "empty_query" } else { "invalid_query" };
            ApiError::invalid(code, reason.clone(), at)
        }
        RagError::Filter(f) => {
            ApiError::new(StatusCode::BAD_REQUEST, "unsupported_filter", f.reason.clone(), Some(f.at.clone()))
        }
        RagError::UnknownDocument(_) => ApiError::not_found("unknown_document", e.to_string()),
        _ => match e.class() {
            ErrorClass::Retryable => ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &e),
            _ => ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e),
        },
    }
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/event-stream"))
}

#[utoipa::path(post, path = "/v1/query", request_body = QueryRequest, tag = "query",
    responses(
        (status = 200, description = "The answer with citations and its trace (JSON); or, with `Accept: text/event-stream`, events `delta` (provisional text), `reset` (discard it: the offline answer follows), `answer` (the checked answer) and `summary` (the trace)", body = QueryResponse),
        (status = 400, description = "Empty body, invalid JSON, or a filter that cannot be run exactly", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Wrong request shape, empty or too long query, top_k out of range", body = ErrorBody),
        (status = 503, description = "The index is unavailable", body = ErrorBody)))]
async fn query(
    State(rag): State<Rag>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut req: QueryRequest = genai_http::parse_json(&headers, body, rag.config().max_body_bytes)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    req.trace_parent = genai_telemetry::otel::parent_from_headers(header("traceparent"), header("tracestate"));
    let query = req.query.trim().to_owned();
    let stream = rag.query(req).await.map_err(api_error)?;
    if wants_stream(&headers) {
        let events = stream.map(|e| {
            let name = match &e {
                QueryEvent::Delta { .. } => "delta",
                QueryEvent::Reset { .. } => "reset",
                QueryEvent::Answer(_) => "answer",
                QueryEvent::Summary(_) => "summary",
            };
            Ok::<_, Infallible>(Event::default().event(name).json_data(&e).unwrap_or_default())
        });
        return Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response());
    }
    let mut answer = None;
    let mut trace = None;
    let mut stream = stream;
    while let Some(e) = stream.next().await {
        match e {
            QueryEvent::Answer(a) => answer = Some(a),
            QueryEvent::Summary(t) => trace = Some(*t),
            QueryEvent::Delta { .. } | QueryEvent::Reset { .. } => {}
        }
    }
    match (answer, trace) {
        (Some(answer), Some(trace)) => Ok(Json(QueryResponse { query, answer, trace }).into_response()),
        _ => Err(ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal", &"the answer stream ended early")),
    }
}

/// `POST /v1/documents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    /// 1–100 documents.
    #[serde(deserialize_with = "genai_http::objects")]
    pub documents: Vec<NewDocument>,
}

/// One document: its text, or its bytes in base64 (PDF); the name's extension selects the
/// loader when the bytes do not tell.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    #[schema(example = "handbook.md")]
    pub name: String,
    pub text: Option<String>,
    pub content_base64: Option<String>,
    #[schema(example = "policy")]
    pub category: Option<String>,
    /// `YYYY-MM` or `YYYY-MM-DD`.
    #[schema(example = "2024-05")]
    pub date: Option<String>,
}

fn uploads(req: IngestRequest) -> Result<Vec<Upload>, ApiError> {
    if req.documents.is_empty() || req.documents.len() > 100 {
        return Err(ApiError::invalid("invalid_documents", "send 1-100 documents", "/documents"));
    }
    req.documents
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let at = |f: &str| format!("/documents/{i}{f}");
            if d.name.trim().is_empty() || d.name.len() > 255 || d.name.chars().any(char::is_control) {
                return Err(ApiError::invalid(
                    "invalid_name",
                    "name must be 1-255 characters without control characters",
                    &at("/name"),
                ));
            }
            if let Some(date) = &d.date
                && crate::filters::parse_month(date, true).is_none()
            {
                return Err(ApiError::invalid(
                    "invalid_date",
                    format!("{date:?} is not YYYY-MM or YYYY-MM-DD"),
                    &at("/date"),
                ));
            }
            if let Some(c) = &d.category
                && !crate::filters::valid_value(c)
            {
                return Err(ApiError::invalid(
                    "invalid_category",
                    "category must be 1-128 characters without control characters",
                    &at("/category"),
                ));
            }
            let bytes = match (d.text, d.content_base64) {
                (Some(t), None) => t.into_bytes(),
                (None, Some(b)) => base64::engine::general_purpose::STANDARD.decode(b.trim()).map_err(|e| {
                    ApiError::invalid(
                        "invalid_base64",
                        format!("content_base64 is not base64: {e}"),
                        &at("/content_base64"),
                    )
                })?,
                _ => {
                    return Err(ApiError::invalid(
                        "invalid_document",
                        "give exactly one of text and content_base64",
                        &at(""),
                    ));
                }
            };
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::invalid("empty_document", "the document is empty", &at("")));
            }
            Ok(Upload { name: d.name, bytes, category: d.category, date: d.date })
        })
        .collect()
}

#[utoipa::path(post, path = "/v1/documents", request_body = IngestRequest, tag = "documents",
    responses(
        (status = 202, description = "Accepted: the job to poll at /v1/jobs/{id}", body = Job),
        (status = 400, description = "Empty body or invalid JSON", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Wrong shape, no or too many documents, bad name, date, category or base64", body = ErrorBody)))]
async fn ingest(
    State(rag): State<Rag>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: IngestRequest = genai_http::parse_json(&headers, body, rag.config().max_body_bytes)?;
    let job = rag.ingest(uploads(req)?);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, format!("v1/jobs/{}", job.id))], Json(job)).into_response())
}

#[utoipa::path(get, path = "/v1/documents", tag = "documents",
    responses((status = 200, description = "The indexed documents", body = Vec<DocumentInfo>)))]
async fn list_documents(State(rag): State<Rag>) -> Json<Vec<DocumentInfo>> {
    Json(rag.documents())
}

#[utoipa::path(delete, path = "/v1/documents/{id}", tag = "documents",
    params(("id" = String, Path, description = "The document id (64 hex digits)")),
    responses(
        (status = 200, description = "Removed, with every cached answer citing it", body = DocumentInfo),
        (status = 404, description = "No such document", body = ErrorBody)))]
async fn delete_document(State(rag): State<Rag>, Path(id): Path<String>) -> Result<Json<DocumentInfo>, ApiError> {
    rag.delete(&id).await.map(Json).map_err(api_error)
}

#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "documents",
    params(("id" = String, Path, description = "The job id from POST /v1/documents")),
    responses(
        (status = 200, description = "Progress and one result per finished file", body = Job),
        (status = 404, description = "No such job", body = ErrorBody)))]
async fn job(State(rag): State<Rag>, Path(id): Path<String>) -> Result<Json<Job>, ApiError> {
    rag.job(&id).map(Json).ok_or_else(|| ApiError::not_found("unknown_job", format!("no job {id}")))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(rag): State<Rag>) -> Response {
    match rag.ready().await {
        Ok(()) => "ready".into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
    }
}

async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], genai_telemetry::render_metrics())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "genai-roadmap production RAG service", description = "Questions answered from your documents with citations: hybrid retrieval with fail-closed metadata filters, learned reranking, exact and guarded semantic caching, model routing, streaming, and a trace of every stage."),
    paths(query, ingest, list_documents, delete_document, job),
    tags((name = "query"), (name = "documents"))
)]
pub struct ApiDoc;

async fn openapi(State(rag): State<Rag>) -> Json<serde_json::Value> {
    let mut spec = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    // Whitespace-only queries are refused (422), so say so.
    let q = &mut spec["components"]["schemas"]["QueryRequest"]["properties"]["query"];
    q["pattern"] = serde_json::json!("\\S");
    q["maxLength"] = serde_json::json!(rag.config().max_query_chars);
    Json(spec)
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}
