//! Translations between the project's types and Qdrant's gRPC types: filters, point ids, errors.

use crate::filter::{Condition as Cond, Field};
use crate::record::keys;
use crate::{Filter, IndexError};
use genai_core::ChunkId;
use qdrant_client::QdrantError;
use qdrant_client::qdrant::{Condition, Filter as QFilter, PointId, Range, point_id::PointIdOptions};
use tonic::Code;

/// The filter in Qdrant's form. Exact by construction: every [`Cond`] has a one-to-one
/// translation, and an empty `any_of` under `must_not` (which excludes nothing) is dropped
/// rather than sent, matching [`Filter::matches`]; so is any condition that can hold for nothing. Callers validate with [`Filter::admits`]
/// first, which also short-circuits an empty `any_of` under `must` (matches nothing).
pub(super) fn to_qdrant(f: &Filter) -> QFilter {
    let must: Vec<Condition> = f.must.iter().map(condition).collect();
    let must_not: Vec<Condition> = f.must_not.iter().filter(|c| !c.is_false()).map(condition).collect();
    QFilter { must, must_not, ..Default::default() }
}

fn condition(c: &Cond) -> Condition {
    match c {
        Cond::Match { field, value } => Condition::matches(field.payload_key(), value.clone()),
        Cond::AnyOf { field, values } => Condition::matches(field.payload_key(), values.clone()),
        Cond::Pages { from, to } => {
            let mut parts = Vec::new();
            if let Some(f) = from {
                parts.push(Condition::range(keys::PAGE_END, Range { gte: Some(*f as f64), ..Default::default() }));
            }
            if let Some(t) = to {
                parts.push(Condition::range(keys::PAGE_START, Range { lte: Some(*t as f64), ..Default::default() }));
            }
            // Nested, so that under must_not the two bounds negate together.
            QFilter::must(parts).into()
        }
        // Impossible branches are left out, as in the embedded backend (`Cond::is_false`).
        Cond::Any { filters } => QFilter::should(Cond::live_branches(filters).map(|b| to_qdrant(b).into())).into(),
    }
}

/// The single tenant a filter pins, if any: a `must` match on the tenant field. Only such a
/// filter may be routed to one tenant's shard; anything else searches every shard (and the
/// filter itself still restricts the results).
pub(super) fn pinned_tenant(filter: Option<&Filter>) -> Option<&str> {
    filter?.must.iter().find_map(|c| match c {
        Cond::Match { field: Field::Tenant, value } => Some(value.as_str()),
        _ => None,
    })
}

pub(super) fn point_id(id: Option<PointId>) -> Result<ChunkId, IndexError> {
    match id.and_then(|p| p.point_id_options) {
        Some(PointIdOptions::Num(n)) => Ok(ChunkId::from_raw(n)),
        other => Err(IndexError::CorruptPayload { id: 0, reason: format!("unexpected point id {other:?}") }),
    }
}

/// What a failed call means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFailure {
    /// The server (or the node we asked) could not be reached or did not answer in time, or
    /// shed load: the same request may succeed later or on another node.
    Unavailable,
    /// The server refused the request (bad argument, missing collection, wrong configuration):
    /// repeating it fails the same way.
    Rejected,
    /// Authentication or authorisation failed: fix the API key.
    Unauthorized,
}

/// Classifies a client error by its gRPC status (or transport failure) and extracts the
/// server's own message, so the caller sees what Qdrant said rather than a generic wrapper.
pub(super) fn classify(e: &QdrantError) -> (ServerFailure, String) {
    match e {
        QdrantError::ResponseError { status } => (from_code(status.code()), status_message(status)),
        QdrantError::ResourceExhaustedError { status, retry_after_seconds } => {
            (ServerFailure::Unavailable, format!("{} (retry after {retry_after_seconds} s)", status_message(status)))
        }
        QdrantError::InvalidUri(u) => (ServerFailure::Rejected, format!("invalid URL: {u}")),
        QdrantError::Io(io) => (ServerFailure::Unavailable, io.to_string()),
        other => (ServerFailure::Rejected, other.to_string()),
    }
}

fn from_code(code: Code) -> ServerFailure {
    match code {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::Cancelled
        // Qdrant answers Internal when a replica set has no live replica for a moment (a
        // node died and has not been marked dead yet): transient in a cluster.
        | Code::Internal
        | Code::Unknown => ServerFailure::Unavailable,
        Code::Unauthenticated | Code::PermissionDenied => ServerFailure::Unauthorized,
        _ => ServerFailure::Rejected,
    }
}

fn status_message(status: &tonic::Status) -> String {
    let msg = status.message().trim();
    if msg.is_empty() { format!("gRPC status {:?}", status.code()) } else { msg.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_by_what_the_caller_should_do() {
        let err = |code, msg: &str| QdrantError::ResponseError { status: tonic::Status::new(code, msg) };
        let (kind, msg) = classify(&err(Code::Unavailable, "connection refused"));
        assert_eq!((kind, msg.as_str()), (ServerFailure::Unavailable, "connection refused"));
        let (kind, msg) = classify(&err(Code::InvalidArgument, "Wrong input: Vector dimension error"));
        assert_eq!(kind, ServerFailure::Rejected);
        assert!(msg.contains("Vector dimension error"), "the server's own words: {msg}");
        assert_eq!(classify(&err(Code::NotFound, "Collection x not found")).0, ServerFailure::Rejected);
        assert_eq!(classify(&err(Code::PermissionDenied, "")).0, ServerFailure::Unauthorized);
        assert_eq!(classify(&err(Code::DeadlineExceeded, "")).1, "gRPC status DeadlineExceeded");
    }

    #[test]
    fn only_a_must_match_on_tenant_pins_a_tenant() {
        let pinned = Filter::tenant("acme");
        assert_eq!(pinned_tenant(Some(&pinned)), Some("acme"));
        let any = Filter::default().and(Cond::AnyOf { field: Field::Tenant, values: vec!["a".into(), "b".into()] });
        assert_eq!(pinned_tenant(Some(&any)), None);
        let negated = Filter { must: vec![], must_not: pinned.must.clone() };
        assert_eq!(pinned_tenant(Some(&negated)), None);
        assert_eq!(pinned_tenant(None), None);
    }
}
