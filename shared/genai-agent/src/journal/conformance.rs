//! The behaviour every [`Journal`] backend must have, as one async function each backend's tests
//! call (`suite(&journal).await`). Run ids are random, so the suite can share a database.

use super::{Journal, JournalError};
use crate::event::{Event, RunStatus, Spend};
use genai_core::ErrorClass;
use serde_json::json;
use std::sync::Arc;

fn started() -> Event {
    Event::Started { workflow: "conformance".into(), version: 1, state: json!({"n": 0}), forked_from: None }
}

fn call(step: u64, n: u64) -> Event {
    Event::Call {
        step,
        key: format!("{n}:tool"),
        name: "tool".into(),
        output: json!({"value": n, "text": "naïve — ünïcode ✓"}),
        spend: Spend { input_tokens: 3, output_tokens: 2, usd: 0.001 },
    }
}

/// Runs every check; panics with a message naming the broken rule.
pub async fn suite(journal: Arc<dyn Journal>) {
    let run = |name: &str| format!("{name}-{:016x}", rand::random::<u64>());

    // Create, read back, and events keep their order and content (including non-ASCII text).
    let a = run("a");
    journal.create(&a, "conformance", &[started()]).await.expect("create");
    for seq in 1..=5 {
        journal.append(&a, seq, &call(1, seq)).await.expect("append in order");
    }
    let events = journal.events(&a).await.expect("events");
    assert_eq!(events.len(), 6, "every appended event is read back");
    assert_eq!(events[0], started());
    assert_eq!(events[3], call(1, 3), "events round-trip exactly, in order");
    let info = journal.run(&a).await.expect("run info");
    assert_eq!((info.events, info.status, info.workflow.as_str()), (6, RunStatus::Running, "conformance"));

    // An append must name the next sequence number: a stale or future one writes nothing.
    for stale in [0, 5, 7] {
        match journal.append(&a, stale, &call(2, 99)).await {
            Err(JournalError::Conflict { seq, .. }) => assert_eq!(seq, stale),
            other => panic!("append at {stale} with 6 events must conflict, got {other:?}"),
        }
    }
    assert_eq!(journal.events(&a).await.unwrap().len(), 6, "a refused append leaves the run unchanged");

    // The id of an existing run cannot be reused.
    assert!(matches!(journal.create(&a, "conformance", &[started()]).await, Err(JournalError::Conflict { .. })));

    // Unknown runs are NotFound (an input error), never an empty run.
    let missing = run("missing");
    assert!(matches!(journal.events(&missing).await, Err(JournalError::NotFound(_))));
    assert!(matches!(journal.run(&missing).await, Err(JournalError::NotFound(_))));
    let err = journal.append(&missing, 0, &started()).await.unwrap_err();
    assert!(matches!(err, JournalError::NotFound(_)), "{err:?}");
    assert_eq!(genai_core::Classify::class(&err), ErrorClass::InvalidInput);

    // The status follows the events that change it.
    let b = run("b");
    journal.create(&b, "conformance", &[started()]).await.unwrap();
    let parked = Event::Interrupted { step: 0, key: "0:approve".into(), request: json!({"action": "publish"}) };
    journal.append(&b, 1, &parked).await.unwrap();
    assert_eq!(journal.run(&b).await.unwrap().status, RunStatus::Parked);
    journal
        .append(&b, 2, &Event::Resumed { step: 0, key: "0:approve".into(), response: json!("approve") })
        .await
        .unwrap();
    assert_eq!(journal.run(&b).await.unwrap().status, RunStatus::Running);
    journal.append(&b, 3, &call(0, 1)).await.unwrap();
    assert_eq!(journal.run(&b).await.unwrap().status, RunStatus::Running, "a call does not change the status");
    journal.append(&b, 4, &Event::Finished { state: json!({"n": 1}) }).await.unwrap();
    assert_eq!(journal.run(&b).await.unwrap().status, RunStatus::Finished);

    // Racing writers: of 8 appends of the same sequence number exactly one wins.
    let c = run("c");
    journal.create(&c, "conformance", &[started()]).await.unwrap();
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let (journal, c) = (journal.clone(), c.clone());
            tokio::spawn(async move { journal.append(&c, 1, &call(1, i)).await })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(()) => won += 1,
            Err(JournalError::Conflict { .. }) => {}
            Err(e) => panic!("a losing writer must see Conflict, got {e:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one of the racing appends is written");
    assert_eq!(journal.events(&c).await.unwrap().len(), 2);

    // A multi-event create is all or nothing and sets the status of its last status event.
    let d = run("d");
    journal.create(&d, "conformance", &[started(), parked.clone()]).await.unwrap();
    let info = journal.run(&d).await.unwrap();
    assert_eq!((info.events, info.status), (2, RunStatus::Parked));

    // Listing: most recently updated first, bounded by the limit.
    journal.append(&a, 6, &call(2, 6)).await.unwrap();
    let listed = journal.runs(1000).await.unwrap();
    let pos = |id: &str| listed.iter().position(|r| r.id == id).unwrap_or_else(|| panic!("{id} is listed"));
    assert!(pos(&a) <= pos(&b), "the run updated last is listed first");
    assert_eq!(journal.runs(2).await.unwrap().len(), 2, "the limit bounds the listing");
}
