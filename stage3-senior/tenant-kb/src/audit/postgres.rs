//! The server audit store: PostgreSQL, for several service instances sharing one log. Appends
//! race by compare-and-swap on the head row and retry.

use super::{APPEND_ATTEMPTS, AuditError, AuditStore, Entry, GENESIS, NewEntry, chain_mac, head_mac, now_ms};
use crate::crypto::Key;
use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PostgresAudit {
    pool: PgPool,
}

impl PostgresAudit {
    /// Connects to `url` and creates the tables if needed.
    pub async fn connect(url: &str) -> Result<Self, AuditError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(AuditError::Unavailable)?;
        let mut tx = pool.begin().await.map_err(AuditError::Unavailable)?;
        // Instances starting together would collide in the catalog on CREATE TABLE IF NOT EXISTS.
        sqlx::query("SELECT pg_advisory_xact_lock(724202)").execute(&mut *tx).await.map_err(AuditError::Unavailable)?;
        for s in super::sqlite::SCHEMA {
            sqlx::query(*s).execute(&mut *tx).await.map_err(AuditError::Unavailable)?;
        }
        tx.commit().await.map_err(AuditError::Unavailable)?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// One attempt; `Ok(None)` when another append got there first.
    async fn try_append(&self, chain: &Key, tenant: &str, entry: &NewEntry) -> Result<Option<Entry>, AuditError> {
        let mut tx = self.pool.begin().await.map_err(AuditError::Unavailable)?;
        let head = sqlx::query("SELECT seq, mac FROM kb_audit_heads WHERE tenant = $1")
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await
            .map_err(AuditError::Unavailable)?;
        let (seq, prev) = match &head {
            Some(r) => (r.get::<i64, _>("seq") as u64 + 1, r.get::<String, _>("mac")),
            None => (1, GENESIS.to_owned()),
        };
        let at_ms = now_ms();
        let mac = chain_mac(chain, tenant, seq, at_ms, entry, &prev);
        let sealed = head_mac(chain, tenant, seq, &mac);
        // The head moves only from the value read above; zero rows means we lost the race.
        let moved = if head.is_some() {
            sqlx::query("UPDATE kb_audit_heads SET seq = $2, mac = $3, sealed = $4 WHERE tenant = $1 AND seq = $5")
                .bind(tenant)
                .bind(seq as i64)
                .bind(&mac)
                .bind(&sealed)
                .bind(seq as i64 - 1)
                .execute(&mut *tx)
                .await
        } else {
            sqlx::query(
                "INSERT INTO kb_audit_heads (tenant, seq, mac, sealed) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(tenant)
            .bind(seq as i64)
            .bind(&mac)
            .bind(&sealed)
            .execute(&mut *tx)
            .await
        };
        match moved {
            Ok(r) if r.rows_affected() == 1 => {}
            Ok(_) => return Ok(None),
            Err(e) if is_conflict(&e) => return Ok(None),
            Err(e) => return Err(AuditError::Unavailable(e)),
        }
        let inserted = sqlx::query(
            "INSERT INTO kb_audit (tenant, seq, at_ms, actor, action, documents, detail, prev, mac)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_conflict(&e) => return Ok(None),
            Err(e) => return Err(AuditError::Unavailable(e)),
        }
        match tx.commit().await {
            Ok(()) => Ok(Some(Entry { tenant: tenant.to_owned(), seq, at_ms, entry: entry.clone(), prev, mac })),
            Err(e) if is_conflict(&e) => Ok(None),
            Err(e) => Err(AuditError::Unavailable(e)),
        }
    }
}

/// A unique violation or a serialisation failure: another append won; try again.
fn is_conflict(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "23505" || c == "40001" || c == "40P01")
}

#[async_trait]
impl AuditStore for PostgresAudit {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn append(&self, chain: &Key, tenant: &str, entry: NewEntry) -> Result<Entry, AuditError> {
        for attempt in 0..APPEND_ATTEMPTS {
            if let Some(e) = self.try_append(chain, tenant, &entry).await? {
                return Ok(e);
            }
            tokio::time::sleep(Duration::from_millis(1 + attempt as u64 * 2)).await;
        }
        Err(AuditError::Contended)
    }

    async fn entries(&self, tenant: &str, after: u64, limit: usize) -> Result<Vec<Entry>, AuditError> {
        let rows = sqlx::query("SELECT * FROM kb_audit WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3")
            .bind(tenant)
            .bind(after as i64)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(AuditError::Unavailable)?;
        Ok(rows
            .iter()
            .map(|r| Entry {
                tenant: r.get("tenant"),
                seq: r.get::<i64, _>("seq") as u64,
                at_ms: r.get("at_ms"),
                entry: NewEntry {
                    actor: r.get("actor"),
                    action: r.get("action"),
                    documents: serde_json::from_str(r.get::<&str, _>("documents")).unwrap_or_default(),
                    detail: serde_json::from_str(r.get::<&str, _>("detail")).unwrap_or_default(),
                },
                prev: r.get("prev"),
                mac: r.get("mac"),
            })
            .collect())
    }

    async fn head(&self, tenant: &str) -> Result<Option<(u64, String, String)>, AuditError> {
        let row = sqlx::query("SELECT seq, mac, sealed FROM kb_audit_heads WHERE tenant = $1")
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await
            .map_err(AuditError::Unavailable)?;
        Ok(row.map(|r| (r.get::<i64, _>("seq") as u64, r.get("mac"), r.get("sealed"))))
    }
}
