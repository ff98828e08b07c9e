//! API keys and their budgets. A key is known by its SHA-256 only; its budget is a genai-llm
//! [`SessionBudget`], which every upstream call of a request charges by *reserving* its worst
//! case before it is sent (retries and streams included), so concurrent requests can never
//! jointly spend past it.

use super::config::KeyConfig;
use axum::http::{HeaderMap, StatusCode, header};
use genai_http::ApiError;
use genai_llm::SessionBudget;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A caller: its name and its budget.
#[derive(Debug)]
pub struct Caller {
    pub id: String,
    pub budget: Option<Arc<SessionBudget>>,
}

/// Every configured key, or the one open caller.
///
/// Production note: budgets live in this process: they reset on restart and are not shared
/// between replicas; a shared budget needs an atomic counter in Redis or PostgreSQL with the same
/// reserve/settle protocol.
#[derive(Debug)]
pub struct Keys {
    known: Vec<([u8; 32], Arc<Caller>)>,
    open: Option<Arc<Caller>>,
}

/// Why the key settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("key {id}: {reason}")]
pub struct KeyError {
    pub id: String,
    pub reason: String,
}

fn budget(limit: Option<f64>, id: &str) -> Result<Option<Arc<SessionBudget>>, KeyError> {
    match limit {
        Some(l) if !(l.is_finite() && l >= 0.0) => {
            Err(KeyError { id: id.into(), reason: format!("budget_usd {l} is not a non-negative number") })
        }
        l => Ok(l.map(|l| Arc::new(SessionBudget::new(l)))),
    }
}

impl Keys {
    pub fn new(keys: &[KeyConfig], open_budget: Option<f64>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            let open = Caller { id: "anonymous".into(), budget: budget(open_budget, "anonymous")? };
            return Ok(Self { known: Vec::new(), open: Some(Arc::new(open)) });
        }
        let mut known = Vec::new();
        for k in keys {
            let err = |reason: &str| KeyError { id: k.id.clone(), reason: reason.into() };
            let hash: [u8; 32] = match (&k.key_sha256, &k.key) {
                (Some(h), None) => hex::decode(h.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| err("key_sha256 is not 64 hex digits"))?,
                (None, Some(key)) if !key.is_empty() => Sha256::digest(key.as_bytes()).into(),
                _ => return Err(err("give exactly one of key_sha256 or key")),
            };
            if known.iter().any(|(h, _)| *h == hash) {
                return Err(err("the same key is configured twice"));
            }
            known.push((hash, Arc::new(Caller { id: k.id.clone(), budget: budget(k.budget_usd, &k.id)? })));
        }
        Ok(Self { known, open: None })
    }

    /// The caller a request's `Authorization: Bearer <key>` names; 401 when it names none.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Caller>, ApiError> {
        if let Some(open) = &self.open {
            return Ok(open.clone());
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let Some(presented) = presented else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_api_key",
                "send your key as Authorization: Bearer <key>",
                None,
            ));
        };
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Each comparison reads all 32 bytes (no early exit at the first differing byte).
        let found = self
            .known
            .iter()
            .filter(|(h, _)| h.iter().zip(&hash).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0)
            .map(|(_, c)| c.clone())
            .next_back();
        found.ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", "this API key is not known", None)
        })
    }

    /// Every caller, for `/v1/spend`.
    pub fn callers(&self) -> Vec<Arc<Caller>> {
        self.open.iter().cloned().chain(self.known.iter().map(|(_, c)| c.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(k: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, format!("Bearer {k}").parse().unwrap());
        h
    }

    #[test]
    fn keys_are_matched_by_hash_and_refused_otherwise() {
        let hashed = hex::encode(Sha256::digest(b"sk-b"));
        let keys = Keys::new(
            &[
                KeyConfig { id: "a".into(), key_sha256: None, key: Some("sk-a".into()), budget_usd: Some(1.0) },
                KeyConfig { id: "b".into(), key_sha256: Some(hashed), key: None, budget_usd: None },
            ],
            None,
        )
        .unwrap();
        assert_eq!(keys.authenticate(&bearer("sk-a")).unwrap().id, "a");
        assert_eq!(keys.authenticate(&bearer("sk-b")).unwrap().id, "b");
        assert_eq!(keys.authenticate(&bearer("sk-c")).unwrap_err().code, "invalid_api_key");
        assert_eq!(keys.authenticate(&HeaderMap::new()).unwrap_err().code, "missing_api_key");
        assert_eq!(keys.callers().len(), 2);
    }

    #[test]
    fn bad_key_settings_are_refused_at_start() {
        let k = |key_sha256: Option<&str>, key: Option<&str>, budget| KeyConfig {
            id: "x".into(),
            key_sha256: key_sha256.map(Into::into),
            key: key.map(Into::into),
            budget_usd: budget,
        };
        for bad in [
            k(None, None, None),
            k(Some("zz"), None, None),
            k(None, Some("s"), Some(-1.0)),
            k(Some("ab"), Some("s"), None),
        ] {
            assert!(Keys::new(std::slice::from_ref(&bad), None).is_err(), "{bad:?}");
        }
        assert!(Keys::new(&[k(None, Some("s"), None), k(None, Some("s"), None)], None).is_err(), "duplicate");
        let open = Keys::new(&[], Some(2.0)).unwrap();
        let c = open.authenticate(&HeaderMap::new()).unwrap();
        assert_eq!((c.id.as_str(), c.budget.as_ref().map(|b| b.limit())), ("anonymous", Some(2.0)));
    }
}
