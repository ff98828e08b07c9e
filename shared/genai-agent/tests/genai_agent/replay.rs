//! Replay under crashes: the process dies at any append (before or after an effect, mid-step,
//! while parked), a new process resumes, and the run ends in the same state as an uninterrupted
//! one, with no completed call repeated and every effect applied at most once.

use crate::flow::{self, Sink, State};
use async_trait::async_trait;
use genai_agent::{Event, Journal, JournalError, Outcome, RunInfo, RuntimeError};
use proptest::prelude::*;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A journal that "crashes" (refuses every write) after `budget` more appends, like a process
/// killed at that point: what was written stays, nothing after it is.
#[derive(Debug)]
struct Crashing {
    inner: Arc<dyn Journal>,
    budget: AtomicI64,
}

#[async_trait]
impl Journal for Crashing {
    fn backend(&self) -> &'static str {
        "crashing"
    }
    async fn create(&self, id: &str, workflow: &str, first: &[Event]) -> Result<(), JournalError> {
        self.inner.create(id, workflow, first).await
    }
    async fn append(&self, id: &str, seq: u64, event: &Event) -> Result<(), JournalError> {
        if self.budget.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(JournalError::Unavailable(sqlx::Error::PoolClosed));
        }
        self.inner.append(id, seq, event).await
    }
    async fn events(&self, id: &str) -> Result<Vec<Event>, JournalError> {
        self.inner.events(id).await
    }
    async fn run(&self, id: &str) -> Result<RunInfo, JournalError> {
        self.inner.run(id).await
    }
    async fn runs(&self, limit: usize) -> Result<Vec<RunInfo>, JournalError> {
        self.inner.runs(limit).await
    }
}

/// Drives a run to its end the way an operator would: resume after every crash, approve when
/// asked. `crash_after` appends of the first process are allowed; later processes never crash.
async fn run_with_crash(dir: &std::path::Path, crash_after: Option<i64>) -> (State, Arc<Sink>, usize) {
    let sink = Arc::new(Sink::default());
    let durable = flow::sqlite(dir).await;
    let first: Arc<dyn Journal> = match crash_after {
        Some(n) => Arc::new(Crashing { inner: durable.clone(), budget: AtomicI64::new(n) }),
        None => durable.clone(),
    };
    let rt = flow::runtime(first, sink.clone());
    let id = rt.start(Some("r".into()), &State::default()).await.unwrap();
    let mut crashes = 0;
    let mut outcome = rt.drive(&id).await;
    if let Ok(Outcome::Parked { .. }) = outcome {
        outcome = rt.resume(&id, json!("approve")).await;
    }
    let rt = flow::runtime(durable, sink.clone());
    loop {
        match outcome {
            Ok(Outcome::Finished(state)) => return (state, sink, crashes),
            Ok(Outcome::Parked { .. }) => outcome = rt.resume(&id, json!("approve")).await,
            Err(RuntimeError::Journal(JournalError::Unavailable(_))) => {
                crashes += 1;
                outcome = rt.drive(&id).await;
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn any_crash_point_gives_the_same_final_state_and_each_effect_at_most_once(crash_after in 0i64..24) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let clean_dir = tempfile::tempdir().unwrap();
            let (clean, clean_sink, _) = run_with_crash(clean_dir.path(), None).await;
            let dir = tempfile::tempdir().unwrap();
            let (state, sink, _crashes) = run_with_crash(dir.path(), Some(crash_after)).await;
            prop_assert_eq!(&state, &clean);
            prop_assert_eq!(sink.effects(), 1, "the report is published exactly once");
            prop_assert_eq!(clean_sink.adds.load(Ordering::SeqCst), 3);
            // At most the one call in flight at the crash runs again: its result had not been
            // journaled. Every journaled call is replayed, never repeated.
            prop_assert!(sink.adds.load(Ordering::SeqCst) <= 4);
            prop_assert!(sink.invocations.load(Ordering::SeqCst) <= 2);
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn the_clean_run_writes_fewer_than_24_appends_so_the_property_covers_every_point() {
    let dir = tempfile::tempdir().unwrap();
    run_with_crash(dir.path(), None).await;
    let journal = flow::sqlite(dir.path()).await;
    let events = journal.events("r").await.unwrap().len() as i64;
    assert!(events - 1 < 24, "{events} events: widen the property's range");
}
