//! The metadata filters a query may carry, translated into the index's typed [`Filter`].
//!
//! Fail closed: every filter either becomes an exact index condition or the request is refused
//! with a 4xx naming the field (unknown fields, bad dates, empty lists). Nothing is dropped, so a
//! filter can never widen a search (the anchor's complaint: llama_index #20237).
//!
//! Dates are indexed by month (`attr.month = "2024-05"`), and a date range becomes the list of
//! months it spans. Production note: month granularity keeps the translation exact on both index
//! backends with keyword conditions alone; a day-level range wants a numeric payload index with
//! range conditions in `genai-retrieval`.

use genai_retrieval::{Condition, Field, Filter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Attribute names in the index.
pub const DOC_TYPE: &str = "doc_type";
pub const CATEGORY: &str = "category";
pub const MONTH: &str = "month";

/// Longest date range a filter may span, in months (50 years).
const MAX_MONTHS: usize = 600;

/// Filters of a query; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Document types to search: `pdf`, `markdown`, `html`, `text` (any of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_type: Option<Vec<DocType>>,
    /// Categories given at ingest (any of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Vec<String>>,
    /// Documents dated in this range (by month, both ends included).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "genai_http::object_opt")]
    pub date: Option<DateRange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocType {
    Pdf,
    Markdown,
    Html,
    Text,
}

impl DocType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Markdown => "markdown",
            Self::Html => "html",
            Self::Text => "text",
        }
    }
}

/// `YYYY-MM` or `YYYY` bounds; either may be left out, not both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    #[schema(example = "2023-01")]
    pub from: Option<String>,
    #[schema(example = "2024-06")]
    pub to: Option<String>,
}

/// Why a filter was refused, with the JSON pointer of the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct FilterError {
    pub at: String,
    pub reason: String,
}

fn refuse(at: &str, reason: impl Into<String>) -> FilterError {
    FilterError { at: format!("/filters{at}"), reason: reason.into() }
}

/// A month as (year, month 1–12).
type Month = (u32, u32);

/// Parses `YYYY-MM`, `YYYY-MM-DD` (the month is taken) or, for a range bound, `YYYY`
/// (`start` picks January or December).
pub fn parse_month(s: &str, start: bool) -> Option<Month> {
    let parts: Vec<&str> = s.split('-').collect();
    let num =
        |p: &str, len: usize| (p.len() == len && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse().ok())?;
    let year: u32 = num(parts.first()?, 4)?;
    let month = match parts.len() {
        1 => Some(if start { 1 } else { 12 }),
        2 | 3 => num(parts[1], 2),
        _ => None,
    }?;
    if parts.len() == 3 {
        let day: u32 = num(parts[2], 2)?;
        if !(1..=31).contains(&day) {
            return None;
        }
    }
    ((1..=12).contains(&month) && year >= 1000).then_some((year, month))
}

/// The `attr.month` value of a document date.
pub fn month_key((y, m): Month) -> String {
    format!("{y:04}-{m:02}")
}

/// A category or filter value: 1–128 characters, not blank, no control characters.
pub fn valid_value(v: &str) -> bool {
    !v.trim().is_empty() && v.len() <= 128 && !v.chars().any(char::is_control)
}

fn check_values(at: &str, values: &[String]) -> Result<(), FilterError> {
    if values.is_empty() {
        return Err(refuse(at, "an empty list matches nothing; leave the filter out to search everything"));
    }
    if values.len() > 64 {
        return Err(refuse(at, "at most 64 values"));
    }
    for (i, v) in values.iter().enumerate() {
        if !valid_value(v) {
            return Err(refuse(&format!("{at}/{i}"), "values are 1-128 characters without control characters"));
        }
    }
    Ok(())
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.doc_type.is_none() && self.category.is_none() && self.date.is_none()
    }

    /// The canonical form (sorted, deduplicated), so equal filters make equal cache scopes.
    pub fn canonical(&self) -> Self {
        let mut c = self.clone();
        if let Some(v) = &mut c.doc_type {
            v.sort();
            v.dedup();
        }
        if let Some(v) = &mut c.category {
            v.sort();
            v.dedup();
        }
        c
    }

    /// The index filter, or why these filters cannot be run exactly.
    pub fn to_filter(&self) -> Result<Option<Filter>, FilterError> {
        let mut f = Filter::default();
        if let Some(types) = &self.doc_type {
            if types.is_empty() {
                return Err(refuse(
                    "/doc_type",
                    "an empty list matches nothing; leave the filter out to search everything",
                ));
            }
            let values = types.iter().map(|t| t.as_str().to_owned()).collect();
            f = f.and(Condition::AnyOf { field: Field::Attr(DOC_TYPE.into()), values });
        }
        if let Some(cats) = &self.category {
            check_values("/category", cats)?;
            f = f.and(Condition::AnyOf { field: Field::Attr(CATEGORY.into()), values: cats.clone() });
        }
        if let Some(range) = &self.date {
            f = f.and(Condition::AnyOf { field: Field::Attr(MONTH.into()), values: months(range)? });
        }
        if f.must.is_empty() {
            return Ok(None);
        }
        f.validate().map_err(|e| refuse("", e.to_string()))?;
        Ok(Some(f))
    }
}

/// Every month of the range, as `attr.month` values.
fn months(range: &DateRange) -> Result<Vec<String>, FilterError> {
    let bound = |v: &Option<String>, at: &str, start: bool| -> Result<Option<Month>, FilterError> {
        v.as_deref()
            .map(|s| {
                parse_month(s, start).ok_or_else(|| refuse(at, format!("{s:?} is not a date: use YYYY-MM or YYYY")))
            })
            .transpose()
    };
    let from = bound(&range.from, "/date/from", true)?;
    let to = bound(&range.to, "/date/to", false)?;
    let (from, to) = match (from, to) {
        (None, None) => return Err(refuse("/date", "give from, to or both")),
        (Some(f), Some(t)) => (f, t),
        // An open end is bounded by the range cap, counted from the given end.
        (Some(f), None) => (f, add_months(f, MAX_MONTHS as i64 - 1)),
        (None, Some(t)) => (add_months(t, -(MAX_MONTHS as i64 - 1)), t),
    };
    if from > to {
        return Err(refuse("/date", "from is after to"));
    }
    let span = ((to.0 - from.0) * 12 + to.1) as i64 - from.1 as i64 + 1;
    if span as usize > MAX_MONTHS {
        return Err(refuse("/date", format!("a date range spans at most {MAX_MONTHS} months")));
    }
    Ok((0..span).map(|i| month_key(add_months(from, i))).collect())
}

fn add_months((y, m): Month, n: i64) -> Month {
    let total = (y as i64 * 12 + (m as i64 - 1) + n).max(1000 * 12);
    ((total / 12) as u32, (total % 12) as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(json: &str) -> Result<Filters, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn unknown_fields_and_values_are_refused_not_ignored() {
        assert!(parse(r#"{"author": ["x"]}"#).is_err());
        assert!(parse(r#"{"doc_type": ["docx"]}"#).is_err());
        assert!(parse(r#"{"date": {"from": "2020", "until": "2021"}}"#).is_err());
        assert!(parse(r#"{"date": ["2020", "2021"]}"#).is_err(), "a range is an object, not a pair");
        let e = parse(r#"{"category": []}"#).unwrap().to_filter().unwrap_err();
        assert_eq!(e.at, "/filters/category");
        let e = parse(r#"{"date": {"from": "2024-13"}}"#).unwrap().to_filter().unwrap_err();
        assert_eq!(e.at, "/filters/date/from");
        let e = parse(r#"{"date": {"from": "2024-05", "to": "2023-01"}}"#).unwrap().to_filter().unwrap_err();
        assert_eq!(e.at, "/filters/date");
        assert!(parse(r#"{"date": {}}"#).unwrap().to_filter().is_err());
        assert_eq!(parse("{}").unwrap().to_filter().unwrap(), None);
    }

    #[test]
    fn a_date_range_becomes_its_months() {
        let f = parse(r#"{"date": {"from": "2023-11", "to": "2024-02"}}"#).unwrap().to_filter().unwrap().unwrap();
        let Condition::AnyOf { values, .. } = &f.must[0] else { panic!("{f:?}") };
        assert_eq!(values, &["2023-11", "2023-12", "2024-01", "2024-02"]);
        let f = parse(r#"{"date": {"from": "2024", "to": "2024"}}"#).unwrap().to_filter().unwrap().unwrap();
        let Condition::AnyOf { values, .. } = &f.must[0] else { panic!("{f:?}") };
        assert_eq!(values.len(), 12);
        assert_eq!(parse_month("2024-02-30", true), Some((2024, 2)));
        assert_eq!(parse_month("24-02", true), None);
    }

    #[test]
    fn canonical_form_ignores_order_and_repeats() {
        let a = parse(r#"{"category": ["b", "a", "a"], "doc_type": ["text", "pdf"]}"#).unwrap();
        let b = parse(r#"{"doc_type": ["pdf", "text"], "category": ["a", "b"]}"#).unwrap();
        assert_eq!(a.canonical(), b.canonical());
    }

    proptest! {
        /// The months of a range are exactly the months between its ends, in order.
        #[test]
        fn range_months_are_contiguous(y in 1990u32..2030, m in 1u32..=12, n in 0i64..48) {
            let from = (y, m);
            let to = add_months(from, n);
            let r = DateRange { from: Some(month_key(from)), to: Some(month_key(to)) };
            let ms = months(&r).unwrap();
            prop_assert_eq!(ms.len() as i64, n + 1);
            prop_assert_eq!(ms.first().unwrap(), &month_key(from));
            prop_assert_eq!(ms.last().unwrap(), &month_key(to));
        }
    }
}
