//! Context-word scoring: a finding with a telling word nearby ("card", "SSN", "call", "born")
//! is more likely what its pattern says. Same idea as Presidio's context enhancer: a fixed boost,
//! capped at 1.0.

use super::{Finding, PiiKind};

/// How far to look: words before the finding and words after it.
const BEFORE: usize = 6;
const AFTER: usize = 3;
const BOOST: f32 = 0.35;

fn words_for(kind: PiiKind) -> &'static [&'static str] {
    match kind {
        PiiKind::CreditCard => &["card", "credit", "visa", "mastercard", "amex", "cc", "debit", "payment", "karte"],
        PiiKind::UsSsn => &["ssn", "social", "security"],
        PiiKind::UkNhs => &["nhs", "health"],
        PiiKind::EsNif => &["dni", "nif", "nie"],
        PiiKind::UsDriverLicense => &["driver", "driver's", "drivers", "license", "licence", "dl"],
        PiiKind::PhoneNumber => &[
            "phone",
            "call",
            "tel",
            "telephone",
            "mobile",
            "cell",
            "fax",
            "number",
            "reach",
            "contact",
            "text",
            "dial",
            "ring",
        ],
        PiiKind::IbanCode => &["iban", "account", "bank", "transfer"],
        PiiKind::DateTime => &[
            "in",
            "since",
            "on",
            "born",
            "birth",
            "date",
            "year",
            "founded",
            "until",
            "from",
            "dob",
            "established",
            "when",
            "at",
            "between",
        ],
        PiiKind::ZipCode => &["zip", "postal", "postcode", "code"],
        PiiKind::IpAddress => &["ip", "address", "server", "host"],
        PiiKind::Age => &["age", "old", "aged"],
        _ => &[],
    }
}

/// Raises the score of findings with a context word of their kind nearby.
pub(super) fn boost(text: &str, findings: &mut [Finding]) {
    for f in findings.iter_mut() {
        let words = words_for(f.kind);
        if words.is_empty() {
            continue;
        }
        let before = text[..f.start].rsplit(|c: char| !is_word_char(c)).filter(|w| !w.is_empty()).take(BEFORE);
        let after = text[f.end..].split(|c: char| !is_word_char(c)).filter(|w| !w.is_empty()).take(AFTER);
        if before.chain(after).any(|w| words.iter().any(|c| w.eq_ignore_ascii_case(c))) {
            f.score = (f.score + BOOST).min(1.0);
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\''
}
