//! The change-data-capture routes a connector calls.

use super::{Res, body, principal};
use crate::checks::member;
use crate::{Kb, Manifest, SyncBatch, SyncReport};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use genai_http::ErrorBody;

/// What the server holds for a source: each document's fingerprint.
#[utoipa::path(get, path = "/v1/sync/{source}", tag = "content", params(("source" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Manifest), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn manifest(
    State(kb): State<Kb>,
    headers: HeaderMap,
    Path(source): Path<String>,
) -> Res<Json<Manifest>> {
    let p = principal(&kb, &headers).await?;
    Ok(Json(kb.sync_manifest(member(&p)?, &source).await?))
}

/// One round of a source's changes: unchanged documents are skipped, changed ones replaced,
/// deleted ones (only the source's own) erased. Sending the same round twice changes nothing.
#[utoipa::path(post, path = "/v1/sync/{source}", tag = "content", params(("source" = String, Path)), request_body = SyncBatch, security(("bearer" = [])),
    responses((status = 415, description = "Not application/json", body = ErrorBody), (status = 413, description = "Body over the limit", body = ErrorBody), (status = 400, description = "Not JSON", body = ErrorBody), (status = 200, body = SyncReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn sync(
    State(kb): State<Kb>,
    headers: HeaderMap,
    Path(source): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Res<Json<SyncReport>> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let req: SyncBatch = body(&headers, b)?;
    Ok(Json(kb.sync(m, &source, req).await?))
}
