//! The redaction routes (a tenant's PII settings, revealing a redacted value) and usage.

use super::{Res, body, principal};
use crate::checks::member;
use crate::{Kb, PiiSettings, RevealRequest, Revealed, Usage};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use genai_http::ErrorBody;

#[utoipa::path(get, path = "/v1/pii", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = PiiSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn get_pii(State(kb): State<Kb>, headers: HeaderMap) -> Res<Json<PiiSettings>> {
    let p = principal(&kb, &headers).await?;
    Ok(Json(kb.pii_settings(member(&p)?).await?))
}

/// Which kinds of personal data new documents are redacted of, and who may reveal a value.
#[utoipa::path(put, path = "/v1/pii", tag = "admin", request_body = PiiSettings, security(("bearer" = [])),
    responses((status = 415, description = "Not application/json", body = ErrorBody), (status = 413, description = "Body over the limit", body = ErrorBody), (status = 400, description = "Not JSON", body = ErrorBody), (status = 200, body = PiiSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, description = "An unknown PII kind", body = ErrorBody)))]
pub(super) async fn put_pii(
    State(kb): State<Kb>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Res<Json<PiiSettings>> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let req: PiiSettings = body(&headers, b)?;
    Ok(Json(kb.set_pii_settings(m, req).await?))
}

/// The value behind a pseudonym in a document the caller may see; needs the tenant's reveal
/// role, and is audited.
#[utoipa::path(post, path = "/v1/documents/{id}/reveal", tag = "content", params(("id" = String, Path)), request_body = RevealRequest, security(("bearer" = [])),
    responses((status = 415, description = "Not application/json", body = ErrorBody), (status = 413, description = "Body over the limit", body = ErrorBody), (status = 400, description = "Not JSON", body = ErrorBody), (status = 200, body = Revealed), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, description = "No such document visible to the caller, or no such token in it", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn reveal(
    State(kb): State<Kb>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Res<Json<Revealed>> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let req: RevealRequest = body(&headers, b)?;
    Ok(Json(kb.reveal(m, &id, req).await?))
}

/// What the tenant has used: documents, chunks, jobs by state, this minute's requests and
/// today's tokens against their limits (admin).
#[utoipa::path(get, path = "/v1/usage", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Usage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn usage(State(kb): State<Kb>, headers: HeaderMap) -> Res<Json<Usage>> {
    let p = principal(&kb, &headers).await?;
    Ok(Json(kb.usage(member(&p)?).await?))
}
