use crate::corpus;
use agent_workflow::agents::publisher::Approval;
use agent_workflow::agents::researcher::Strategy;
use agent_workflow::research_graph;
use agent_workflow::state::{Research, Target};
use genai_agent::{Outcome, RunLimits, Runtime, SqliteJournal};
use std::sync::Arc;

async fn runtime(dir: &std::path::Path) -> Runtime<Research> {
    let corpus = corpus(dir).await;
    let journal = Arc::new(SqliteJournal::open(&dir.join("runs.db")).await.unwrap());
    Runtime::new(Arc::new(research_graph(corpus, None, Strategy::default()).unwrap()), journal, RunLimits::default())
}

#[tokio::test]
async fn a_bridge_question_is_answered_from_the_second_hop_with_citations() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path()).await;
    let q = "The director of the romantic comedy Big Stone Gap is based in what New York city neighborhood?";
    let id = rt.start(None, &Research { question: q.into(), ..Research::default() }).await.unwrap();
    let Outcome::Finished(s) = rt.drive(&id).await.unwrap() else { panic!() };
    let top2: Vec<&str> = s.evidence.iter().take(2).map(|p| p.title.as_str()).collect();
    assert_eq!(top2, ["Big Stone Gap (film)", "Adriana Trigiani"], "{:#?}", s.hops);
    assert_eq!(s.hops.len(), 2, "two hops: the question, then the bridge");
    assert!(s.hops[1].reason.contains("Big Stone Gap (film)"));
    let draft = s.draft.unwrap();
    assert!(draft.answer.contains("Greenwich Village"), "{draft:?}");
    assert!(s.review.unwrap().supported);
    assert!(draft.citations.iter().any(|c| c.title == "Adriana Trigiani"));
}

#[tokio::test]
async fn a_comparison_is_settled_by_the_analysts_calculator() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path()).await;
    let q = "Which magazine was started first, Arthur's Magazine or First for Women?";
    let id = rt.start(None, &Research { question: q.into(), ..Research::default() }).await.unwrap();
    let Outcome::Finished(s) = rt.drive(&id).await.unwrap() else { panic!() };
    assert_eq!(
        s.facts.iter().map(|f| (f.tool.as_str(), f.output.as_str())).collect::<Vec<_>>(),
        [("calculator", "-145"), ("compare", "Arthur's Magazine")]
    );
    assert_eq!(s.draft.unwrap().answer, "Arthur's Magazine");
}

#[tokio::test]
async fn publishing_waits_for_approval_across_a_restart_and_happens_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let q = "Which magazine was started first, Arthur's Magazine or First for Women?";
    let input = Research {
        question: q.into(),
        publish: Some(Target::File { dir: out.display().to_string() }),
        ..Research::default()
    };
    let id = {
        let rt = runtime(dir.path()).await;
        let id = rt.start(None, &input).await.unwrap();
        let Outcome::Parked { request, .. } = rt.drive(&id).await.unwrap() else { panic!() };
        assert_eq!(request["action"], "publish the report");
        assert!(request["report"].as_str().unwrap().contains("Arthur's Magazine"));
        id
    };
    assert!(!out.exists(), "nothing is published before approval");
    // A new process approves; then a stray second resume must not publish twice.
    let rt = runtime(dir.path()).await;
    let answer = serde_json::to_value(Approval::Edit { report: "Arthur's Magazine came first.".into() }).unwrap();
    let Outcome::Finished(s) = rt.resume(&id, answer).await.unwrap() else { panic!() };
    let path = s.published.unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("Arthur's Magazine came first."));
    assert!(rt.resume(&id, serde_json::to_value(Approval::Approve).unwrap()).await.is_err());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    assert_eq!(s.decisions, ["approved an edited report"]);
}

#[tokio::test]
async fn a_rejected_report_is_not_published() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let rt = runtime(dir.path()).await;
    let input = Research {
        question: "Which magazine was started first, Arthur's Magazine or First for Women?".into(),
        publish: Some(Target::File { dir: out.display().to_string() }),
        ..Research::default()
    };
    let id = rt.start(None, &input).await.unwrap();
    rt.drive(&id).await.unwrap();
    let reject = serde_json::to_value(Approval::Reject { reason: Some("needs a second source".into()) }).unwrap();
    let Outcome::Finished(s) = rt.resume(&id, reject).await.unwrap() else { panic!() };
    assert_eq!((s.published, out.exists()), (None, false));
    assert_eq!(s.decisions, ["rejected: needs a second source"]);
}

#[tokio::test]
async fn the_research_graph_is_what_the_book_draws() {
    let dir = tempfile::tempdir().unwrap();
    let graph = research_graph(corpus(dir.path()).await, None, Strategy::default()).unwrap();
    insta::assert_json_snapshot!("research_graph", graph.spec());
}
