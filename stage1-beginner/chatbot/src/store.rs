//! Sessions and their messages in SQLite (sqlx): they survive restarts, and deleting a session
//! deletes all of its rows in one transaction.

use genai_llm::{Message, Role, ToolCall};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::Path;

/// One stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub seq: i64,
    pub message: Message,
    /// Left the context window (it lives on in the summary and the recall index).
    pub evicted: bool,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        summary TEXT NOT NULL DEFAULT ''
    )",
    "CREATE TABLE IF NOT EXISTS messages (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT,
        tool_calls TEXT,
        tool_call_id TEXT,
        evicted INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (session_id, seq)
    )",
];

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    session: &str,
    seq: i64,
    m: &Message,
) -> Result<(), sqlx::Error> {
    let calls = (!m.tool_calls.is_empty()).then(|| serde_json::to_string(&m.tool_calls).expect("tool calls serialise"));
    sqlx::query(
        "INSERT INTO messages (session_id, seq, role, content, tool_calls, tool_call_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(session)
    .bind(seq)
    .bind(crate::role_label(m.role))
    .bind(&m.content)
    .bind(calls)
    .bind(&m.tool_call_id)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Opens (or creates) `path`. WAL journal: a committed turn survives a killed process.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        for statement in SCHEMA {
            sqlx::query(*statement).execute(&pool).await?;
        }
        Ok(Self { pool })
    }

    /// Creates a session holding `history`, all or nothing.
    pub async fn create_session_with(&self, id: &str, history: &[Message]) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO sessions (id, created_at) VALUES (?, ?)")
            .bind(id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        for (seq, m) in (1i64..).zip(history) {
            insert(&mut tx, id, seq, m).await?;
        }
        tx.commit().await
    }

    pub async fn exists(&self, id: &str) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query("SELECT 1 FROM sessions WHERE id = ?").bind(id).fetch_optional(&self.pool).await?.is_some())
    }

    /// Session ids, newest first.
    pub async fn sessions(&self) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query("SELECT id FROM sessions ORDER BY created_at DESC, id").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }

    /// Deletes the session and all its messages. `false` if it did not exist.
    pub async fn delete(&self, id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM messages WHERE session_id = ?").bind(id).execute(&mut *tx).await?;
        let gone = sqlx::query("DELETE FROM sessions WHERE id = ?").bind(id).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(gone > 0)
    }

    /// Appends a message; returns its sequence number.
    pub async fn append(&self, session: &str, m: &Message) -> Result<i64, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = ?")
            .bind(session)
            .fetch_one(&mut *tx)
            .await?;
        let seq: i64 = row.get(0);
        insert(&mut tx, session, seq, m).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// All messages of a session, in order.
    pub async fn messages(&self, session: &str) -> Result<Vec<Stored>, sqlx::Error> {
        let rows = sqlx::query("SELECT seq, role, content, tool_calls, tool_call_id, evicted FROM messages WHERE session_id = ? ORDER BY seq")
            .bind(session)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let role = match r.get::<String, _>(1).as_str() {
                    "system" => Role::System,
                    "user" => Role::User,
                    "tool" => Role::Tool,
                    _ => Role::Assistant,
                };
                let tool_calls: Vec<ToolCall> = match r.get::<Option<String>, _>(3) {
                    Some(json) => serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    None => Vec::new(),
                };
                Ok(Stored {
                    seq: r.get(0),
                    message: Message { role, content: r.get(2), tool_calls, tool_call_id: r.get(4) },
                    evicted: r.get::<i64, _>(5) != 0,
                })
            })
            .collect()
    }

    /// Marks messages up to and including `seq` as evicted and stores the new summary, atomically.
    pub async fn evict_with_summary(&self, session: &str, seq: i64, summary: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE messages SET evicted = 1 WHERE session_id = ? AND seq <= ?")
            .bind(session)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE sessions SET summary = ? WHERE id = ?")
            .bind(summary)
            .bind(session)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub async fn summary(&self, session: &str) -> Result<String, sqlx::Error> {
        let row =
            sqlx::query("SELECT summary FROM sessions WHERE id = ?").bind(session).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.get(0)).unwrap_or_default())
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
