//! Guards for text that crosses a trust boundary.
//!
//! - [`pii`]: offline PII recognisers. Structured identifiers are found by pattern and confirmed
//!   by their check rules (Luhn, IBAN mod-97, SSN allocation rules, ...); names, organisations,
//!   places and addresses by context rules and small gazetteers. Every finding carries a score
//!   raised by context words nearby, the recogniser that found it and its span.
//! - [`redact`]: replace findings by a mask, a keyed hash or a stable pseudonym.
//! - [`injection`]: a prompt-injection detector (logistic regression on hashed word and character
//!   n-grams, plus explicit rules) that explains why it flagged a text.
//!
//! Spans are byte offsets into the analysed `&str` (always on char boundaries);
//! [`char_offsets`] converts them for callers that count characters.

pub mod injection;
pub mod pii;
pub mod redact;

pub use injection::{InjectionDetector, Verdict};
pub use pii::{Analyzer, Finding, PiiKind};
pub use redact::{RedactMode, Redactor};

/// What can go wrong loading or training a guard. Classified for callers by [`genai_core::Classify`].
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("weights file is not a genai-guard injection model: {0}")]
    BadWeights(&'static str),
    #[error("training data line {line}: {message}")]
    BadTrainingData { line: usize, message: String },
    #[error("reading {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl genai_core::Classify for GuardError {
    fn class(&self) -> genai_core::ErrorClass {
        match self {
            GuardError::BadTrainingData { .. } => genai_core::ErrorClass::InvalidInput,
            GuardError::BadWeights(_) | GuardError::Io { .. } => genai_core::ErrorClass::Permanent,
        }
    }
}

/// Converts byte offsets into `text` to char (Unicode scalar) offsets, in one pass.
/// `offsets` must be sorted ascending and lie on char boundaries.
pub fn char_offsets(text: &str, offsets: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(offsets.len());
    let mut chars = 0;
    let mut it = offsets.iter().peekable();
    for (i, _) in text.char_indices() {
        while let Some(&&o) = it.peek() {
            if o > i {
                break;
            }
            out.push(chars);
            it.next();
        }
        chars += 1;
    }
    out.extend(it.map(|_| chars));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn char_offsets_count_scalars_not_bytes() {
        let t = "Šárka at ΛΕΥ x";
        let b = t.find("at").unwrap();
        assert_eq!(super::char_offsets(t, &[0, b, t.len()]), vec![0, 6, 14]);
    }
}
