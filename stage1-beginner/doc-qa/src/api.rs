//! HTTP: the web page and its JSON API. Mounted by the showcase at `/doc-qa`.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page: upload, ingest status, ask, answers with citations |
//! | `GET /api/documents` | indexed documents |
//! | `POST /api/documents` | multipart upload (field `files`, several allowed); one report per file |
//! | `POST /api/ask` | `{"question": "..."}` → answer, citations, timings |
//! | `GET /api/passages/{chunk_id}` | the full cited passage |
//!
//! Errors are JSON `{"error": {"code", "message"}}`: 4xx say exactly what was wrong with the
//! request; 5xx details are logged, never sent.

use crate::{DocQa, DocQaError, FileReport};
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use genai_core::{ChunkId, Classify, ErrorClass};
use serde::Deserialize;
use serde_json::json;
use std::future::Future;

/// The routes, relative to wherever they are mounted.
pub fn router(qa: DocQa) -> Router {
    let limit = (qa.config().max_file_bytes as usize).saturating_mul(qa.config().max_files_per_upload) + 1024 * 1024;
    Router::new()
        .route("/", get(page))
        .route("/api/documents", get(documents).post(upload))
        .route("/api/ask", post(ask))
        .route("/api/passages/{id}", get(passage))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(qa)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    qa: DocQa,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(qa)).with_graceful_shutdown(shutdown).await
}

/// The one error shape of the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

impl From<DocQaError> for ApiError {
    fn from(e: DocQaError) -> Self {
        match e.class() {
            ErrorClass::InvalidInput => Self::bad_request("invalid_input", e.to_string()),
            ErrorClass::Budget => Self { status: StatusCode::PAYLOAD_TOO_LARGE, code: "limit", message: e.to_string() },
            ErrorClass::Retryable => {
                tracing::warn!(error = %e, "request failed; retryable");
                Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "unavailable",
                    message: "temporarily unavailable; try again".into(),
                }
            }
            ErrorClass::Permanent => {
                tracing::error!(error = ?e, "request failed");
                Self { status: StatusCode::INTERNAL_SERVER_ERROR, code: "internal", message: "internal error".into() }
            }
        }
    }
}

async fn page() -> impl IntoResponse {
    Html(include_str!("page.html"))
}

async fn documents(State(qa): State<DocQa>) -> impl IntoResponse {
    Json(json!({ "documents": qa.documents() }))
}

async fn upload(
    State(qa): State<DocQa>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut multipart = multipart.map_err(|e| ApiError {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code: "not_multipart",
        message: format!("send files as multipart/form-data in a field named `files` ({})", e.body_text()),
    })?;
    let max_files = qa.config().max_files_per_upload;
    let mut files = Vec::new();
    let mut oversize = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(ApiError { status: e.status(), code: "bad_multipart", message: e.body_text() }),
        };
        if field.name() != Some("files") {
            return Err(ApiError::bad_request(
                "unknown_field",
                format!("unexpected form field {:?}; use `files`", field.name().unwrap_or("")),
            ));
        }
        let name = field.file_name().map(sanitize_name).unwrap_or_else(|| format!("upload-{}", files.len() + 1));
        if files.len() + oversize.len() >= max_files {
            return Err(ApiError::bad_request("too_many_files", format!("at most {max_files} files per upload")));
        }
        let bytes = field.bytes().await.map_err(|e| ApiError {
            status: e.status(),
            code: "bad_multipart",
            message: e.body_text(),
        })?;
        if bytes.len() as u64 > qa.config().max_file_bytes {
            oversize.push(FileReport::Skipped {
                file: name,
                reason: format!(
                    "file is {} bytes, above the limit of {} bytes",
                    bytes.len(),
                    qa.config().max_file_bytes
                ),
                class: ErrorClass::Budget,
            });
            continue;
        }
        files.push((name, bytes.to_vec()));
    }
    if files.is_empty() && oversize.is_empty() {
        return Err(ApiError::bad_request("no_files", "the upload contains no files (field `files`)"));
    }
    let mut reports = qa.ingest(files, |_| {}).await;
    reports.extend(oversize);
    Ok(Json(json!({ "files": reports, "documents": qa.documents().len() })))
}

/// Keeps the last path component of an uploaded file name, without control characters.
fn sanitize_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.trim().is_empty() { "upload".into() } else { clean }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AskRequest {
    question: String,
}

async fn ask(
    State(qa): State<DocQa>,
    body: Result<Json<AskRequest>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(req) = body.map_err(|e| ApiError { status: e.status(), code: "invalid_json", message: e.body_text() })?;
    Ok(Json(qa.ask(&req.question).await?))
}

async fn passage(State(qa): State<DocQa>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let chunk: ChunkId = id
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_id", format!("{id:?} is not a passage id (16 hex digits)")))?;
    match qa.passage(chunk).await? {
        Some(hit) => Ok(Json(json!({ "passage": hit.chunk }))),
        None => Err(ApiError { status: StatusCode::NOT_FOUND, code: "not_found", message: format!("no passage {id}") }),
    }
}
