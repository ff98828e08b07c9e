//! Recognisers for structured identifiers: a pattern proposes, a check rule confirms.
//! Base scores encode how sure a bare match is; context words ([`super::context`]) raise them.

use super::checks::{iban_valid, luhn_valid, nhs_valid, nif_valid, ssn_valid};
use super::{Finding, PiiKind};
use regex::Regex;
use std::sync::LazyLock;

macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($pat).expect("pattern compiles"));
    };
}

re!(EMAIL, r"(?i)\b[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}\b");
re!(URL, r"(?i)\b(?:https?://|www\.)[^\s<>()\[\]{}]+");
re!(
    DOMAIN,
    r"(?i)\b[a-z0-9][a-z0-9-]{1,62}(?:\.[a-z0-9-]{1,62})*\.(?:com|org|net|edu|gov|io|info|biz|co|uk|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|pl|cz|pt|br|ca|au|us|ru|jp|cn|in|uy|cy|gr|hu|ie)\b(?:/[^\s]*)?"
);
re!(IPV4, r"\b(?:\d{1,3}\.){3}\d{1,3}\b");
re!(IPV6, r"(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}");
re!(CARD, r"\b\d(?:[ -]?\d){11,18}\b");
re!(IBAN, r"(?i)\b[a-z]{2}\d{2}(?: ?[a-z0-9]){11,30}\b");
re!(SSN, r"\b\d{3}[- .]\d{2}[- .]\d{4}\b|\b\d{9}\b");
re!(NHS, r"\b\d{3}[- ]?\d{3}[- ]?\d{4}\b");
re!(NIF, r"(?i)\b\d{8}-?[a-z]\b");
re!(DRIVER_LICENSE, r"(?i)\b(?:[a-z]\d{3,12}|\d{4}-\d{2}-\d{4}|\d{7,9})\b");
re!(PHONE, r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{1,5}(?:[\s.-]\d{1,5}){1,4}\b|\b\d{7,12}\b");
re!(
    MONEY,
    r"(?i)(?:[$€£¥]\s?\d[\d,]*(?:\.\d{1,2})?(?:\s?(?:million|billion|k|m|bn))?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:usd|eur|gbp|chf|dollars|euros|pounds)\b)"
);
/// Month names and their usual abbreviations (the `MONTH` placeholder in [`DATE`]).
const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = r"(?ix)\b(?:
        \d{4}-\d{2}-\d{2}(?:[T\ ]\d{2}:\d{2}(?::\d{2})?)?
      | \d{1,2}[/.]\d{1,2}[/.]\d{2,4}
      | MONTH\.?\ \d{1,2}(?:st|nd|rd|th)?(?:,?\ \d{4})?
      | \d{1,2}(?:st|nd|rd|th)?\ (?:of\ )?MONTH\.?(?:,?\ \d{4})?
      | (?:january|february|march|april|june|july|august|september|october|november|december)\ \d{4}
    )\b";
    Regex::new(&pattern.replace("MONTH", MONTH)).expect("pattern compiles")
});
re!(TIME, r"(?i)\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]\.?m\.?)?\b|\b\d{1,2}\s?[ap]\.?m\.?(?:\s|$)");
re!(WEEKDAY, r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)s?\b");
re!(YEAR, r"\b(?:1[89]\d{2}|20\d{2})s?\b");
re!(
    RELATIVE_DATE,
    r"(?i)\b(?:(?:next|last|this)\ (?:week|month|year|monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend)|tomorrow|yesterday|tonight)\b"
);
re!(
    AGE,
    r"(?i)\b(\d{1,3})(?:\s?-\s?|\s)(?:years?|yrs?)(?:\s?-\s?|\s)old\b|\b(?:aged?|age:?)\s(\d{1,3})\b|\b(\d{1,3})\s?(?:y/?o|years? of age)\b"
);
re!(ZIP_US, r"\b\d{5}(?:-\d{4})?\b");

/// Every structured recogniser, appended to `out`.
pub(super) fn find(text: &str, out: &mut Vec<Finding>) {
    let mut push = |kind, m: regex::Match<'_>, score, rec| out.push(Finding::new(kind, m.start(), m.end(), score, rec));
    for m in EMAIL.find_iter(text) {
        push(PiiKind::EmailAddress, m, 0.95, "email");
    }
    for m in URL.find_iter(text).chain(DOMAIN.find_iter(text)) {
        let end = m.start() + trim_trailing_punct(m.as_str());
        // A domain inside an e-mail address is the e-mail's, not a URL of its own.
        let in_email = text[..m.start()].ends_with('@');
        if !in_email && end > m.start() {
            out.push(Finding::new(
                PiiKind::Url,
                m.start(),
                end,
                if m.as_str().contains("://") { 0.9 } else { 0.6 },
                "url",
            ));
        }
    }
    for m in IPV4.find_iter(text) {
        if m.as_str().parse::<std::net::Ipv4Addr>().is_ok() && !dotted_date(m.as_str()) {
            out.push(Finding::new(PiiKind::IpAddress, m.start(), m.end(), 0.85, "ipv4"));
        }
    }
    for m in IPV6.find_iter(text) {
        if m.as_str().matches(':').count() >= 2 && m.as_str().parse::<std::net::Ipv6Addr>().is_ok() && m.len() > 4 {
            out.push(Finding::new(PiiKind::IpAddress, m.start(), m.end(), 0.85, "ipv6"));
        }
    }
    for m in CARD.find_iter(text) {
        if let Some(len) = longest_valid_prefix(m.as_str(), luhn_valid) {
            let digits: String = m.as_str()[..len].chars().filter(char::is_ascii_digit).collect();
            let score = if card_network(&digits) { 0.8 } else { 0.35 };
            out.push(Finding::new(PiiKind::CreditCard, m.start(), m.start() + len, score, "credit_card_luhn"));
        }
    }
    for m in IBAN.find_iter(text) {
        if let Some(len) = longest_valid_prefix(m.as_str(), iban_valid) {
            out.push(Finding::new(PiiKind::IbanCode, m.start(), m.start() + len, 0.95, "iban_mod97"));
        }
    }
    for m in SSN.find_iter(text) {
        if ssn_valid(m.as_str()) {
            // Nine bare digits are weak evidence; the dashed form is the usual way to write one.
            let score = if m.len() == 9 { 0.15 } else { 0.5 };
            out.push(Finding::new(PiiKind::UsSsn, m.start(), m.end(), score, "us_ssn_rules"));
        }
    }
    for m in NHS.find_iter(text) {
        if nhs_valid(m.as_str()) {
            out.push(Finding::new(PiiKind::UkNhs, m.start(), m.end(), 0.3, "uk_nhs_mod11"));
        }
    }
    for m in NIF.find_iter(text) {
        if nif_valid(m.as_str()) {
            out.push(Finding::new(PiiKind::EsNif, m.start(), m.end(), 0.6, "es_nif_mod23"));
        }
    }
    for m in DRIVER_LICENSE.find_iter(text) {
        // No check rule exists across US states: only context ("driver's license") lifts it.
        out.push(Finding::new(PiiKind::UsDriverLicense, m.start(), m.end(), 0.05, "us_driver_license"));
    }
    for m in PHONE.find_iter(text) {
        if let Some(score) = phone_score(m.as_str()) {
            out.push(Finding::new(PiiKind::PhoneNumber, m.start(), m.end(), score, "phone"));
        }
    }
    for m in MONEY.find_iter(text) {
        out.push(Finding::new(PiiKind::Money, m.start(), m.end(), 0.6, "money"));
    }
    for m in DATE.find_iter(text) {
        out.push(Finding::new(PiiKind::DateTime, m.start(), m.end(), 0.75, "date"));
    }
    for m in TIME.find_iter(text) {
        out.push(Finding::new(PiiKind::DateTime, m.start(), m.end(), 0.6, "time"));
    }
    for m in WEEKDAY.find_iter(text).chain(RELATIVE_DATE.find_iter(text)) {
        out.push(Finding::new(PiiKind::DateTime, m.start(), m.end(), 0.6, "date_word"));
    }
    for m in YEAR.find_iter(text) {
        // A bare year is weak: house numbers and counts look the same. Context lifts it.
        out.push(Finding::new(PiiKind::DateTime, m.start(), m.end(), 0.35, "year"));
    }
    for c in AGE.captures_iter(text) {
        if let Some(m) = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3))
            && m.as_str().parse::<u32>().is_ok_and(|a| a <= 130)
        {
            out.push(Finding::new(PiiKind::Age, m.start(), m.end(), 0.7, "age"));
        }
    }
    for m in ZIP_US.find_iter(text) {
        out.push(Finding::new(PiiKind::ZipCode, m.start(), m.end(), 0.1, "zip"));
    }
}

/// Issuer prefixes and lengths of the major card networks (Visa, Mastercard, Amex, Diners,
/// Discover, JCB, Maestro, UnionPay).
fn card_network(d: &str) -> bool {
    let n = d.len();
    let p = |len: usize| d[..len.min(n)].parse::<u32>().unwrap_or(0);
    (d.starts_with('4') && matches!(n, 13 | 16 | 19))
        || ((51..=55).contains(&p(2)) || (2221..=2720).contains(&p(4))) && n == 16
        || matches!(p(2), 34 | 37) && n == 15
        || ((300..=305).contains(&p(3)) || matches!(p(2), 36 | 38 | 39)) && (14..=19).contains(&n)
        || (d.starts_with("6011") || d.starts_with("65") || (644..=649).contains(&p(3))) && (16..=19).contains(&n)
        || (3528..=3589).contains(&p(4)) && (16..=19).contains(&n)
        || (d.starts_with("2131") || d.starts_with("1800")) && n == 15
        || matches!(p(2), 50 | 56..=69) && (12..=19).contains(&n)
        || d.starts_with("62") && (16..=19).contains(&n)
}

/// A phone number is confirmed by libphonenumber's metadata for a likely region (0.75), or is
/// merely phone-shaped (0.3, so it needs a context word such as "call" or "phone").
///
/// Production note: national numbers are tried against ten regions only (and this validation
/// is about half of the offline engine's time); a deployment serving one market should put its
/// region first or make the list configurable.
fn phone_score(s: &str) -> Option<f32> {
    use phonenumber::country::Id;
    let digits = s.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) || dotted_date(s) {
        return None;
    }
    let grouped = s.contains([' ', '-', '(', '.']) || s.starts_with('+');
    const REGIONS: [Id; 10] = [Id::US, Id::GB, Id::DE, Id::FR, Id::IN, Id::AU, Id::CA, Id::ES, Id::IT, Id::NL];
    let valid = if s.trim_start().starts_with('+') {
        phonenumber::parse(None, s).is_ok_and(|n| phonenumber::is_valid(&n))
    } else {
        REGIONS.iter().any(|r| phonenumber::parse(Some(*r), s).is_ok_and(|n| phonenumber::is_valid(&n)))
    };
    match (valid, grouped) {
        (true, true) => Some(0.75),
        (true, false) => Some(0.45),
        (false, true) => Some(0.3),
        (false, false) => Some(0.1),
    }
}

/// Patterns that allow separators run greedily into the next word or number ("GB82... to",
/// "4111 ... 1111 2024"); drop trailing groups until the check rule passes.
fn longest_valid_prefix(s: &str, valid: fn(&str) -> bool) -> Option<usize> {
    let mut end = s.len();
    loop {
        if valid(&s[..end]) {
            return Some(end);
        }
        end = s[..end].rfind([' ', '-'])?;
    }
}

/// `12.05.2021`-style dates look like IPs and phone numbers.
fn dotted_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3 && parts[2].len() == 4 && parts[..2].iter().all(|p| p.len() <= 2)
}

/// Length of `s` without sentence punctuation that trails a URL in prose.
fn trim_trailing_punct(s: &str) -> usize {
    s.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']).len()
}
