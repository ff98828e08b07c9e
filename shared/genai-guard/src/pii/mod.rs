//! Offline PII recognition: many small recognisers, one conflict resolution.
//!
//! Each recogniser proposes [`Finding`]s with a base score; context words near a finding raise
//! its score ([`context`]); overlapping findings are resolved by score, then length; findings
//! under the analyzer's threshold are dropped. The recognisers are honest algorithms with known
//! limits (see the crate README), not a trained NER model.

mod checks;
mod context;
mod gazetteer;
mod names;
mod patterns;

pub use checks::{iban_valid, luhn_valid, nhs_valid, nif_valid, ssn_valid};

use serde::{Deserialize, Serialize};

/// The entity types this crate recognises. Names follow Presidio's where one exists, so
/// evaluations against Presidio-labelled data need no renaming beyond `GPE` → `LOCATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PiiKind {
    Person,
    Organization,
    Location,
    StreetAddress,
    ZipCode,
    Nrp,
    Title,
    Age,
    DateTime,
    EmailAddress,
    PhoneNumber,
    Url,
    IpAddress,
    Money,
    CreditCard,
    IbanCode,
    UsSsn,
    UsDriverLicense,
    UkNhs,
    EsNif,
}

impl PiiKind {
    pub const ALL: [PiiKind; 20] = [
        PiiKind::Person,
        PiiKind::Organization,
        PiiKind::Location,
        PiiKind::StreetAddress,
        PiiKind::ZipCode,
        PiiKind::Nrp,
        PiiKind::Title,
        PiiKind::Age,
        PiiKind::DateTime,
        PiiKind::EmailAddress,
        PiiKind::PhoneNumber,
        PiiKind::Url,
        PiiKind::IpAddress,
        PiiKind::Money,
        PiiKind::CreditCard,
        PiiKind::IbanCode,
        PiiKind::UsSsn,
        PiiKind::UsDriverLicense,
        PiiKind::UkNhs,
        PiiKind::EsNif,
    ];

    /// The wire name (`PERSON`, `EMAIL_ADDRESS`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Person => "PERSON",
            PiiKind::Organization => "ORGANIZATION",
            PiiKind::Location => "LOCATION",
            PiiKind::StreetAddress => "STREET_ADDRESS",
            PiiKind::ZipCode => "ZIP_CODE",
            PiiKind::Nrp => "NRP",
            PiiKind::Title => "TITLE",
            PiiKind::Age => "AGE",
            PiiKind::DateTime => "DATE_TIME",
            PiiKind::EmailAddress => "EMAIL_ADDRESS",
            PiiKind::PhoneNumber => "PHONE_NUMBER",
            PiiKind::Url => "URL",
            PiiKind::IpAddress => "IP_ADDRESS",
            PiiKind::Money => "MONEY",
            PiiKind::CreditCard => "CREDIT_CARD",
            PiiKind::IbanCode => "IBAN_CODE",
            PiiKind::UsSsn => "US_SSN",
            PiiKind::UsDriverLicense => "US_DRIVER_LICENSE",
            PiiKind::UkNhs => "UK_NHS",
            PiiKind::EsNif => "ES_NIF",
        }
    }

    pub fn parse(name: &str) -> Option<PiiKind> {
        PiiKind::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for PiiKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recognised span. `start..end` are byte offsets into the analysed text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
    /// 0..=1: the recogniser's base score, raised by context words.
    pub score: f32,
    /// Which recogniser found it (`email`, `credit_card_luhn`, `person_context`, ...).
    pub recognizer: &'static str,
}

impl Finding {
    pub(crate) fn new(kind: PiiKind, start: usize, end: usize, score: f32, recognizer: &'static str) -> Self {
        Self { kind, start, end, score, recognizer }
    }
}

/// Runs every recogniser and resolves overlaps.
#[derive(Debug, Clone)]
pub struct Analyzer {
    /// Findings scoring below this are dropped. Default 0.4 (Presidio's default threshold in its
    /// published evaluation, so the two are compared at the same operating point).
    pub min_score: f32,
    /// Only these kinds are reported (all when empty).
    pub kinds: Vec<PiiKind>,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self { min_score: 0.4, kinds: Vec::new() }
    }
}

impl Analyzer {
    /// Findings sorted by start, non-overlapping.
    pub fn analyze(&self, text: &str) -> Vec<Finding> {
        let mut all = Vec::new();
        patterns::find(text, &mut all);
        names::find(text, &mut all);
        context::boost(text, &mut all);
        all.retain(|f| f.score >= self.min_score && f.start < f.end);
        // Resolve before filtering by kind: "14 March 2025" is a date even when only addresses
        // are asked for, so it must not come back as an address.
        let mut kept = resolve(all);
        if !self.kinds.is_empty() {
            kept.retain(|f| self.kinds.contains(&f.kind));
        }
        kept
    }
}

/// Keeps the best of overlapping findings: higher score first, then the longer span, then the
/// earlier one; a finding is kept only if it overlaps nothing already kept.
fn resolve(mut all: Vec<Finding>) -> Vec<Finding> {
    all.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then((b.end - b.start).cmp(&(a.end - a.start))).then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<Finding> = Vec::with_capacity(all.len());
    for f in all {
        if kept.iter().all(|k| f.end <= k.start || f.start >= k.end) {
            kept.push(f);
        }
    }
    kept.sort_by_key(|f| f.start);
    kept
}

#[cfg(test)]
mod tests;
