use genai_agent::journal::conformance::suite;
use genai_agent::{Journal, PostgresJournal, SqliteJournal};
use std::sync::Arc;

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let journal: Arc<dyn Journal> = Arc::new(SqliteJournal::open(&dir.path().join("j.db")).await.unwrap());
    suite(journal).await;
}

/// The machine's PostgreSQL (`DATABASE_URL`, e.g. postgres://postgres@127.0.0.1:5432/test):
/// skipped when unset, a failure when set but unreachable.
#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("SKIPPED: PostgreSQL journal conformance (DATABASE_URL is not set)");
        return;
    };
    let journal = PostgresJournal::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("DATABASE_URL is set but PostgreSQL at {url} is unreachable: {e:?}"));
    suite(Arc::new(journal)).await;
}

#[tokio::test]
async fn a_journal_written_by_an_incompatible_version_is_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let journal = SqliteJournal::open(&path).await.unwrap();
    let started = genai_agent::Event::Started {
        workflow: "w".into(),
        version: 1,
        state: serde_json::json!({}),
        forked_from: None,
    };
    journal.create("r", "w", &[started]).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::query("UPDATE agent_events SET body = '{\"type\":\"teleported\"}' WHERE run_id = 'r'")
        .execute(&pool)
        .await
        .unwrap();
    let err = journal.events("r").await.unwrap_err();
    assert!(matches!(err, genai_agent::JournalError::Corrupt { seq: 0, .. }), "{err:?}");
}
