use crate::flow::{self, Sink, State};
use async_trait::async_trait;
use genai_agent::{
    Ctx, END, Event, FnNode, Graph, GraphError, Node, Outcome, RunLimits, RunStatus, Runtime, StepError, StepPolicy,
};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[tokio::test]
async fn a_run_parks_for_approval_survives_a_restart_and_publishes_once() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Sink::default());
    let id = {
        let rt = flow::runtime(flow::sqlite(dir.path()).await, sink.clone());
        let id = rt.start(Some("run-1".into()), &State::default()).await.unwrap();
        let parked = rt.drive(&id).await.unwrap();
        assert_eq!(parked, Outcome::Parked { key: "0".into(), request: json!({"approve": "publish", "n": 3}) });
        assert_eq!(rt.journal().run(&id).await.unwrap().status, RunStatus::Parked);
        id
    };
    // A new process: a new runtime over the same file. Driving a parked run does nothing.
    let rt = flow::runtime(flow::sqlite(dir.path()).await, sink.clone());
    assert!(matches!(rt.drive(&id).await.unwrap(), Outcome::Parked { .. }));
    let done = rt.resume(&id, json!("approve")).await.unwrap();
    let Outcome::Finished(state) = done else { panic!("{done:?}") };
    assert_eq!(state.n, 3);
    assert_eq!(state.receipt.as_deref(), Some("published:run-1-report"));
    assert_eq!((sink.adds.load(Ordering::SeqCst), sink.effects()), (3, 1));
    // Resuming a finished run is an input error, and driving it again changes nothing.
    assert!(matches!(rt.resume(&id, json!("approve")).await, Err(genai_agent::RuntimeError::NotParked(_))));
    assert!(matches!(rt.drive(&id).await.unwrap(), Outcome::Finished(_)));
    assert_eq!(sink.invocations.load(Ordering::SeqCst), 1);
    // The journal, as an auditor reads it.
    let kinds: Vec<&str> = rt.history(&id).await.unwrap().iter().map(Event::kind).collect();
    insta::assert_json_snapshot!("approval_journal_kinds", kinds);
}

#[tokio::test]
async fn a_rejected_action_ends_the_run_without_the_effect() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Sink::default());
    let rt = flow::runtime(flow::sqlite(dir.path()).await, sink.clone());
    let id = rt.start(None, &State::default()).await.unwrap();
    rt.drive(&id).await.unwrap();
    let Outcome::Finished(state) = rt.resume(&id, json!("reject")).await.unwrap() else { panic!() };
    assert_eq!((state.approved, state.receipt), (Some(false), None));
    assert_eq!(sink.invocations.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_answer_of_the_wrong_shape_fails_the_step_and_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let rt = flow::runtime(flow::sqlite(dir.path()).await, Arc::default());
    let id = rt.start(None, &State::default()).await.unwrap();
    rt.drive(&id).await.unwrap();
    let out = rt.resume(&id, json!({"not": "a string"})).await.unwrap();
    assert!(matches!(&out, Outcome::Failed { error, .. } if error.contains("wrong shape")), "{out:?}");
}

/// A step that fails transiently twice: the call it completed before failing is not repeated.
struct Flaky {
    fails: AtomicU32,
    calls: Arc<AtomicU32>,
}

#[async_trait]
impl Node<State> for Flaky {
    async fn run(&self, s: &mut State, ctx: &Ctx) -> Result<(), StepError> {
        let calls = self.calls.clone();
        s.n = ctx.call("expensive", || async move { Ok(calls.fetch_add(1, Ordering::SeqCst) + 10) }).await?;
        if self.fails.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err(StepError::Transient("model outage".into()));
        }
        Ok(())
    }
}

fn fast_retries(attempts: u32) -> StepPolicy {
    StepPolicy {
        retry: genai_core::backoff::Backoff {
            max_attempts: attempts,
            base: Duration::from_millis(1),
            ..Default::default()
        },
        ..StepPolicy::default()
    }
}

#[tokio::test]
async fn transient_failures_are_retried_and_completed_calls_are_replayed_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let graph = Graph::builder("flaky", 1, "flaky")
        .node("flaky", Flaky { fails: AtomicU32::new(0), calls: calls.clone() })
        .edge("flaky", END)
        .policy("flaky", fast_retries(3))
        .build()
        .unwrap();
    let rt = Runtime::new(Arc::new(graph), flow::sqlite(dir.path()).await, RunLimits::default());
    let id = rt.start(None, &State::default()).await.unwrap();
    let Outcome::Finished(state) = rt.drive(&id).await.unwrap() else { panic!() };
    assert_eq!(state.n, 10, "the first attempt's result is the one used");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "three attempts, one call");
    let failed = rt.history(&id).await.unwrap().iter().filter(|e| matches!(e, Event::StepFailed { .. })).count();
    assert_eq!(failed, 2);
}

/// Publishes, then fails for good: the compensation hook withdraws what was published.
struct PublishThenFail(Arc<AtomicU32>);

#[async_trait]
impl Node<State> for PublishThenFail {
    async fn run(&self, _s: &mut State, ctx: &Ctx) -> Result<(), StepError> {
        let live = self.0.clone();
        ctx.effect("post", "k1", |_| async move { Ok(live.fetch_add(1, Ordering::SeqCst)) }).await?;
        Err(StepError::Permanent("the reviewer's webhook refused the report".into()))
    }

    async fn compensate(&self, _s: &State, _ctx: &Ctx, _e: &StepError) -> Result<(), StepError> {
        self.0.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn a_step_that_fails_for_good_is_compensated_then_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let live = Arc::new(AtomicU32::new(0));
    let graph = Graph::builder("saga", 1, "post")
        .node("post", PublishThenFail(live.clone()))
        .node(
            "manual",
            FnNode(|s: &mut State| {
                s.log.push("handed to a person".into());
                Ok(())
            }),
        )
        .edge("post", END)
        .edge("manual", END)
        .policy("post", StepPolicy { fallback: Some("manual".into()), ..fast_retries(3) })
        .build()
        .unwrap();
    let rt = Runtime::new(Arc::new(graph), flow::sqlite(dir.path()).await, RunLimits::default());
    let id = rt.start(None, &State::default()).await.unwrap();
    let Outcome::Finished(state) = rt.drive(&id).await.unwrap() else { panic!() };
    assert_eq!(state.log, ["handed to a person"]);
    assert_eq!(live.load(Ordering::SeqCst), 0, "the published effect was withdrawn");
    let events = rt.history(&id).await.unwrap();
    assert!(events.iter().any(|e| matches!(e, Event::Compensated { ok: true, .. })));
    // A permanent error is not retried.
    assert_eq!(events.iter().filter(|e| matches!(e, Event::StepFailed { .. })).count(), 1);
}

struct Slow;

#[async_trait]
impl Node<State> for Slow {
    async fn run(&self, _s: &mut State, _ctx: &Ctx) -> Result<(), StepError> {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(())
    }
}

#[tokio::test]
async fn a_step_that_hangs_times_out_and_the_run_fails_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let graph = Graph::builder("slow", 1, "slow")
        .node("slow", Slow)
        .edge("slow", END)
        .policy("slow", StepPolicy { timeout: Duration::from_millis(20), ..fast_retries(2) })
        .build()
        .unwrap();
    let rt = Runtime::new(Arc::new(graph), flow::sqlite(dir.path()).await, RunLimits::default());
    let id = rt.start(None, &State::default()).await.unwrap();
    let out = rt.drive(&id).await.unwrap();
    assert!(matches!(&out, Outcome::Failed { error, .. } if error.contains("timed out")), "{out:?}");
    assert_eq!(rt.journal().run(&id).await.unwrap().status, RunStatus::Failed);
}

#[tokio::test]
async fn a_loop_is_stopped_by_the_step_limit() {
    let dir = tempfile::tempdir().unwrap();
    let graph = Graph::builder("forever", 1, "spin")
        .node(
            "spin",
            FnNode(|s: &mut State| {
                s.n += 1;
                Ok(())
            }),
        )
        .branch("spin", &["spin"], |_| "spin".into())
        .build()
        .unwrap();
    let limits = RunLimits { max_steps: 7, ..RunLimits::default() };
    let rt = Runtime::new(Arc::new(graph), flow::sqlite(dir.path()).await, limits);
    let id = rt.start(None, &State::default()).await.unwrap();
    let out = rt.drive(&id).await.unwrap();
    assert!(matches!(&out, Outcome::Failed { class: genai_core::ErrorClass::Budget, .. }), "{out:?}");
    assert_eq!(rt.checkpoints(&id).await.unwrap().len(), 7);
}

#[tokio::test]
async fn a_branch_outside_its_declared_targets_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let graph = Graph::builder("bad", 1, "a")
        .node("a", FnNode(|_: &mut State| Ok(())))
        .branch("a", &[END], |_| "elsewhere".into())
        .build()
        .unwrap();
    let rt = Runtime::new(Arc::new(graph), flow::sqlite(dir.path()).await, RunLimits::default());
    let id = rt.start(None, &State::default()).await.unwrap();
    assert!(matches!(rt.drive(&id).await.unwrap(), Outcome::Failed { .. }));
}

#[test]
fn graphs_are_validated_when_built() {
    let err = Graph::<State>::builder("g", 1, "a").node("a", FnNode(|_: &mut State| Ok(()))).edge("a", "b").build();
    assert_eq!(err.unwrap_err(), GraphError::UnknownTarget { from: "a".into(), to: "b".into() });
    let err = Graph::<State>::builder("g", 1, "a").node("a", FnNode(|_: &mut State| Ok(()))).build();
    assert_eq!(err.unwrap_err(), GraphError::NoEdge("a".into()));
    let spec = flow::graph(Arc::default()).spec();
    insta::assert_json_snapshot!("flow_graph_spec", spec);
}

#[tokio::test]
async fn a_run_started_on_version_1_resumes_on_version_2_through_its_migration() {
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct V2 {
        n: u32,
        log: Vec<String>,
        approved: Option<bool>,
        receipt: Option<String>,
        /// New in version 2.
        reviewer: String,
    }
    struct Finish;
    #[async_trait]
    impl Node<V2> for Finish {
        async fn run(&self, s: &mut V2, ctx: &Ctx) -> Result<(), StepError> {
            let answer: String = ctx.interrupt(&json!({"approve": "publish", "n": s.n})).await?;
            s.log.push(format!("v2 saw {answer}, reviewer {}", s.reviewer));
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = flow::sqlite(dir.path()).await;
    let v1 = flow::runtime(journal.clone(), Arc::default());
    let id = v1.start(None, &State::default()).await.unwrap();
    assert!(matches!(v1.drive(&id).await.unwrap(), Outcome::Parked { .. }));
    // The code is upgraded while the run waits: version 2 adds a field with a migration.
    let graph = Graph::builder("flow", 2, "work")
        .node("work", FnNode(|_: &mut V2| Ok(())))
        .node("approve", Finish)
        .node("publish", FnNode(|_: &mut V2| Ok(())))
        .edge("work", "approve")
        .edge("approve", END)
        .edge("publish", END)
        .migration(1, |mut v| {
            v["reviewer"] = json!("unassigned");
            Ok(v)
        })
        .build()
        .unwrap();
    let v2 = Runtime::new(Arc::new(graph), journal, RunLimits::default());
    let Outcome::Finished(state) = v2.resume(&id, json!("approve")).await.unwrap() else { panic!() };
    assert_eq!(state.n, 3, "the state carried over");
    assert_eq!(state.log.last().unwrap(), "v2 saw approve, reviewer unassigned");
    assert!(v2.history(&id).await.unwrap().iter().any(|e| matches!(e, Event::Migrated { from: 1, to: 2, .. })));
    // Code older than the journal refuses it instead of misreading it.
    let old = flow::runtime(v2.journal().clone(), Arc::default());
    let other = v2.start(None, &state).await.unwrap();
    assert!(matches!(old.drive(&other).await, Err(genai_agent::RuntimeError::Version { .. })));
}

#[tokio::test]
async fn time_travel_forks_a_new_run_from_a_checkpoint_and_leaves_the_original_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Sink::default());
    let rt = flow::runtime(flow::sqlite(dir.path()).await, sink.clone());
    let id = rt.start(None, &State::default()).await.unwrap();
    rt.drive(&id).await.unwrap();
    rt.resume(&id, json!("reject")).await.unwrap();
    let checkpoints = rt.checkpoints(&id).await.unwrap();
    assert_eq!(checkpoints.iter().map(|c| c.node.as_str()).collect::<Vec<_>>(), ["work", "work", "work", "approve"]);
    // Fork after the third `work` step and answer differently this time.
    let fork = rt.fork(&id, 2, None).await.unwrap();
    assert!(matches!(rt.drive(&fork).await.unwrap(), Outcome::Parked { .. }));
    let Outcome::Finished(state) = rt.resume(&fork, json!("approve")).await.unwrap() else { panic!() };
    assert_eq!(state.receipt, Some(format!("published:{fork}-report")));
    assert_eq!(sink.adds.load(Ordering::SeqCst), 3, "the fork replayed no work step");
    let Outcome::Finished(original) = rt.drive(&id).await.unwrap() else { panic!() };
    assert_eq!(original.approved, Some(false));
    let Some(Event::Started { forked_from, .. }) = rt.history(&fork).await.unwrap().into_iter().next() else {
        panic!()
    };
    assert_eq!(forked_from.map(|f| (f.run, f.step)), Some((id.clone(), 2)));
    // A fork of an edited state: time travel with a correction.
    let edited = State { n: 100, ..checkpoints[2].state.clone().try_into_state() };
    let fork2 = rt.fork(&id, 2, Some(&edited)).await.unwrap();
    let Outcome::Parked { request, .. } = rt.drive(&fork2).await.unwrap() else { panic!() };
    assert_eq!(request["n"], 100);
    assert!(matches!(rt.fork(&id, 99, None).await, Err(genai_agent::RuntimeError::NoCheckpoint { .. })));
}

trait IntoState {
    fn try_into_state(self) -> State;
}

impl IntoState for serde_json::Value {
    fn try_into_state(self) -> State {
        serde_json::from_value(self).unwrap()
    }
}

#[tokio::test]
async fn fan_out_runs_branches_concurrently_and_merges_them() {
    struct Tagger(&'static str, Duration);
    #[async_trait]
    impl Node<State> for Tagger {
        async fn run(&self, s: &mut State, ctx: &Ctx) -> Result<(), StepError> {
            let (tag, wait) = (self.0, self.1);
            let found: String = ctx
                .call("search", || async move {
                    tokio::time::sleep(wait).await;
                    Ok(format!("found by {tag}"))
                })
                .await?;
            s.log = vec![found];
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let graph = Graph::builder("fan", 1, "both")
        .fan_out(
            "both",
            vec![
                ("left", Arc::new(Tagger("left", Duration::from_millis(200))) as Arc<dyn Node<State>>),
                ("right", Arc::new(Tagger("right", Duration::from_millis(200)))),
            ],
            |s: &mut State, branches: Vec<State>| s.log.extend(branches.into_iter().flat_map(|b| b.log)),
        )
        .edge("both", END)
        .build()
        .unwrap();
    let rt = Runtime::new(Arc::new(graph), flow::sqlite(dir.path()).await, RunLimits::default());
    let id = rt.start(None, &State::default()).await.unwrap();
    let started = std::time::Instant::now();
    let Outcome::Finished(state) = rt.drive(&id).await.unwrap() else { panic!() };
    assert_eq!(state.log, ["found by left", "found by right"]);
    assert!(started.elapsed() < Duration::from_millis(390), "the branches ran concurrently");
    let keys: Vec<String> = rt
        .history(&id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| if let Event::Call { key, .. } = e { Some(key) } else { None })
        .collect();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, ["left/0", "right/0"]);
}

#[tokio::test]
async fn a_node_whose_calls_change_order_on_replay_is_caught() {
    struct Fickle(AtomicU32);
    #[async_trait]
    impl Node<State> for Fickle {
        async fn run(&self, _s: &mut State, ctx: &Ctx) -> Result<(), StepError> {
            let name = if self.0.fetch_add(1, Ordering::SeqCst) == 0 { "first" } else { "second" };
            ctx.call(name, || async { Ok(1) }).await?;
            Err(StepError::Transient("try again".into()))
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let graph = Graph::builder("fickle", 1, "f")
        .node("f", Fickle(AtomicU32::new(0)))
        .edge("f", END)
        .policy("f", fast_retries(3))
        .build()
        .unwrap();
    let rt = Runtime::new(Arc::new(graph), flow::sqlite(dir.path()).await, RunLimits::default());
    let id = rt.start(None, &State::default()).await.unwrap();
    let out = rt.drive(&id).await.unwrap();
    assert!(matches!(&out, Outcome::Failed { error, .. } if error.contains("replay diverged")), "{out:?}");
}
