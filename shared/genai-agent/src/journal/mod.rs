//! Where runs are kept: an append-only log of [`Event`]s per run, with optimistic concurrency
//! (an append names the sequence number it expects, so two processes resuming the same run cannot
//! both write step 7). Two backends pass one [`conformance`] suite: [`SqliteJournal`] (the
//! embedded default, one file) and [`PostgresJournal`] (several workers, one database).

pub mod conformance;
mod postgres;
mod sqlite;

pub use postgres::PostgresJournal;
pub use sqlite::SqliteJournal;

use crate::event::{Event, RunStatus};
use async_trait::async_trait;
use genai_core::{Classify, ErrorClass};
use serde::Serialize;

/// A run as the journal lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    pub id: String,
    pub workflow: String,
    pub status: RunStatus,
    /// Events appended so far (the next append's sequence number).
    pub events: u64,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Why a journal operation failed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("run {0} does not exist")]
    NotFound(String),
    /// Another writer appended first (or the run id is taken): reload and decide again.
    #[error("run {run}: event {seq} was already written by another writer")]
    Conflict { run: String, seq: u64 },
    /// The database could not be reached or is busy.
    #[error("journal unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A stored event does not decode: the journal was written by an incompatible version.
    #[error("run {run}: event {seq} does not decode")]
    Corrupt {
        run: String,
        seq: u64,
        #[source]
        source: serde_json::Error,
    },
}

impl Classify for JournalError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::NotFound(_) => ErrorClass::InvalidInput,
            Self::Conflict { .. } | Self::Unavailable(_) => ErrorClass::Retryable,
            Self::Corrupt { .. } => ErrorClass::Permanent,
        }
    }
}

// ANCHOR: journal_trait
/// An append-only event log per run. `append` is durable when it returns `Ok`: that is the
/// moment a step's effect counts as done.
#[async_trait]
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Creates run `id` with `first` as its events `0..`, all or nothing. `Conflict` if the id
    /// is taken.
    async fn create(&self, id: &str, workflow: &str, first: &[Event]) -> Result<(), JournalError>;

    /// Appends `event` as number `seq`, which must equal the number of events already in the
    /// run; otherwise `Conflict` and nothing is written.
    async fn append(&self, id: &str, seq: u64, event: &Event) -> Result<(), JournalError>;

    /// Every event of the run, in order.
    async fn events(&self, id: &str) -> Result<Vec<Event>, JournalError>;

    async fn run(&self, id: &str) -> Result<RunInfo, JournalError>;

    /// The most recently updated runs first.
    async fn runs(&self, limit: usize) -> Result<Vec<RunInfo>, JournalError>;
}
// ANCHOR_END: journal_trait

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub(crate) fn decode(run: &str, seq: u64, body: &str) -> Result<Event, JournalError> {
    serde_json::from_str(body).map_err(|source| JournalError::Corrupt { run: run.into(), seq, source })
}

pub(crate) fn encode(event: &Event) -> String {
    serde_json::to_string(event).expect("events are plain JSON values")
}

/// A unique-key violation means another writer won the race for this sequence number.
/// A failed insert while creating run `id`: the id is taken (`Conflict`), or the database failed.
pub(crate) fn create_error(id: &str, e: sqlx::Error) -> JournalError {
    if is_unique_violation(&e) {
        JournalError::Conflict { run: id.into(), seq: 0 }
    } else {
        JournalError::Unavailable(e)
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
