//! Typed payload filters that fail closed.
//!
//! A filter either translates exactly into every backend or is rejected with
//! [`IndexError::UnsupportedFilter`]; nothing is silently dropped, so a filter can never widen a
//! search. [`Filter::matches`] is the reference semantics the backends are tested against.

use crate::{Hit, IndexError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;

/// All `must` conditions hold and no `must_not` condition holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    pub must: Vec<Condition>,
    #[serde(default)]
    pub must_not: Vec<Condition>,
}

/// One condition on a chunk's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The field has this value (for multi-valued attributes: one of its values is this).
    Match { field: Field, value: String },
    /// The field has one of these values. An empty list matches nothing.
    AnyOf { field: Field, values: Vec<String> },
    /// The chunk's pages overlap `from..=to` (either bound optional).
    Pages { from: Option<u32>, to: Option<u32> },
    /// At least one of these nested filters holds (an `or`). An empty list matches nothing.
    /// With `must_not` this also says "not (a and b)", so access policies with several allow
    /// and deny rules compile into one filter (tenant-kb's ABAC, ADR 0025).
    Any { filters: Vec<Filter> },
}

/// A filterable keyword field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    DocId,
    Source,
    Tenant,
    /// An access-control or metadata attribute: `attr.<name>`, name in `[a-z0-9_]{1,64}`.
    Attr(String),
}

impl Field {
    /// The payload path in Qdrant.
    pub(crate) fn payload_key(&self) -> String {
        match self {
            Self::DocId => crate::record::keys::DOC_ID.into(),
            Self::Source => crate::record::keys::SOURCE.into(),
            Self::Tenant => crate::record::keys::TENANT.into(),
            Self::Attr(name) => format!("{}.{name}", crate::record::keys::ATTRS),
        }
    }

    fn values_of<'a>(&self, hit: &'a Hit) -> Vec<&'a str> {
        match self {
            Self::DocId => vec![hit.chunk.doc_id.as_str()],
            Self::Source => vec![hit.chunk.source.as_str()],
            Self::Tenant => hit.tenant.as_deref().into_iter().collect(),
            Self::Attr(name) => hit.attrs.get(name).map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default(),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DocId => f.write_str("doc_id"),
            Self::Source => f.write_str("source"),
            Self::Tenant => f.write_str("tenant"),
            Self::Attr(name) => write!(f, "attr.{name}"),
        }
    }
}

impl std::str::FromStr for Field {
    type Err = IndexError;
    fn from_str(s: &str) -> Result<Self, IndexError> {
        match s {
            "doc_id" => Ok(Self::DocId),
            "source" => Ok(Self::Source),
            "tenant" => Ok(Self::Tenant),
            _ => match s.strip_prefix("attr.") {
                Some(name) if valid_attr_name(name) => Ok(Self::Attr(name.to_owned())),
                _ => Err(unsupported(format!(
                    "unknown field {s:?}; filterable fields are doc_id, source, tenant and attr.<name> with name in [a-z0-9_]{{1,64}}"
                ))),
            },
        }
    }
}

impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

pub(crate) fn valid_attr_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn unsupported(reason: String) -> IndexError {
    IndexError::UnsupportedFilter { reason }
}

/// Caps that keep a hostile filter from becoming a denial of service.
const MAX_CONDITIONS: usize = 64;
const MAX_VALUES: usize = 1_024;
/// Nesting of [`Condition::Any`]: a policy needs two levels (allow rules of conjunctions).
const MAX_DEPTH: usize = 4;

impl Filter {
    /// Shorthand: only chunks of this tenant.
    pub fn tenant(tenant: &str) -> Self {
        Self { must: vec![Condition::Match { field: Field::Tenant, value: tenant.to_owned() }], must_not: vec![] }
    }

    /// Adds a `must` condition.
    pub fn and(mut self, c: Condition) -> Self {
        self.must.push(c);
        self
    }

    /// Rejects what no backend can run exactly.
    pub fn validate(&self) -> Result<(), IndexError> {
        let mut conditions = 0;
        self.validate_nested(0, &mut conditions)
    }

    fn validate_nested(&self, depth: usize, conditions: &mut usize) -> Result<(), IndexError> {
        if depth > MAX_DEPTH {
            return Err(unsupported(format!("filters nested more than {MAX_DEPTH} deep")));
        }
        *conditions += self.must.len() + self.must_not.len();
        if *conditions > MAX_CONDITIONS {
            return Err(unsupported(format!("more than {MAX_CONDITIONS} conditions")));
        }
        for c in self.must.iter().chain(&self.must_not) {
            match c {
                Condition::Match { value, .. } => check_value(value)?,
                Condition::AnyOf { values, .. } => {
                    if values.len() > MAX_VALUES {
                        return Err(unsupported(format!("any_of with more than {MAX_VALUES} values")));
                    }
                    values.iter().try_for_each(|v| check_value(v))?;
                }
                Condition::Pages { from: Some(f), to: Some(t) } if f > t => {
                    return Err(unsupported(format!("page range {f}..={t} is empty")));
                }
                Condition::Pages { from: None, to: None } => {
                    return Err(unsupported("pages needs `from`, `to` or both".into()));
                }
                Condition::Pages { .. } => {}
                Condition::Any { filters } => {
                    for f in filters {
                        f.validate_nested(depth + 1, conditions)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Validates an optional filter and says whether a search with it can match anything;
    /// `Ok(false)` means: return nothing without asking the backend.
    pub fn admits(filter: Option<&Filter>) -> Result<bool, IndexError> {
        match filter {
            None => Ok(true),
            Some(f) => {
                f.validate()?;
                Ok(!f.matches_nothing())
            }
        }
    }

    /// True when no chunk can match: a `must` any_of with no values, or a single-valued field
    /// (tenant, source) that `must` pins to a value `must_not` excludes. Backends return nothing
    /// without running the query. The second case is decided here, not by the backend: a Qdrant
    /// server with the tiered layout, asked for tenant = acme and not tenant = acme, returned
    /// acme's chunks (seen once in CI's property test); a filter must never widen a search.
    ///
    /// Nested [`Condition::Any`] filters are decided the same way, so the backends never see an
    /// empty `any_of` or an `any` whose every branch is impossible: see [`Condition::is_false`].
    pub fn matches_nothing(&self) -> bool {
        let empty_any = self.must.iter().any(Condition::is_false);
        let pinned_and_excluded = self.must.iter().any(|c| match c {
            Condition::Match { field: field @ (Field::Tenant | Field::Source), value } => {
                self.must_not.iter().any(|n| match n {
                    Condition::Match { field: f, value: v } => f == field && v == value,
                    Condition::AnyOf { field: f, values } => f == field && values.contains(value),
                    Condition::Pages { .. } | Condition::Any { .. } => false,
                })
            }
            _ => false,
        });
        empty_any || pinned_and_excluded
    }

    /// The reference semantics: whether `hit` passes.
    pub fn matches(&self, hit: &Hit) -> bool {
        self.must.iter().all(|c| c.matches(hit)) && !self.must_not.iter().any(|c| c.matches(hit))
    }

    /// The Qdrant REST/JSON form, read by qdrant-edge's serde types.
    pub(crate) fn to_qdrant_json(&self) -> Value {
        let must: Vec<Value> = self.must.iter().map(Condition::to_qdrant_json).collect();
        let must_not: Vec<Value> =
            self.must_not.iter().filter(|c| !c.is_false()).map(Condition::to_qdrant_json).collect();
        json!({ "must": must, "must_not": must_not })
    }
}

fn check_value(v: &str) -> Result<(), IndexError> {
    if v.len() > 1024 || v.contains(crate::embedded::ATTR_SEPARATOR) {
        return Err(unsupported("filter values must be at most 1024 bytes without control characters".into()));
    }
    Ok(())
}

impl Condition {
    /// True when the condition can hold for no chunk: an empty `any_of`, or an `any` whose
    /// every branch matches nothing. Under `must` it empties the result; under `must_not` it
    /// excludes nothing, so the backends drop it rather than send it.
    pub fn is_false(&self) -> bool {
        match self {
            Self::AnyOf { values, .. } => values.is_empty(),
            Self::Any { filters } => filters.iter().all(Filter::matches_nothing),
            Self::Match { .. } | Self::Pages { .. } => false,
        }
    }

    /// The branches of an `any` a backend has to run: impossible ones are left out.
    pub(crate) fn live_branches(filters: &[Filter]) -> impl Iterator<Item = &Filter> {
        filters.iter().filter(|f| !f.matches_nothing())
    }

    fn matches(&self, hit: &Hit) -> bool {
        match self {
            Self::Match { field, value } => field.values_of(hit).contains(&value.as_str()),
            Self::AnyOf { field, values } => field.values_of(hit).iter().any(|v| values.iter().any(|w| w == v)),
            Self::Pages { from, to } => {
                from.is_none_or(|f| hit.chunk.pages.end >= f) && to.is_none_or(|t| hit.chunk.pages.start <= t)
            }
            Self::Any { filters } => filters.iter().any(|f| f.matches(hit)),
        }
    }

    fn to_qdrant_json(&self) -> Value {
        match self {
            Self::Match { field, value } => json!({"key": field.payload_key(), "match": {"value": value}}),
            Self::AnyOf { field, values } => json!({"key": field.payload_key(), "match": {"any": values}}),
            Self::Pages { from, to } => {
                let mut parts = Vec::new();
                if let Some(f) = from {
                    parts.push(json!({"key": crate::record::keys::PAGE_END, "range": {"gte": f}}));
                }
                if let Some(t) = to {
                    parts.push(json!({"key": crate::record::keys::PAGE_START, "range": {"lte": t}}));
                }
                // A nested filter, so that under must_not the two bounds negate together.
                json!({"must": parts})
            }
            Self::Any { filters } => {
                let branches: Vec<Value> = Self::live_branches(filters).map(Filter::to_qdrant_json).collect();
                json!({ "should": branches })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_fails_closed_on_unknowns() {
        let f: Filter = serde_json::from_value(json!({
            "must": [{"match": {"field": "tenant", "value": "acme"}}, {"pages": {"from": 2, "to": null}}],
            "must_not": [{"any_of": {"field": "attr.group", "values": ["hr"]}}]
        }))
        .unwrap();
        assert!(f.validate().is_ok());
        assert_eq!(f.must_not[0], Condition::AnyOf { field: Field::Attr("group".into()), values: vec!["hr".into()] });
        for bad in [
            json!({"must": [{"match": {"field": "colour", "value": "x"}}]}),
            json!({"must": [{"match": {"field": "attr.Group", "value": "x"}}]}),
            json!({"must": [{"regex": {"field": "source", "value": ".*"}}]}),
            json!({"should": []}),
            json!({"must": [{"match": {"field": "source", "value": "x", "fuzzy": true}}]}),
        ] {
            assert!(serde_json::from_value::<Filter>(bad.clone()).is_err(), "{bad} must be rejected");
        }
        let empty_pages = Filter { must: vec![Condition::Pages { from: Some(3), to: Some(2) }], must_not: vec![] };
        assert!(empty_pages.validate().is_err());
    }
}
