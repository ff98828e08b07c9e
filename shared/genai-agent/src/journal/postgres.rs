//! The server journal: PostgreSQL, for several workers (or several service replicas) sharing
//! runs. Same tables and the same compare-and-swap append as the SQLite journal.

use super::{Journal, JournalError, RunInfo, create_error, decode, encode, is_unique_violation, now_ms};
use crate::event::{Event, RunStatus};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS agent_runs (
        id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, events BIGINT NOT NULL,
        created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS agent_events (
        run_id TEXT NOT NULL REFERENCES agent_runs(id), seq BIGINT NOT NULL, kind TEXT NOT NULL,
        body JSONB NOT NULL, at_ms BIGINT NOT NULL, PRIMARY KEY (run_id, seq))",
    "CREATE INDEX IF NOT EXISTS agent_runs_updated ON agent_runs(updated_ms)",
];

#[derive(Debug, Clone)]
pub struct PostgresJournal {
    pool: PgPool,
}

impl PostgresJournal {
    /// Connects to `url` (`postgres://user@host:port/db`) and creates the tables if needed.
    pub async fn connect(url: &str) -> Result<Self, JournalError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(JournalError::Unavailable)?;
        let mut tx = pool.begin().await.map_err(JournalError::Unavailable)?;
        // Concurrent `CREATE TABLE IF NOT EXISTS` can still collide in PostgreSQL's catalog: an
        // advisory lock serialises the schema setup of workers starting together.
        sqlx::query("SELECT pg_advisory_xact_lock(724201)")
            .execute(&mut *tx)
            .await
            .map_err(JournalError::Unavailable)?;
        for statement in SCHEMA {
            sqlx::query(*statement).execute(&mut *tx).await.map_err(JournalError::Unavailable)?;
        }
        tx.commit().await.map_err(JournalError::Unavailable)?;
        Ok(Self { pool })
    }
}

fn info(row: &sqlx::postgres::PgRow) -> RunInfo {
    RunInfo {
        id: row.get("id"),
        workflow: row.get("workflow"),
        status: RunStatus::parse(row.get::<&str, _>("status")).unwrap_or(RunStatus::Failed),
        events: row.get::<i64, _>("events") as u64,
        created_ms: row.get("created_ms"),
        updated_ms: row.get("updated_ms"),
    }
}

#[async_trait]
impl Journal for PostgresJournal {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn create(&self, id: &str, workflow: &str, first: &[Event]) -> Result<(), JournalError> {
        let now = now_ms();
        let status = first.iter().rev().find_map(Event::status).unwrap_or(RunStatus::Running);
        let conflict = |e| create_error(id, e);
        let mut tx = self.pool.begin().await.map_err(JournalError::Unavailable)?;
        sqlx::query(
            "INSERT INTO agent_runs (id, workflow, status, events, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(workflow)
        .bind(status.as_str())
        .bind(first.len() as i64)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(conflict)?;
        for (seq, e) in first.iter().enumerate() {
            sqlx::query("INSERT INTO agent_events (run_id, seq, kind, body, at_ms) VALUES ($1, $2, $3, $4::jsonb, $5)")
                .bind(id)
                .bind(seq as i64)
                .bind(e.kind())
                .bind(encode(e))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(conflict)?;
        }
        tx.commit().await.map_err(JournalError::Unavailable)
    }

    async fn append(&self, id: &str, seq: u64, event: &Event) -> Result<(), JournalError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(JournalError::Unavailable)?;
        // The UPDATE takes the run's row lock; a second writer with the same `seq` waits, then
        // finds the count moved and matches nothing.
        let moved = sqlx::query(
            "UPDATE agent_runs SET events = events + 1, updated_ms = $1, status = COALESCE($2, status)
             WHERE id = $3 AND events = $4",
        )
        .bind(now)
        .bind(event.status().map(RunStatus::as_str))
        .bind(id)
        .bind(seq as i64)
        .execute(&mut *tx)
        .await
        .map_err(JournalError::Unavailable)?;
        if moved.rows_affected() == 0 {
            let exists = sqlx::query("SELECT 1 FROM agent_runs WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(JournalError::Unavailable)?;
            return Err(match exists {
                None => JournalError::NotFound(id.into()),
                Some(_) => JournalError::Conflict { run: id.into(), seq },
            });
        }
        sqlx::query("INSERT INTO agent_events (run_id, seq, kind, body, at_ms) VALUES ($1, $2, $3, $4::jsonb, $5)")
            .bind(id)
            .bind(seq as i64)
            .bind(event.kind())
            .bind(encode(event))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    JournalError::Conflict { run: id.into(), seq }
                } else {
                    JournalError::Unavailable(e)
                }
            })?;
        tx.commit().await.map_err(JournalError::Unavailable)
    }

    async fn events(&self, id: &str) -> Result<Vec<Event>, JournalError> {
        self.run(id).await?;
        let rows = sqlx::query("SELECT seq, body::text AS body FROM agent_events WHERE run_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(JournalError::Unavailable)?;
        rows.iter().map(|r| decode(id, r.get::<i64, _>("seq") as u64, r.get("body"))).collect()
    }

    async fn run(&self, id: &str) -> Result<RunInfo, JournalError> {
        let row = sqlx::query("SELECT * FROM agent_runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(JournalError::Unavailable)?;
        row.map(|r| info(&r)).ok_or_else(|| JournalError::NotFound(id.into()))
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunInfo>, JournalError> {
        let rows = sqlx::query("SELECT * FROM agent_runs ORDER BY updated_ms DESC, id LIMIT $1")
            .bind(limit.min(i64::MAX as usize) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(JournalError::Unavailable)?;
        Ok(rows.iter().map(info).collect())
    }
}
