//! The platform operator's routes (`/admin/v1/*`): tenants, their first admin key, erasure,
//! and audit verification. The platform token reads no tenant's content.

use super::{Res, body, principal};
use crate::audit::Verification;
use crate::store::Tenant;
use crate::{ErasureReport, IssuedKey, Kb, NewTenant};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use genai_http::ErrorBody;

#[utoipa::path(post, path = "/admin/v1/tenants", tag = "platform", request_body = NewTenant, security(("bearer" = [])),
    responses((status = 415, description = "Not application/json", body = ErrorBody), (status = 413, description = "Body over the limit", body = ErrorBody), (status = 400, description = "Not JSON", body = ErrorBody), (status = 201, body = Tenant), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_tenant(
    State(kb): State<Kb>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Res<(StatusCode, Json<Tenant>)> {
    let p = principal(&kb, &headers).await?;
    let req: NewTenant = body(&headers, b)?;
    Ok((StatusCode::CREATED, Json(kb.create_tenant(&p, req).await?)))
}

#[utoipa::path(get, path = "/admin/v1/tenants", tag = "platform", security(("bearer" = [])),
    responses((status = 200, body = Vec<Tenant>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn tenants(State(kb): State<Kb>, headers: HeaderMap) -> Res<Json<Vec<Tenant>>> {
    let p = principal(&kb, &headers).await?;
    Ok(Json(kb.tenants(&p).await?))
}

#[utoipa::path(delete, path = "/admin/v1/tenants/{id}", tag = "platform", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Erased: key destroyed, content deleted", body = ErasureReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn erase_tenant(
    State(kb): State<Kb>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res<Json<ErasureReport>> {
    let p = principal(&kb, &headers).await?;
    Ok(Json(kb.erase_tenant(&p, &id).await?))
}

#[utoipa::path(post, path = "/admin/v1/tenants/{id}/admin-key", tag = "platform", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 201, description = "The tenant admin's key, shown once", body = IssuedKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub(super) async fn bootstrap_key(
    State(kb): State<Kb>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res<(StatusCode, Json<IssuedKey>)> {
    let p = principal(&kb, &headers).await?;
    Ok((StatusCode::CREATED, Json(kb.bootstrap_admin_key(&p, &id).await?)))
}

#[utoipa::path(get, path = "/admin/v1/tenants/{id}/audit/verify", tag = "platform", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Verification), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn verify_tenant_audit(
    State(kb): State<Kb>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res<Json<Verification>> {
    let p = principal(&kb, &headers).await?;
    crate::checks::platform(&p)?;
    Ok(Json(kb.verify_audit(&p, Some(&id)).await?))
}
