//! HTTP: sessions, messages (JSON or server-sent events), and the chat page. Mounted by the
//! showcase at `/chat`.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the chat page |
//! | `POST /v1/sessions` | new session → `{"id"}`; optional body `{"messages": [...]}` continues a conversation |
//! | `GET /v1/sessions/{id}` | messages (with `evicted` flags) and summary |
//! | `DELETE /v1/sessions/{id}` | delete the session and all its data → 204 |
//! | `POST /v1/sessions/{id}/messages` | `{"content", "stream"?}` → reply JSON, or SSE events `meta`, `delta`…, `done` / `error` |

use crate::{ChatError, Chatbot};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use genai_core::{Classify, ErrorClass};
use genai_llm::StreamEvent;
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::future::Future;

/// The routes, relative to wherever they are mounted.
pub fn router(bot: Chatbot) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/v1/sessions", post(create))
        .route("/v1/sessions/{id}", get(show).delete(remove))
        .route("/v1/sessions/{id}/messages", post(message))
        .with_state(bot)
}

/// Serves until `shutdown` resolves, then closes the store.
pub async fn serve(
    listener: tokio::net::TcpListener,
    bot: Chatbot,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let result = axum::serve(listener, router(bot.clone())).with_graceful_shutdown(shutdown).await;
    bot.close().await;
    result
}

/// The API's one error shape.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        let (status, code) = match (&e, e.class()) {
            (ChatError::UnknownSession(_), _) => (StatusCode::NOT_FOUND, "unknown_session"),
            (_, ErrorClass::InvalidInput) => (StatusCode::BAD_REQUEST, "invalid_input"),
            (_, ErrorClass::Budget) => (StatusCode::PAYLOAD_TOO_LARGE, "too_long"),
            (_, ErrorClass::Retryable) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            (_, ErrorClass::Permanent) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = if status.is_server_error() {
            tracing::error!(error = ?e, "chat request failed");
            "the request could not be completed; try again".to_owned()
        } else {
            e.to_string()
        };
        Self { status, code, message }
    }
}

async fn page() -> impl IntoResponse {
    Html(include_str!("page.html"))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    /// A conversation to continue (tool calls included); checked before anything is stored.
    #[serde(default)]
    messages: Vec<genai_llm::Message>,
}

async fn create(State(bot): State<Chatbot>, body: axum::body::Bytes) -> Result<impl IntoResponse, ApiError> {
    // An empty body starts an empty session; otherwise it must be a valid CreateRequest.
    let req: CreateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CreateRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_json",
            message: format!("invalid request body: {e}"),
        })?
    };
    let id =
        if req.messages.is_empty() { bot.create_session().await? } else { bot.import_session(&req.messages).await? };
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

async fn show(State(bot): State<Chatbot>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(bot.session(&id).await?))
}

async fn remove(State(bot): State<Chatbot>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if bot.delete_session(&id).await? { Ok(StatusCode::NO_CONTENT) } else { Err(ChatError::UnknownSession(id).into()) }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    content: String,
    #[serde(default)]
    stream: bool,
}

async fn message(
    State(bot): State<Chatbot>,
    Path(id): Path<String>,
    body: Result<Json<SendRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError { status: e.status(), code: "invalid_json", message: e.body_text() })?;
    if !req.stream {
        let (reply, info) = bot.send_and_wait(&id, &req.content).await?;
        return Ok(Json(json!({ "reply": reply, "memory": info })).into_response());
    }
    let turn = bot.send(&id, &req.content).await?;
    let meta = futures::stream::once(async move {
        Ok::<_, Infallible>(Event::default().event("meta").json_data(&turn.info).unwrap_or_default())
    });
    let events = turn.events.map(|event| {
        Ok::<_, Infallible>(match event {
            Ok(StreamEvent::Delta(text)) => {
                Event::default().event("delta").json_data(json!({ "text": text })).unwrap_or_default()
            }
            Ok(StreamEvent::Done(r)) => Event::default()
                .event("done")
                .json_data(json!({ "reply": r.text(), "usage": r.usage }))
                .unwrap_or_default(),
            Err(e) => Event::default()
                .event("error")
                .json_data(json!({ "message": e.to_string(), "kind": e.kind() }))
                .unwrap_or_default(),
        })
    });
    Ok(Sse::new(meta.chain(events)).into_response())
}
