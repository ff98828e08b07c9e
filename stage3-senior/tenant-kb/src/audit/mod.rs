//! The audit log: append-only and hash-chained per tenant. Each entry carries an HMAC over the
//! previous entry's MAC and its own fields, under a key derived from the master key, so an
//! entry cannot be altered, removed or moved without breaking the chain, and the chain cannot be
//! recomputed without the key. A head (last sequence number and MAC, itself MACed) is written in
//! the same transaction, so a truncated tail is caught too.
//!
//! Two stores pass one conformance suite: SQLite (embedded default) and PostgreSQL.
//!
//! Production note: someone holding both the database and the master key can rewrite history,
//! and someone who kept an old head could roll the log back to it; a deployment also ships each
//! head to write-once storage (object lock, a transparency log) and compares on verify.

mod postgres;
mod sqlite;

pub use postgres::PostgresAudit;
pub use sqlite::SqliteAudit;

use crate::crypto::Key;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// What happened, before it is chained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewEntry {
    /// The user id or API key id that acted (`admin` for the platform operator).
    pub actor: String,
    /// `search`, `ask`, `document.add`, `document.delete`, `user.create`, `key.issue`, ...
    pub action: String,
    /// Documents the action returned or changed.
    pub documents: Vec<String>,
    /// Anything else worth keeping (never raw query text: its SHA-256).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A chained entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Entry {
    pub tenant: String,
    pub seq: u64,
    pub at_ms: i64,
    #[serde(flatten)]
    pub entry: NewEntry,
    pub prev: String,
    pub mac: String,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Verification {
    pub tenant: String,
    pub entries: u64,
    pub intact: bool,
    /// The first problem found, e.g. `entry 7: MAC does not match its contents`.
    pub problem: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit store unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("audit append kept colliding with concurrent appends")]
    Contended,
}

/// Where entries are kept. Appends for one tenant are serialised by the store (a unique
/// sequence number per tenant, compare-and-swap on the head).
#[async_trait]
pub trait AuditStore: Send + Sync + std::fmt::Debug {
    fn backend(&self) -> &'static str;
    /// Chains and stores `entry` under `chain` (the audit key); returns it as stored.
    async fn append(&self, chain: &Key, tenant: &str, entry: NewEntry) -> Result<Entry, AuditError>;
    /// Entries with `seq > after`, in sequence order, at most `limit`.
    async fn entries(&self, tenant: &str, after: u64, limit: usize) -> Result<Vec<Entry>, AuditError>;
    /// `(seq, mac, head_mac)` of the last append, if any.
    async fn head(&self, tenant: &str) -> Result<Option<(u64, String, String)>, AuditError>;
}

/// The MAC of an entry: over the previous MAC and every field, in a fixed JSON form.
pub(crate) fn chain_mac(chain: &Key, tenant: &str, seq: u64, at_ms: i64, entry: &NewEntry, prev: &str) -> String {
    let body = json!([tenant, seq, at_ms, entry.actor, entry.action, entry.documents, entry.detail, prev]);
    chain.mac_hex(body.to_string().as_bytes())
}

/// The MAC that seals a head, so the head table cannot be edited to hide a truncation.
pub(crate) fn head_mac(chain: &Key, tenant: &str, seq: u64, mac: &str) -> String {
    chain.mac_hex(json!(["head", tenant, seq, mac]).to_string().as_bytes())
}

/// The chain's start: the "previous MAC" of entry 1.
pub(crate) const GENESIS: &str = "genesis";

/// Reads the whole chain of `tenant` and checks every link, the sequence and the head.
pub async fn verify(store: &dyn AuditStore, chain: &Key, tenant: &str) -> Result<Verification, AuditError> {
    let mut prev = GENESIS.to_owned();
    let mut expected = 1u64;
    let mut problem = None;
    'pages: loop {
        let page = store.entries(tenant, expected - 1, 1_000).await?;
        if page.is_empty() {
            break;
        }
        for e in page {
            let p = if e.seq != expected {
                Some(format!("entry {expected} is missing (found {} next)", e.seq))
            } else if e.prev != prev {
                Some(format!("entry {}: does not follow entry {} (reordered or replaced)", e.seq, e.seq - 1))
            } else if chain_mac(chain, tenant, e.seq, e.at_ms, &e.entry, &e.prev) != e.mac {
                Some(format!("entry {}: MAC does not match its contents (altered)", e.seq))
            } else {
                None
            };
            if p.is_some() {
                problem = p;
                break 'pages;
            }
            prev = e.mac.clone();
            expected += 1;
        }
    }
    let entries = expected - 1;
    if problem.is_none() {
        problem = match store.head(tenant).await? {
            None if entries == 0 => None,
            None => Some("the head is missing".into()),
            Some((seq, mac, sealed)) => {
                if head_mac(chain, tenant, seq, &mac) != sealed {
                    Some("the head was altered".into())
                } else if seq != entries || mac != prev {
                    Some(format!("the head says {seq} entries, the chain has {entries} (truncated or rolled back)"))
                } else {
                    None
                }
            }
        };
    }
    Ok(Verification { tenant: tenant.to_owned(), entries, intact: problem.is_none(), problem })
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Retries of a compare-and-swap append before giving up.
pub(crate) const APPEND_ATTEMPTS: usize = 20;

/// The conformance suite every store passes. `tamper` runs one SQL statement directly against
/// the store's database (the tests' stand-in for someone editing it by hand).
pub mod conformance {
    use super::*;
    use std::future::Future;

    pub async fn run<F, Fut>(store: &dyn AuditStore, tamper: F)
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = ()>,
    {
        let chain = Key::generate().unwrap();
        let t = format!("t{}", crate::crypto::random_hex(4));
        let other = format!("u{}", crate::crypto::random_hex(4));
        let e = |i: usize| NewEntry {
            actor: format!("user{}", i % 3),
            action: "search".into(),
            documents: vec![format!("doc{i}")],
            detail: json!({"i": i}),
        };
        // Concurrent appends to two tenants: every one lands once, in one gapless chain each.
        let appends = futures::future::join_all((0..24).map(|i| {
            let tenant = if i % 2 == 0 { &t } else { &other };
            store.append(&chain, tenant, e(i))
        }))
        .await;
        assert!(appends.iter().all(Result::is_ok), "{appends:?}");
        for tenant in [&t, &other] {
            let v = verify(store, &chain, tenant).await.unwrap();
            assert!(v.intact && v.entries == 12, "{v:?}");
        }
        let all = store.entries(&t, 0, 100).await.unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=12).collect::<Vec<_>>());
        assert_eq!(store.entries(&t, 10, 100).await.unwrap().len(), 2);
        let wrong_key = Key::generate().unwrap();
        assert!(!verify(store, &wrong_key, &t).await.unwrap().intact, "a chain only verifies under its key");

        // Each kind of tampering is caught, with what and where.
        let table = "kb_audit";
        let cases = [
            (format!("UPDATE {table} SET action = 'ask' WHERE tenant = '{t}' AND seq = 5"), "entry 5: MAC"),
            (format!("DELETE FROM {table} WHERE tenant = '{t}' AND seq = 6"), "entry 6 is missing"),
            (
                format!(
                    "UPDATE {table} SET seq = 1000 WHERE tenant = '{t}' AND seq = 7; \
                     UPDATE {table} SET seq = 7 WHERE tenant = '{t}' AND seq = 8; \
                     UPDATE {table} SET seq = 8 WHERE tenant = '{t}' AND seq = 1000"
                ),
                "entry 7: does not follow",
            ),
            (format!("DELETE FROM {table} WHERE tenant = '{t}' AND seq = 12"), "the head says 12 entries"),
            (format!("UPDATE kb_audit_heads SET seq = 11 WHERE tenant = '{t}'"), "the head was altered"),
        ];
        for (i, (sql, expect)) in cases.iter().enumerate() {
            // A fresh tenant per case, so one tampering does not mask the next.
            let tenant = format!("{t}x{i}");
            for j in 0..12 {
                store.append(&chain, &tenant, e(j)).await.unwrap();
            }
            assert!(verify(store, &chain, &tenant).await.unwrap().intact);
            tamper(sql.replace(&format!("'{t}'"), &format!("'{tenant}'"))).await;
            let v = verify(store, &chain, &tenant).await.unwrap();
            assert!(!v.intact, "{sql}: not detected");
            let problem = v.problem.unwrap();
            assert!(problem.contains(expect), "{sql}: {problem} (expected {expect})");
        }
        // Other tenants are untouched by all of it.
        assert!(verify(store, &chain, &other).await.unwrap().intact);
    }
}
