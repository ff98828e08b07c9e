//! Redaction: replace each finding by a mask (`<PERSON>`), a keyed hash, or a stable pseudonym
//! (`<PERSON_4f2a9c>`, the same for the same value under the same key, so records stay joinable
//! after redaction while the value itself is gone).
//!
//! Hash and pseudonym are HMAC-SHA256 under a server key, not plain hashes: a plain hash of an
//! e-mail address or a phone number is reversed by hashing every candidate.

use crate::pii::Finding;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedactMode {
    /// `<EMAIL_ADDRESS>`
    #[default]
    Mask,
    /// `<EMAIL_ADDRESS:9c1d…>`: 64 hex characters of HMAC-SHA256(key, type ‖ value).
    Hash,
    /// `<EMAIL_ADDRESS_9c1d2e>`: a short stable pseudonym from the same HMAC.
    Pseudonym,
}

/// One replacement, with the byte span it replaced in the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replacement {
    pub kind: crate::PiiKind,
    pub start: usize,
    pub end: usize,
    pub replacement: String,
}

#[derive(Debug, Clone)]
pub struct Redactor {
    key: Vec<u8>,
}

impl Redactor {
    /// `key` keys the hashes and pseudonyms; keep it secret and stable.
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into() }
    }

    /// `text` with every finding replaced. `findings` must be sorted and non-overlapping (as
    /// [`crate::Analyzer::analyze`] returns them).
    pub fn redact(&self, text: &str, findings: &[Finding], mode: RedactMode) -> (String, Vec<Replacement>) {
        let mut out = String::with_capacity(text.len());
        let mut reps = Vec::with_capacity(findings.len());
        let mut pos = 0;
        for f in findings {
            if f.start < pos {
                continue;
            }
            out.push_str(&text[pos..f.start]);
            let value = &text[f.start..f.end];
            let replacement = match mode {
                RedactMode::Mask => format!("<{}>", f.kind),
                RedactMode::Hash => format!("<{}:{}>", f.kind, hex::encode(self.mac(f.kind.as_str(), value))),
                RedactMode::Pseudonym => {
                    format!("<{}_{}>", f.kind, &hex::encode(self.mac(f.kind.as_str(), value))[..6])
                }
            };
            out.push_str(&replacement);
            reps.push(Replacement { kind: f.kind, start: f.start, end: f.end, replacement });
            pos = f.end;
        }
        out.push_str(&text[pos..]);
        (out, reps)
    }

    /// HMAC of `kind ‖ 0 ‖ value`, the value whitespace-normalised and lowercased so
    /// "Anna  Smith" and "anna smith" get one pseudonym.
    fn mac(&self, kind: &str, value: &str) -> [u8; 32] {
        let normalised = value.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        hmac_sha256(&self.key, &[kind.as_bytes(), &[0], normalised.as_bytes()])
    }
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `parts`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| block.iter().map(|k| k ^ b).collect::<Vec<u8>>();
    let mut inner = Sha256::new().chain_update(pad(0x36));
    for p in parts {
        inner.update(p);
    }
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner.finalize()).finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Analyzer;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya ", b"want for nothing?"]);
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn pseudonyms_are_stable_and_modes_differ() {
        let text = "Mail anna@example.com or ANNA@example.com, not bob@example.com.";
        let found = Analyzer::default().analyze(text);
        let r = Redactor::new("k1");
        let (masked, _) = r.redact(text, &found, RedactMode::Mask);
        assert_eq!(masked, "Mail <EMAIL_ADDRESS> or <EMAIL_ADDRESS>, not <EMAIL_ADDRESS>.");
        let (p, reps) = r.redact(text, &found, RedactMode::Pseudonym);
        assert_eq!(reps[0].replacement, reps[1].replacement, "{p}");
        assert_ne!(reps[0].replacement, reps[2].replacement);
        let (_, other_key) = Redactor::new("k2").redact(text, &found, RedactMode::Pseudonym);
        assert_ne!(reps[0].replacement, other_key[0].replacement);
        let (h, _) = r.redact(text, &found, RedactMode::Hash);
        assert!(!h.contains("anna") && h.contains("<EMAIL_ADDRESS:"));
    }
}
