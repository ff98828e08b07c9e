//! Milestone 7: a multi-tenant knowledge base. Tenants, users with attributes, API keys and JWTs;
//! an attribute-based access policy per tenant compiled into the index filter (a search never
//! fetches what the user may not see) and checked again on every result; text sealed under a
//! per-tenant data key, so erasing a tenant is destroying its key; an append-only, hash-chained
//! audit log per tenant on SQLite or PostgreSQL.
//!
//! - [`policy`]: the ABAC language, its reference evaluator and its compiler to filters.
//! - [`Kb`] (`service.rs`, `content.rs`): the service, every operation authorised and audited.
//! - [`api`]: the HTTP API (OpenAPI at `/openapi.json`) and the `/kb` page.

mod answer_cache;
pub mod api;
mod ask;
pub mod audit;
pub mod auth;
mod bench;
mod bench_ocr;
mod checks;
pub mod cli;
pub mod config;
pub mod connectors;
mod content;
pub mod crypto;
pub mod demo;
pub mod jobs;
mod members;
pub mod models;
pub mod ocr;
pub mod pii;
pub mod policy;
pub mod quota;
pub mod scan;
mod service;
pub mod store;
pub mod sync;

pub use answer_cache::CacheChoice;
pub use ask::{AskCitation, AskRequest, AskResponse, AskRoute};
pub use config::Config;
pub use content::{NewDocument, SearchHit, SearchRequest, SearchResponse};
pub use jobs::{JobInfo, JobState};
pub use members::{IssuedKey, NewKey, NewUser};
pub use pii::{PiiSettings, RevealRequest, Revealed};
pub use quota::Usage;
pub use service::{ErasureReport, Kb, NewTenant, extractive};
pub use sync::{Manifest, SyncBatch, SyncReport};

use axum::http::StatusCode;

/// What went wrong, classified by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// No credential, or one that is not valid: authenticate (401).
    #[error("missing or invalid credentials")]
    Unauthenticated,
    /// Valid credential without the right: ask for it (403).
    #[error("{0}")]
    Forbidden(String),
    /// Fix the request (400 / 422).
    #[error("{message}")]
    Invalid { code: &'static str, message: String, at: Option<String> },
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    /// Too much work waiting for this tenant: retry after a while (429).
    #[error("{waiting} ingest jobs are waiting for this tenant; retry in {retry_after_secs} s")]
    Busy { retry_after_secs: u64, waiting: u64 },
    /// The tenant used its quota: retry after the window ends (429).
    #[error("over this tenant's limit of {what}; retry in {retry_after_secs} s")]
    Limited { what: String, retry_after_secs: u64 },
    /// The tenant was erased: nothing of it can be read again (410).
    #[error("tenant {0:?} was erased")]
    Gone(String),
    /// A backing store failed: retry later (503).
    #[error("{what} unavailable: {detail}")]
    Unavailable { what: &'static str, detail: String },
    /// Startup: configuration or files.
    #[error("{0}")]
    Setup(String),
}

impl KbError {
    pub(crate) fn invalid(code: &'static str, message: impl Into<String>, at: &str) -> Self {
        Self::Invalid { code, message: message.into(), at: Some(at.to_owned()) }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Invalid { code: "unsupported_filter", .. } => StatusCode::BAD_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::Busy { .. } | Self::Limited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } | Self::Setup(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl KbError {
    /// Whether trying again later can succeed (a store or the index was unavailable), as
    /// opposed to a request that will fail the same way every time.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Busy { .. } | Self::Limited { .. })
    }
}

impl From<store::StoreError> for KbError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::Exists { what, id } => Self::Conflict(format!("{what} {id:?} already exists")),
            other => Self::Unavailable { what: "registry", detail: other.to_string() },
        }
    }
}

impl From<audit::AuditError> for KbError {
    fn from(e: audit::AuditError) -> Self {
        Self::Unavailable { what: "audit log", detail: e.to_string() }
    }
}

impl From<genai_retrieval::IndexError> for KbError {
    fn from(e: genai_retrieval::IndexError) -> Self {
        match e {
            genai_retrieval::IndexError::UnsupportedFilter { reason } => {
                Self::Invalid { code: "unsupported_filter", message: reason, at: Some("/filters".into()) }
            }
            other => Self::Unavailable { what: "index", detail: other.to_string() },
        }
    }
}

impl From<crypto::CryptoError> for KbError {
    fn from(e: crypto::CryptoError) -> Self {
        Self::Unavailable { what: "key store", detail: e.to_string() }
    }
}
