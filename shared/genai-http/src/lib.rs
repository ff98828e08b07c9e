//! The HTTP conventions every milestone API shares.
//!
//! - One error body, `{"error": {"code", "message", "at"}}`: [`ApiError`] renders it, and
//!   [`ErrorBody`] describes it in OpenAPI.
//! - [`parse_json`]: a JSON body parsed by hand so every failure gets a precise 4xx: wrong
//!   content type (415), over the size limit (413), empty (400), not UTF-8 (400, with the byte
//!   offset), not JSON (400, with line and column), not the request shape (422, with the JSON
//!   pointer of the offending field).
//! - [`shutdown_signal`]: Ctrl-C or SIGTERM, for graceful shutdown.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use utoipa::ToSchema;

/// The one error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable (`invalid_json`, `empty_query`, `unsupported_filter`, ...).
    pub code: &'static str,
    pub message: String,
    /// Where: a JSON pointer into the request, or `line:column` of a syntax error.
    pub at: Option<String>,
}

/// An error response in the one shape.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub at: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>, at: Option<String>) -> Self {
        Self { status, code, message: message.into(), at }
    }

    /// 422 with the field's JSON pointer.
    pub fn invalid(code: &'static str, message: impl Into<String>, at: &str) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message, Some(at.to_owned()))
    }

    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message, None)
    }

    /// A 5xx whose details go to the log once and never to the client.
    pub fn internal(status: StatusCode, code: &'static str, detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(code, error = %detail, "request failed on the server side");
        Self::new(status, code, "the request could not be completed; try again", None)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: self.message, at: self.at } };
        (self.status, Json(body)).into_response()
    }
}

/// Parses a JSON request body into `T` (see the crate docs for the status of each failure).
/// `limit` is the body limit in bytes, named in the 413 message.
pub fn parse_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<T, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime != "application/json" && !mime.ends_with("+json") {
        let got = if ct.is_empty() { "no Content-Type".to_owned() } else { format!("Content-Type `{ct}`") };
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("expected application/json, got {got}"),
            None,
        ));
    }
    let body = body.map_err(|r| {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(
                status,
                "body_too_large",
                format!("the request body is over the limit of {limit} bytes"),
                None,
            );
        }
        let status = if status.is_client_error() { status } else { StatusCode::BAD_REQUEST };
        ApiError::new(status, "unreadable_body", r.body_text(), None)
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_body",
            "the request body is empty; send a JSON object",
            None,
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_utf8",
            format!("the body is not valid UTF-8: {e}"),
            Some(format!("byte {}", e.valid_up_to())),
        )
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
            Some(format!("{}:{}", e.line(), e.column())),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid("invalid_request", "the body must be a JSON object", "/"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = pointer(e.path());
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", e.into_inner().to_string(), Some(at))
    })
}

/// Serde's derived `Deserialize` for a struct also accepts a JSON array (its fields by
/// position): `"filters": [null, null]` would pass as empty filters. Fields whose type is a
/// struct use `#[serde(deserialize_with = "genai_http::object")]` to accept objects only.
pub fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = <Value as serde::Deserialize>::deserialize(d)?;
    if !v.is_object() {
        return Err(serde::de::Error::custom(format!("expected an object, got {}", kind(&v))));
    }
    serde_json::from_value(v).map_err(serde::de::Error::custom)
}

/// [`object`] for an optional field (`null` is `None`).
pub fn object_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = <Value as serde::Deserialize>::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    object(v).map(Some).map_err(serde::de::Error::custom)
}

/// [`object`] for every item of a list.
pub fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = <Value as serde::Deserialize>::deserialize(d)?;
    let Value::Array(items) = v else {
        return Err(serde::de::Error::custom(format!("expected an array, got {}", kind(&v))));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            object(item).map_err(|e: serde_json::Error| serde::de::Error::custom(format!("item {i}: {e}")))
        })
        .collect()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Resolves on Ctrl-C or SIGTERM (what orchestrators send): the future every server binary
/// gives `serve` for a graceful shutdown (stop accepting, finish what is in flight).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The JSON pointer of a serde path (`/` for the root).
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let at: String = path
        .iter()
        .map(|s| match s {
            Segment::Seq { index } => format!("/{index}"),
            Segment::Map { key } => format!("/{}", key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => format!("/{variant}"),
            Segment::Unknown => "/?".to_owned(),
        })
        .collect();
    if at.is_empty() { "/".to_owned() } else { at }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        query: String,
        k: Option<u32>,
    }

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        h
    }

    fn parse(body: &str) -> Result<Req, ApiError> {
        parse_json(&json_headers(), Ok(Bytes::from(body.to_owned())), 1024)
    }

    #[test]
    fn each_failure_has_its_status_code_and_place() {
        let e = parse_json::<Req>(&HeaderMap::new(), Ok(Bytes::from("{}")), 1024).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (415, "unsupported_media_type"));
        let e = parse("  ").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "empty_body"));
        let e = parse("{\"query\": ").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code, e.at.as_deref()), (400, "invalid_json", Some("1:10")));
        let e = parse("[1]").unwrap_err();
        assert_eq!((e.status.as_u16(), e.at.as_deref()), (422, Some("/")));
        let e = parse("{\"query\": \"x\", \"k\": \"five\"}").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code, e.at.as_deref()), (422, "invalid_request", Some("/k")));
        let e = parse("{\"query\": \"x\", \"kk\": 1}").unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert!(e.message.contains("kk"), "{}", e.message);
        assert!(parse("{\"query\": \"x\", \"k\": 3}").is_ok());
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        a: Option<u32>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(default, deserialize_with = "object_opt")]
        inner: Option<Inner>,
        #[serde(default, deserialize_with = "objects")]
        list: Vec<Inner>,
    }

    #[test]
    fn struct_fields_take_objects_not_arrays() {
        let ok: Outer = serde_json::from_str(r#"{"inner": {"a": 1}, "list": [{"a": 2}], "extra": 0}"#).unwrap();
        assert!(ok.inner.is_some() && ok.list.len() == 1);
        assert!(serde_json::from_str::<Outer>(r#"{"inner": null}"#).unwrap().inner.is_none());
        // Serde alone would take these as the fields by position.
        assert!(serde_json::from_str::<Outer>(r#"{"inner": [1]}"#).is_err());
        assert!(serde_json::from_str::<Outer>(r#"{"list": [[2]]}"#).is_err());
        assert!(serde_json::from_str::<Inner>("[1]").is_ok(), "the behaviour guarded against");
    }

    #[test]
    fn invalid_utf8_names_the_byte() {
        let e = parse_json::<Req>(&json_headers(), Ok(Bytes::from_static(b"{\"q\xff\": 1}")), 1024).unwrap_err();
        assert_eq!((e.code, e.at.as_deref()), ("invalid_utf8", Some("byte 3")));
    }
}
