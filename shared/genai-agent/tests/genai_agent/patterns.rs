//! Plan-and-execute and the supervisor against scripted models: a plan that is not JSON is asked
//! for again, an unknown specialist is fed back, and a model outage mid-run retries the step
//! with every earlier model and tool call replayed from the journal, none repeated.

use crate::react::Add;
use async_trait::async_trait;
use genai_agent::patterns::{PlanExecute, PlanOutcome, Specialist, Supervisor, SupervisorOutcome};
use genai_agent::react::ReactAgent;
use genai_agent::{Ctx, END, Graph, Node, Outcome, RunLimits, Runtime, StepError, StepPolicy};
use genai_llm::LlmError;
use genai_testkit::{ScriptedModel, Step};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct S {
    plan: Option<PlanOutcome>,
    team: Option<SupervisorOutcome>,
}

struct Planned(PlanExecute);
struct Led(Supervisor);

#[async_trait]
impl Node<S> for Planned {
    async fn run(&self, s: &mut S, ctx: &Ctx) -> Result<(), StepError> {
        s.plan = Some(self.0.run(ctx, "Add 2 and 3, then double the sum.").await?);
        Ok(())
    }
}

#[async_trait]
impl Node<S> for Led {
    async fn run(&self, s: &mut S, ctx: &Ctx) -> Result<(), StepError> {
        s.team = Some(self.0.run(ctx, "What is 2 + 3? Answer in a sentence.").await?);
        Ok(())
    }
}

fn math(model: Arc<ScriptedModel>, adds: Arc<AtomicU32>) -> ReactAgent {
    ReactAgent { model, system: "Use the tools.".into(), tools: vec![Arc::new(Add(adds))], max_turns: 4 }
}

async fn run_once(node: impl Node<S> + 'static, dir: &std::path::Path) -> S {
    let policy = StepPolicy {
        retry: genai_core::backoff::Backoff {
            max_attempts: 3,
            base: std::time::Duration::from_millis(1),
            ..Default::default()
        },
        ..StepPolicy::default()
    };
    let graph = Graph::builder("pattern", 1, "agent").node("agent", node).edge("agent", END).policy("agent", policy);
    let rt = Runtime::new(Arc::new(graph.build().unwrap()), crate::flow::sqlite(dir).await, RunLimits::default());
    let id = rt.start(None, &S::default()).await.unwrap();
    match rt.drive(&id).await.unwrap() {
        Outcome::Finished(s) => s,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn plan_and_execute_replans_from_results_and_survives_an_outage_without_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let planner = Arc::new(ScriptedModel::new(
        "gpt-4o",
        [
            Step::Text("First add, then double.".into()),
            Step::Text(
                r#"```json
{"steps": ["add 2 and 3", "double the sum"]}
```"#
                    .into(),
            ),
            Step::Text(r#"{"steps": ["double 5"]}"#.into()),
            Step::Fail(LlmError::Http { status: 503, retry_after: None, body: "overloaded".into() }),
            Step::Text(r#"{"answer": "10"}"#.into()),
        ],
    ));
    let executor = Arc::new(ScriptedModel::new(
        "gpt-4o-mini",
        [
            Step::Tools(vec![("c1".into(), "add".into(), r#"{"a": 2, "b": 3}"#.into())]),
            Step::Text("5".into()),
            Step::Tools(vec![("c2".into(), "add".into(), r#"{"a": 5, "b": 5}"#.into())]),
            Step::Text("10".into()),
        ],
    ));
    let adds = Arc::new(AtomicU32::new(0));
    let agent = PlanExecute { planner: planner.clone(), executor: math(executor.clone(), adds.clone()), max_steps: 4 };
    let s = run_once(Planned(agent), dir.path()).await;
    let out = s.plan.unwrap();
    assert_eq!(out.answer, "10");
    assert_eq!(out.plans, vec![vec!["add 2 and 3".to_string(), "double the sum".into()], vec!["double 5".into()]]);
    let steps: Vec<(&str, &str)> = out.executed.iter().map(|e| (e.step.as_str(), e.outcome.answer.as_str())).collect();
    assert_eq!(steps, [("add 2 and 3", "5"), ("double 5", "10")], "the replanned step ran, not the first plan's");
    assert_eq!(adds.load(Ordering::SeqCst), 2, "each tool call ran once, though the step was retried");
    assert_eq!(planner.requests().len(), 5, "four answered planner calls and one outage; none repeated");
    assert_eq!(executor.requests().len(), 4);
    let second = &planner.requests()[1];
    assert!(
        second.messages.last().and_then(|m| m.content.as_deref()).is_some_and(|c| c.contains("could not be used")),
        "the unusable plan was sent back with the reason"
    );
    let replan = planner.requests()[2].messages[1].content.clone().unwrap();
    assert!(replan.contains("1. add 2 and 3 -> 5"), "the replanner reads the results: {replan}");
}

#[tokio::test]
async fn the_supervisor_hands_off_to_a_specialist_and_reads_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let lead = Arc::new(ScriptedModel::new(
        "gpt-4o",
        [
            Step::Tools(vec![("h1".into(), "handoff".into(), r#"{"agent": "poet", "task": "a haiku"}"#.into())]),
            Step::Tools(vec![("h2".into(), "handoff".into(), r#"{"agent": "math", "task": "What is 2 + 3?"}"#.into())]),
            Step::Text("The sum is 5.".into()),
        ],
    ));
    let specialist = Arc::new(ScriptedModel::new(
        "gpt-4o-mini",
        [Step::Tools(vec![("c1".into(), "add".into(), r#"{"a": 2, "b": 3}"#.into())]), Step::Text("5".into())],
    ));
    let adds = Arc::new(AtomicU32::new(0));
    let team = Supervisor {
        model: lead.clone(),
        specialists: vec![Specialist {
            name: "math".into(),
            description: "arithmetic with an adding tool".into(),
            agent: math(specialist.clone(), adds.clone()),
        }],
        max_handoffs: 3,
    };
    let out = run_once(Led(team), dir.path()).await.team.unwrap();
    assert_eq!(out.answer, "The sum is 5.");
    assert_eq!(out.handoffs.len(), 2);
    assert!(
        out.handoffs[0].result.as_ref().is_err_and(|e| e.contains("no specialist \"poet\"")),
        "{:?}",
        out.handoffs[0]
    );
    assert_eq!(out.handoffs[1].result, Ok("5".into()));
    assert_eq!(adds.load(Ordering::SeqCst), 1);
    let system = lead.requests()[0].messages[0].content.clone().unwrap();
    assert!(system.contains("- math: arithmetic with an adding tool"), "the lead is told who is on the team");
    let last = lead.requests().pop().unwrap();
    assert!(
        last.messages.iter().any(|m| m.content.as_deref() == Some("5")),
        "the specialist's answer reached the lead"
    );
}
