//! The embedded audit store: SQLite, one writer task per process committing appends in groups.

use super::{AuditError, AuditStore, Entry, GENESIS, NewEntry, chain_mac, head_mac, now_ms};
use crate::crypto::Key;
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use tokio::sync::{mpsc, oneshot};

pub(super) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS kb_audit (
        tenant TEXT NOT NULL, seq BIGINT NOT NULL, at_ms BIGINT NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, documents TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL,
        mac TEXT NOT NULL, PRIMARY KEY (tenant, seq))",
    "CREATE TABLE IF NOT EXISTS kb_audit_heads (
        tenant TEXT PRIMARY KEY, seq BIGINT NOT NULL, mac TEXT NOT NULL, sealed TEXT NOT NULL)",
];

/// Appends go through one writer task that commits whatever is waiting in one transaction
/// (group commit): one fsync for many entries, so a busy service is not limited to one audited
/// request per disk flush. Each caller is answered only after its entry is durable.
#[derive(Debug, Clone)]
pub struct SqliteAudit {
    pool: SqlitePool,
    jobs: mpsc::Sender<Job>,
}

struct Job {
    chain: Key,
    tenant: String,
    entry: NewEntry,
    done: oneshot::Sender<Result<Entry, AuditError>>,
}

/// Entries committed together at most.
const GROUP: usize = 256;

impl SqliteAudit {
    /// Opens (or creates) the log in the SQLite file at `path` and starts its writer task.
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
        let (jobs, rx) = mpsc::channel(4 * GROUP);
        tokio::spawn(writer(pool.clone(), rx));
        Ok(Self { pool, jobs })
    }

    /// The pool, for tests that edit the file by hand.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

async fn writer(pool: SqlitePool, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        match write_group(&pool, &jobs).await {
            Ok(entries) => {
                for (job, e) in jobs.into_iter().zip(entries) {
                    let _ = job.done.send(Ok(e));
                }
            }
            Err(e) => {
                let reason = e.to_string();
                for job in jobs {
                    let _ = job.done.send(Err(AuditError::Unavailable(sqlx::Error::Protocol(reason.clone()))));
                }
            }
        }
    }
}

/// Chains and stores a group of entries in one transaction, heads updated once per tenant.
async fn write_group(pool: &SqlitePool, jobs: &[Job]) -> Result<Vec<Entry>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut heads: HashMap<&str, (u64, String, &Key)> = HashMap::new();
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let tenant = job.tenant.as_str();
        let (last, prev) = match heads.get(tenant) {
            Some((seq, mac, _)) => (*seq, mac.clone()),
            None => {
                let row = sqlx::query("SELECT seq, mac FROM kb_audit_heads WHERE tenant = ?")
                    .bind(tenant)
                    .fetch_optional(&mut *tx)
                    .await?;
                row.map_or((0, GENESIS.to_owned()), |r| (r.get::<i64, _>("seq") as u64, r.get::<String, _>("mac")))
            }
        };
        let seq = last + 1;
        let at_ms = now_ms();
        let mac = chain_mac(&job.chain, tenant, seq, at_ms, &job.entry, &prev);
        sqlx::query(
            "INSERT INTO kb_audit (tenant, seq, at_ms, actor, action, documents, detail, prev, mac)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant)
        .bind(seq as i64)
        .bind(at_ms)
        .bind(&job.entry.actor)
        .bind(&job.entry.action)
        .bind(serde_json::to_string(&job.entry.documents).unwrap_or_default())
        .bind(job.entry.detail.to_string())
        .bind(&prev)
        .bind(&mac)
        .execute(&mut *tx)
        .await?;
        heads.insert(tenant, (seq, mac.clone(), &job.chain));
        out.push(Entry { tenant: tenant.to_owned(), seq, at_ms, entry: job.entry.clone(), prev, mac });
    }
    for (tenant, (seq, mac, chain)) in &heads {
        sqlx::query(
            "INSERT INTO kb_audit_heads (tenant, seq, mac, sealed) VALUES (?, ?, ?, ?)
             ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, sealed = excluded.sealed",
        )
        .bind(*tenant)
        .bind(*seq as i64)
        .bind(mac)
        .bind(head_mac(chain, tenant, *seq, mac))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(out)
}

#[async_trait]
impl AuditStore for SqliteAudit {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn append(&self, chain: &Key, tenant: &str, entry: NewEntry) -> Result<Entry, AuditError> {
        let (done, wait) = oneshot::channel();
        let job = Job { chain: chain.clone(), tenant: tenant.to_owned(), entry, done };
        let gone = || AuditError::Unavailable(sqlx::Error::Protocol("the audit writer stopped".into()));
        self.jobs.send(job).await.map_err(|_| gone())?;
        wait.await.map_err(|_| gone())?
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
