//! The embedded audit store: SQLite, one writer at a time per process.

use super::{AuditError, AuditStore, Entry, GENESIS, NewEntry, chain_mac, head_mac, now_ms};
use crate::crypto::Key;
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::path::Path;
use std::str::FromStr;

pub(super) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS kb_audit (
        tenant TEXT NOT NULL, seq BIGINT NOT NULL, at_ms BIGINT NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, documents TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL,
        mac TEXT NOT NULL, PRIMARY KEY (tenant, seq))",
    "CREATE TABLE IF NOT EXISTS kb_audit_heads (
        tenant TEXT PRIMARY KEY, seq BIGINT NOT NULL, mac TEXT NOT NULL, sealed TEXT NOT NULL)",
];

#[derive(Debug, Clone)]
pub struct SqliteAudit {
    pool: SqlitePool,
    /// Serialises appends: SQLite has one writer, and a deferred transaction that reads the head
    /// then writes would fail with SQLITE_BUSY rather than wait.
    write: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SqliteAudit {
    /// Opens (or creates) the log in the SQLite file at `path`.
    pub async fn open(path: &Path) -> Result<Self, AuditError> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(AuditError::Unavailable)?
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
        let pool =
            SqlitePoolOptions::new().max_connections(4).connect_with(opts).await.map_err(AuditError::Unavailable)?;
        for s in SCHEMA {
            sqlx::query(*s).execute(&pool).await.map_err(AuditError::Unavailable)?;
        }
        Ok(Self { pool, write: Default::default() })
    }

    /// The pool, for tests that edit the file by hand.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl AuditStore for SqliteAudit {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn append(&self, chain: &Key, tenant: &str, entry: NewEntry) -> Result<Entry, AuditError> {
        let _one_writer = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(AuditError::Unavailable)?;
        let head = sqlx::query("SELECT seq, mac FROM kb_audit_heads WHERE tenant = ?")
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await
            .map_err(AuditError::Unavailable)?;
        let (seq, prev) = match head {
            Some(r) => (r.get::<i64, _>("seq") as u64 + 1, r.get::<String, _>("mac")),
            None => (1, GENESIS.to_owned()),
        };
        let at_ms = now_ms();
        let mac = chain_mac(chain, tenant, seq, at_ms, &entry, &prev);
        sqlx::query(
            "INSERT INTO kb_audit (tenant, seq, at_ms, actor, action, documents, detail, prev, mac)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant)
        .bind(seq as i64)
        .bind(at_ms)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(serde_json::to_string(&entry.documents).unwrap_or_default())
        .bind(entry.detail.to_string())
        .bind(&prev)
        .bind(&mac)
        .execute(&mut *tx)
        .await
        .map_err(AuditError::Unavailable)?;
        sqlx::query(
            "INSERT INTO kb_audit_heads (tenant, seq, mac, sealed) VALUES (?, ?, ?, ?)
             ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, sealed = excluded.sealed",
        )
        .bind(tenant)
        .bind(seq as i64)
        .bind(&mac)
        .bind(head_mac(chain, tenant, seq, &mac))
        .execute(&mut *tx)
        .await
        .map_err(AuditError::Unavailable)?;
        tx.commit().await.map_err(AuditError::Unavailable)?;
        Ok(Entry { tenant: tenant.to_owned(), seq, at_ms, entry, prev, mac })
    }

    async fn entries(&self, tenant: &str, after: u64, limit: usize) -> Result<Vec<Entry>, AuditError> {
        let rows = sqlx::query("SELECT * FROM kb_audit WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?")
            .bind(tenant)
            .bind(after as i64)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(AuditError::Unavailable)?;
        Ok(rows.iter().map(row_entry).collect())
    }

    async fn head(&self, tenant: &str) -> Result<Option<(u64, String, String)>, AuditError> {
        let row = sqlx::query("SELECT seq, mac, sealed FROM kb_audit_heads WHERE tenant = ?")
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await
            .map_err(AuditError::Unavailable)?;
        Ok(row.map(|r| (r.get::<i64, _>("seq") as u64, r.get("mac"), r.get("sealed"))))
    }
}

fn row_entry(r: &sqlx::sqlite::SqliteRow) -> Entry {
    Entry {
        tenant: r.get("tenant"),
        seq: r.get::<i64, _>("seq") as u64,
        at_ms: r.get("at_ms"),
        entry: NewEntry {
            actor: r.get("actor"),
            action: r.get("action"),
            // A row edited into unreadable JSON reads as empty and then fails its MAC check.
            documents: serde_json::from_str(r.get::<&str, _>("documents")).unwrap_or_default(),
            detail: serde_json::from_str(r.get::<&str, _>("detail")).unwrap_or_default(),
        },
        prev: r.get("prev"),
        mac: r.get("mac"),
    }
}
