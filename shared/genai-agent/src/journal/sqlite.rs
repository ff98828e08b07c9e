//! The embedded journal: one SQLite file in WAL mode with `synchronous = FULL`, so an append
//! that returned has reached the disk and survives a killed process or a power cut.

use super::{Journal, JournalError, RunInfo, create_error, decode, encode, is_unique_violation, now_ms};
use crate::event::{Event, RunStatus};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::time::Duration;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS agent_runs (
        id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, events INTEGER NOT NULL,
        created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS agent_events (
        run_id TEXT NOT NULL REFERENCES agent_runs(id), seq INTEGER NOT NULL, kind TEXT NOT NULL,
        body TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY (run_id, seq))",
    "CREATE INDEX IF NOT EXISTS agent_runs_updated ON agent_runs(updated_ms)",
];

#[derive(Debug, Clone)]
pub struct SqliteJournal {
    pool: SqlitePool,
}

impl SqliteJournal {
    /// Opens (or creates) the journal file.
    pub async fn open(path: &Path) -> Result<Self, JournalError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(JournalError::Unavailable)?;
        for statement in SCHEMA {
            sqlx::query(*statement).execute(&pool).await.map_err(JournalError::Unavailable)?;
        }
        Ok(Self { pool })
    }
}

fn info(row: &sqlx::sqlite::SqliteRow) -> RunInfo {
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
impl Journal for SqliteJournal {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn create(&self, id: &str, workflow: &str, first: &[Event]) -> Result<(), JournalError> {
        let now = now_ms();
        let status = first.iter().rev().find_map(Event::status).unwrap_or(RunStatus::Running);
        let conflict = |e| create_error(id, e);
        // BEGIN IMMEDIATE takes the write lock up front, so two creators never deadlock upgrading.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(JournalError::Unavailable)?;
        sqlx::query(
            "INSERT INTO agent_runs (id, workflow, status, events, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?)",
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
            sqlx::query("INSERT INTO agent_events (run_id, seq, kind, body, at_ms) VALUES (?, ?, ?, ?, ?)")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(JournalError::Unavailable)?;
        // The row's event count is the compare-and-swap: only the writer that saw `seq` moves it.
        let moved = sqlx::query(
            "UPDATE agent_runs SET events = events + 1, updated_ms = ?, status = COALESCE(?, status)
             WHERE id = ? AND events = ?",
        )
        .bind(now)
        .bind(event.status().map(RunStatus::as_str))
        .bind(id)
        .bind(seq as i64)
        .execute(&mut *tx)
        .await
        .map_err(JournalError::Unavailable)?;
        if moved.rows_affected() == 0 {
            let exists = sqlx::query("SELECT 1 FROM agent_runs WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(JournalError::Unavailable)?;
            return Err(match exists {
                None => JournalError::NotFound(id.into()),
                Some(_) => JournalError::Conflict { run: id.into(), seq },
            });
        }
        sqlx::query("INSERT INTO agent_events (run_id, seq, kind, body, at_ms) VALUES (?, ?, ?, ?, ?)")
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
        let rows = sqlx::query("SELECT seq, body FROM agent_events WHERE run_id = ? ORDER BY seq")
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(JournalError::Unavailable)?;
        rows.iter().map(|r| decode(id, r.get::<i64, _>("seq") as u64, r.get("body"))).collect()
    }

    async fn run(&self, id: &str) -> Result<RunInfo, JournalError> {
        let row = sqlx::query("SELECT * FROM agent_runs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(JournalError::Unavailable)?;
        row.map(|r| info(&r)).ok_or_else(|| JournalError::NotFound(id.into()))
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunInfo>, JournalError> {
        let rows = sqlx::query("SELECT * FROM agent_runs ORDER BY updated_ms DESC, id LIMIT ?")
            .bind(limit.min(i64::MAX as usize) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(JournalError::Unavailable)?;
        Ok(rows.iter().map(info).collect())
    }
}
