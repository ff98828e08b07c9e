//! The HTTP API. Every route but `/healthz`, `/readyz`, `/openapi.json` and the page at `/` needs
//! `Authorization: Bearer <credential>`: the platform token for `/admin/v1/*`, an API key or a
//! JWT of a tenant's user for `/v1/*`. The tenant is the credential's, never the request's.
//!
//! | route | who |
//! |---|---|
//! | `POST/GET /admin/v1/tenants`, `DELETE /admin/v1/tenants/{id}`, `POST /admin/v1/tenants/{id}/admin-key`, `GET /admin/v1/tenants/{id}/audit/verify` | platform |
//! | `GET /v1/me`, `GET /v1/documents`, `GET /v1/documents/{id}`, `POST /v1/search`, `POST /v1/ask` | reader |
//! | `POST /v1/documents`, `POST /v1/documents/batch`, `DELETE /v1/documents/{id}`, `POST/GET /v1/jobs`, `GET /v1/jobs/{id}` | writer |
//! | `POST /v1/users`, `DELETE /v1/users/{id}`, `POST /v1/keys`, `DELETE /v1/keys/{id}`, `GET/PUT /v1/policy`, `GET /v1/explain`, `GET /v1/audit`, `GET /v1/audit/verify` | admin |

use crate::audit::{Entry, Verification};
use crate::auth::Principal;
use crate::checks::member;
use crate::policy::Decision;
use crate::store::{DocumentInfo, User};
use crate::{
    AskRequest, AskResponse, IssuedKey, JobInfo, Kb, KbError, NewDocument, NewKey, NewUser, SearchRequest,
    SearchResponse,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use genai_http::{ApiError, ErrorBody};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

mod pii;
mod platform;
mod sync;
mod tls;

/// Room for a batch of documents; one document is capped by `max_document_bytes`.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

pub fn router(kb: Kb) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(|| async { genai_telemetry::render_metrics() }))
        .route("/", get(page))
        .route("/demo-users", get(demo_users))
        .route("/admin/v1/tenants", post(platform::create_tenant).get(platform::tenants))
        .route("/admin/v1/tenants/{id}", delete(platform::erase_tenant))
        .route("/admin/v1/tenants/{id}/admin-key", post(platform::bootstrap_key))
        .route("/admin/v1/tenants/{id}/audit/verify", get(platform::verify_tenant_audit))
        .route("/v1/me", get(me))
        .route("/v1/users", post(create_user))
        .route("/v1/users/{id}", delete(delete_user))
        .route("/v1/keys", post(issue_key))
        .route("/v1/keys/{id}", delete(revoke_key))
        .route("/v1/policy", get(get_policy).put(put_policy))
        .route("/v1/pii", get(pii::get_pii).put(pii::put_pii))
        .route("/v1/usage", get(pii::usage))
        .route("/v1/documents/{id}/reveal", post(pii::reveal))
        .route("/v1/sync/{source}", get(sync::manifest).post(sync::sync))
        .route("/v1/documents", post(add_document).get(documents))
        .route("/v1/documents/batch", post(add_documents))
        .route("/v1/documents/{id}", get(document).delete(delete_document))
        .route("/v1/jobs", post(submit_job).get(jobs))
        .route("/v1/jobs/{id}", get(job))
        .route("/v1/search", post(search))
        .route("/v1/ask", post(ask))
        .route("/v1/explain", get(explain))
        .route("/v1/audit", get(audit))
        .route("/v1/audit/verify", get(verify_audit))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(kb)
}

/// Serves until `shutdown` resolves, then finishes in-flight requests (for up to 30 s). HTTPS
/// when `tls_cert` and `tls_key` are configured.
///
/// Production note: failed authentications are not rate-limited per client address (tenant
/// quotas start after authentication); put a proxy that does so in front of a public listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    kb: Kb,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = tls::load(kb.config()).await?;
    let app = router(kb);
    match tls {
        None => axum::serve(listener, app).with_graceful_shutdown(shutdown).await,
        Some(config) => {
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopper.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
            });
            axum_server::from_tcp_rustls(listener.into_std()?, config)?
                .handle(handle)
                .serve(app.into_make_service())
                .await
        }
    }
}

/// The one error shape; 5xx details are logged, not sent.
pub enum Failure {
    Kb(KbError),
    /// A body that did not parse: genai-http's precise 4xx (400, 413, 415, 422).
    Http(ApiError),
}

impl From<KbError> for Failure {
    fn from(e: KbError) -> Self {
        Self::Kb(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let e = match self {
            Self::Http(e) => return e.into_response(),
            Self::Kb(e) => e,
        };
        let status = e.status();
        let (code, at) = match &e {
            KbError::Invalid { code, at, .. } => (*code, at.clone()),
            KbError::Unauthenticated => ("unauthenticated", None),
            KbError::Forbidden(_) => ("forbidden", None),
            KbError::NotFound { .. } => ("not_found", None),
            KbError::Conflict(_) => ("conflict", None),
            KbError::Gone(_) => ("tenant_erased", None),
            KbError::Busy { .. } => ("queue_full", None),
            KbError::Limited { .. } => ("rate_limited", None),
            KbError::Unavailable { what, detail } => {
                // Named, so an operator reading a client's report knows where to look; the
                // detail (addresses, driver messages) stays in the log.
                tracing::error!(backend = what, error = %detail, "a backend is unavailable");
                let msg = format!("the {what} is unavailable; try again shortly");
                let mut resp = ApiError::new(status, "unavailable", msg, None).into_response();
                resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
                return resp;
            }
            KbError::Setup(_) => return ApiError::internal(status, "unavailable", &e).into_response(),
        };
        let mut resp = ApiError::new(status, code, e.to_string(), at).into_response();
        if let KbError::Busy { retry_after_secs, .. } | KbError::Limited { retry_after_secs, .. } = &e
            && let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

type Res<T> = Result<T, Failure>;

pub(crate) async fn principal(kb: &Kb, headers: &HeaderMap) -> Result<Principal, KbError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let token = bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim));
    let p = match token {
        Some(t) if !t.is_empty() && t.len() <= 4096 => kb.authenticate(t).await?,
        _ => return Err(KbError::Unauthenticated),
    };
    if let Principal::Member(m) = &p {
        kb.admit(m.tenant()).await?;
    }
    Ok(p)
}

fn body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, b: Result<Bytes, BytesRejection>) -> Res<T> {
    genai_http::parse_json(headers, b, BODY_LIMIT).map_err(Failure::Http)
}

#[utoipa::path(get, path = "/readyz", tag = "service", responses((status = 200, description = "Registry and audit store answer"), (status = 503, body = ErrorBody)))]
async fn readyz(State(kb): State<Kb>) -> Res<&'static str> {
    kb.inner.store.ping().await.map_err(KbError::from)?;
    Ok("ready")
}

/// The caller as the service sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub tenant: String,
    pub user: User,
    pub role: crate::store::Role,
    pub via: String,
}

#[utoipa::path(get, path = "/v1/me", tag = "tenant", security(("bearer" = [])), responses((status = 200, body = Me), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn me(State(kb): State<Kb>, headers: HeaderMap) -> Res<Json<Me>> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    Ok(Json(Me { tenant: m.tenant().to_owned(), user: m.user.clone(), role: m.role, via: m.via.clone() }))
}

#[utoipa::path(post, path = "/v1/users", tag = "admin", request_body = NewUser, security(("bearer" = [])),
    responses((status = 415, description = "Not application/json", body = ErrorBody), (status = 413, description = "Body over the limit", body = ErrorBody), (status = 400, description = "Not JSON", body = ErrorBody), (status = 201, body = User), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_user(
    State(kb): State<Kb>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Res<(StatusCode, Json<User>)> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let req: NewUser = body(&headers, b)?;
    Ok((StatusCode::CREATED, Json(kb.create_user(m, req).await?)))
}

#[utoipa::path(delete, path = "/v1/users/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The caller's own user (another admin erases it)", body = ErrorBody)))]
async fn delete_user(State(kb): State<Kb>, headers: HeaderMap, Path(id): Path<String>) -> Res<StatusCode> {
    let p = principal(&kb, &headers).await?;
    kb.delete_user(member(&p)?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/keys", tag = "admin", request_body = NewKey, security(("bearer" = [])),
    responses((status = 415, description = "Not application/json", body = ErrorBody), (status = 413, description = "Body over the limit", body = ErrorBody), (status = 400, description = "Not JSON", body = ErrorBody), (status = 201, description = "The key is shown once", body = IssuedKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn issue_key(
    State(kb): State<Kb>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Res<(StatusCode, Json<IssuedKey>)> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let req: NewKey = body(&headers, b)?;
    Ok((StatusCode::CREATED, Json(kb.issue_key(m, req).await?)))
}

#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_key(State(kb): State<Kb>, headers: HeaderMap, Path(id): Path<String>) -> Res<StatusCode> {
    let p = principal(&kb, &headers).await?;
    kb.revoke_key(member(&p)?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A policy text (see the language in the book chapter).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    #[schema(example = "allow if doc.groups in user.groups")]
    pub policy: String,
}

#[utoipa::path(get, path = "/v1/policy", tag = "admin", security(("bearer" = [])), responses((status = 200, body = PolicyBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_policy(State(kb): State<Kb>, headers: HeaderMap) -> Res<Json<PolicyBody>> {
    let p = principal(&kb, &headers).await?;
    Ok(Json(PolicyBody { policy: kb.policy_text(member(&p)?).await? }))
}

#[utoipa::path(put, path = "/v1/policy", tag = "admin", request_body = PolicyBody, security(("bearer" = [])),
    responses((status = 415, description = "Not application/json", body = ErrorBody), (status = 413, description = "Body over the limit", body = ErrorBody), (status = 400, description = "Not JSON", body = ErrorBody), (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, description = "The policy does not parse: the line and why", body = ErrorBody)))]
async fn put_policy(State(kb): State<Kb>, headers: HeaderMap, b: Result<Bytes, BytesRejection>) -> Res<StatusCode> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let req: PolicyBody = body(&headers, b)?;
    kb.set_policy(m, &req.policy).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/documents", tag = "content", request_body = NewDocument, security(("bearer" = [])),
    responses((status = 415, description = "Not application/json", body = ErrorBody), (status = 400, description = "Not JSON", body = ErrorBody), (status = 201, body = DocumentInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_document(
    State(kb): State<Kb>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Res<(StatusCode, Json<DocumentInfo>)> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let req: NewDocument = body(&headers, b)?;
    Ok((StatusCode::CREATED, Json(kb.add_document(m, req).await?)))
}

/// Up to 1,000 documents added in one call (checked first, then written together).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentBatch {
    pub documents: Vec<NewDocument>,
}

#[utoipa::path(post, path = "/v1/documents/batch", tag = "content", request_body = DocumentBatch, security(("bearer" = [])),
    responses((status = 415, description = "Not application/json", body = ErrorBody), (status = 400, description = "Not JSON", body = ErrorBody), (status = 201, body = Vec<DocumentInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_documents(
    State(kb): State<Kb>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Res<(StatusCode, Json<Vec<DocumentInfo>>)> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let req: DocumentBatch = body(&headers, b)?;
    Ok((StatusCode::CREATED, Json(kb.add_documents(m, req.documents).await?)))
}

#[utoipa::path(post, path = "/v1/jobs", tag = "content", request_body = DocumentBatch, security(("bearer" = [])),
    responses((status = 202, description = "Queued: poll GET /v1/jobs/{id}", body = JobInfo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, description = "Too many jobs waiting for this tenant; see Retry-After", body = ErrorBody)))]
async fn submit_job(
    State(kb): State<Kb>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Res<(StatusCode, Json<JobInfo>)> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let req: DocumentBatch = body(&headers, b)?;
    Ok((StatusCode::ACCEPTED, Json(kb.submit_job(m, req.documents).await?)))
}

#[utoipa::path(get, path = "/v1/jobs", tag = "content", security(("bearer" = [])),
    responses((status = 200, description = "The tenant's 50 most recent jobs", body = Vec<JobInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn jobs(State(kb): State<Kb>, headers: HeaderMap) -> Res<Json<Vec<JobInfo>>> {
    let p = principal(&kb, &headers).await?;
    Ok(Json(kb.jobs(member(&p)?).await?))
}

#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "content", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = JobInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn job(State(kb): State<Kb>, headers: HeaderMap, Path(id): Path<String>) -> Res<Json<JobInfo>> {
    let p = principal(&kb, &headers).await?;
    Ok(Json(kb.job(member(&p)?, &id).await?))
}

#[utoipa::path(get, path = "/v1/documents", tag = "content", security(("bearer" = [])),
    responses((status = 200, description = "The documents the caller may see", body = Vec<DocumentInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn documents(State(kb): State<Kb>, headers: HeaderMap) -> Res<Json<Vec<DocumentInfo>>> {
    let p = principal(&kb, &headers).await?;
    Ok(Json(kb.documents(member(&p)?).await?))
}

/// A document with its text.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentBody {
    #[serde(flatten)]
    pub info: DocumentInfo,
    pub text: String,
}

#[utoipa::path(get, path = "/v1/documents/{id}", tag = "content", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = DocumentBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, description = "Absent, or not visible to the caller", body = ErrorBody)))]
async fn document(State(kb): State<Kb>, headers: HeaderMap, Path(id): Path<String>) -> Res<Json<DocumentBody>> {
    let p = principal(&kb, &headers).await?;
    let (info, text) = kb.document(member(&p)?, &id).await?;
    Ok(Json(DocumentBody { info, text }))
}

#[utoipa::path(delete, path = "/v1/documents/{id}", tag = "content", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_document(State(kb): State<Kb>, headers: HeaderMap, Path(id): Path<String>) -> Res<StatusCode> {
    let p = principal(&kb, &headers).await?;
    kb.delete_document(member(&p)?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/search", tag = "content", request_body = SearchRequest, security(("bearer" = [])),
    responses((status = 415, description = "Not application/json", body = ErrorBody), (status = 413, description = "Body over the limit", body = ErrorBody), (status = 200, body = SearchResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn search(
    State(kb): State<Kb>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Res<Json<SearchResponse>> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let req: SearchRequest = body(&headers, b)?;
    Ok(Json(kb.search(m, req).await?))
}

#[utoipa::path(post, path = "/v1/ask", tag = "content", request_body = AskRequest, security(("bearer" = [])),
    responses((status = 415, description = "Not application/json", body = ErrorBody), (status = 413, description = "Body over the limit", body = ErrorBody), (status = 200, body = AskResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn ask(State(kb): State<Kb>, headers: HeaderMap, b: Result<Bytes, BytesRejection>) -> Res<Json<AskResponse>> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let req: AskRequest = body(&headers, b)?;
    Ok(Json(kb.ask(m, req).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExplainParams {
    pub user: String,
    pub document: String,
}

#[utoipa::path(get, path = "/v1/explain", tag = "admin", params(ExplainParams), security(("bearer" = [])),
    responses((status = 422, description = "Not the request shape, or a rule", body = ErrorBody), (status = 200, description = "The rules that allow and deny", body = Decision), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn explain(
    State(kb): State<Kb>,
    headers: HeaderMap,
    q: Result<Query<ExplainParams>, axum::extract::rejection::QueryRejection>,
) -> Res<Json<Decision>> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let Query(q) = q.map_err(|e| KbError::Invalid { code: "invalid_query", message: e.body_text(), at: None })?;
    Ok(Json(kb.explain(m, &q.user, &q.document).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Entries after this sequence number (default 0).
    #[serde(default)]
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub after: u64,
    /// At most this many (1–1000, default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "admin", params(AuditParams), security(("bearer" = [])),
    responses((status = 422, description = "Not the request shape, or a rule", body = ErrorBody), (status = 200, body = Vec<Entry>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn audit(
    State(kb): State<Kb>,
    headers: HeaderMap,
    q: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Res<Json<Vec<Entry>>> {
    let p = principal(&kb, &headers).await?;
    let m = member(&p)?;
    let Query(q) = q.map_err(|e| KbError::Invalid { code: "invalid_query", message: e.body_text(), at: None })?;
    if q.after > i64::MAX as u64 {
        return Err(KbError::invalid("invalid_query", "after is at most 9223372036854775807", "after").into());
    }
    Ok(Json(kb.audit_entries(m, q.after, q.limit.unwrap_or(100)).await?))
}

#[utoipa::path(get, path = "/v1/audit/verify", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Verification), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn verify_audit(State(kb): State<Kb>, headers: HeaderMap) -> Res<Json<Verification>> {
    let p = principal(&kb, &headers).await?;
    member(&p)?;
    Ok(Json(kb.verify_audit(&p, None).await?))
}

/// The demo users' keys, only when serving with `--demo` (404 otherwise).
async fn demo_users(State(kb): State<Kb>) -> Response {
    match kb.inner.demo_users.get() {
        Some(users) => {
            let list: Vec<serde_json::Value> =
                users.iter().map(|(u, k)| serde_json::json!({"user": u, "key": k})).collect();
            Json(list).into_response()
        }
        None => Failure::from(KbError::NotFound { what: "demo", id: "users".into() }).into_response(),
    }
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "genai-roadmap tenant knowledge base", description = "A multi-tenant knowledge base: tenants, users with attributes, API keys and JWTs; an ABAC policy per tenant compiled into every search; sealed text, crypto-shredding erasure and a hash-chained audit log."),
    paths(readyz, platform::create_tenant, platform::tenants, platform::erase_tenant, platform::bootstrap_key,
        platform::verify_tenant_audit, me, create_user, delete_user, issue_key, revoke_key,
        get_policy, put_policy, add_document, add_documents, submit_job, jobs, job, documents, document, delete_document, search, ask, explain, audit, verify_audit,
        pii::get_pii, pii::put_pii, pii::reveal, pii::usage, sync::manifest, sync::sync),
    modifiers(&Security),
    tags((name = "platform"), (name = "tenant"), (name = "admin"), (name = "content"), (name = "service"))
)]
pub struct ApiDoc;

async fn openapi() -> Json<serde_json::Value> {
    Json(serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
}
