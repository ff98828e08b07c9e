//! The ReAct loop with a scripted model: tool calls, malformed arguments, unknown tools, tool
//! errors and a model outage, all journaled and replayed.

use async_trait::async_trait;
use genai_agent::react::{ReactAgent, ReactOutcome, Tool};
use genai_agent::{Ctx, END, Graph, Node, Outcome, RunLimits, Runtime, StepError, StepPolicy};
use genai_llm::{LlmError, ToolSpec};
use genai_testkit::{ScriptedModel, Step};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

pub(crate) struct Add(pub(crate) Arc<AtomicU32>);

#[async_trait]
impl Tool for Add {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "add".into(),
            description: "Adds two numbers.".into(),
            parameters: json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}),
        }
    }
    async fn call(&self, args: Value) -> Result<Value, String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        match (args["a"].as_f64(), args["b"].as_f64()) {
            (Some(a), Some(b)) => Ok(json!(a + b)),
            _ => Err("a and b must be numbers".into()),
        }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
struct S {
    out: Option<ReactOutcome>,
}

struct Agent(ReactAgent);

#[async_trait]
impl Node<S> for Agent {
    async fn run(&self, s: &mut S, ctx: &Ctx) -> Result<(), StepError> {
        s.out = Some(self.0.run(ctx, "What is 2 + 3?").await?);
        Ok(())
    }
}

fn runtime(model: Arc<ScriptedModel>, adds: Arc<AtomicU32>, journal: Arc<dyn genai_agent::Journal>) -> Runtime<S> {
    let agent = ReactAgent { model, system: "Use the tools.".into(), tools: vec![Arc::new(Add(adds))], max_turns: 5 };
    let policy = StepPolicy {
        retry: genai_core::backoff::Backoff {
            max_attempts: 3,
            base: std::time::Duration::from_millis(1),
            ..Default::default()
        },
        ..StepPolicy::default()
    };
    let graph =
        Graph::builder("react", 1, "agent").node("agent", Agent(agent)).edge("agent", END).policy("agent", policy);
    Runtime::new(Arc::new(graph.build().unwrap()), journal, RunLimits::default())
}

#[tokio::test]
async fn bad_tool_calls_are_fed_back_and_an_outage_retries_without_repeating_tools() {
    let dir = tempfile::tempdir().unwrap();
    let journal = crate::flow::sqlite(dir.path()).await;
    let model = Arc::new(ScriptedModel::new(
        "gpt-4o-mini",
        [
            Step::Tools(vec![("c1".into(), "multiply".into(), "{}".into())]),
            Step::Tools(vec![("c2".into(), "add".into(), "{a: 2".into())]),
            Step::Tools(vec![("c3".into(), "add".into(), r#"{"a": "two", "b": 3}"#.into())]),
            Step::Tools(vec![("c4".into(), "add".into(), r#"{"a": 2, "b": 3}"#.into())]),
            // The model goes down after the tool ran: the step is retried, the journal replays
            // the four model turns and the tool calls, and only the failed turn is asked again.
            Step::Fail(LlmError::Http { status: 503, retry_after: None, body: "overloaded".into() }),
            Step::Text("2 + 3 = 5".into()),
        ],
    ));
    let adds = Arc::new(AtomicU32::new(0));
    let rt = runtime(model.clone(), adds.clone(), journal);
    let id = rt.start(None, &S::default()).await.unwrap();
    let Outcome::Finished(s) = rt.drive(&id).await.unwrap() else { panic!() };
    let out = s.out.unwrap();
    assert_eq!(out.answer, "2 + 3 = 5");
    let results: Vec<String> = out
        .actions
        .iter()
        .map(|a| match &a.result {
            Ok(v) => v.to_string(),
            Err(e) => e.split(';').next().unwrap().split(" (").next().unwrap().to_string(),
        })
        .collect();
    assert_eq!(results, ["unknown tool \"multiply\"", "the arguments are not JSON", "a and b must be numbers", "5.0"]);
    assert_eq!(adds.load(Ordering::SeqCst), 2, "the tool ran for the two well-formed calls, once each");
    assert_eq!(model.requests().len(), 6, "five turns answered, one outage, no turn repeated");
    let last = model.requests().pop().unwrap();
    assert!(last.messages.iter().any(|m| m.content.as_deref() == Some("5.0")), "the tool result reached the model");
}

#[tokio::test]
async fn the_turn_cap_ends_a_model_that_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    let journal = crate::flow::sqlite(dir.path()).await;
    let calls = (0..10).map(|i| Step::Tools(vec![(format!("c{i}"), "add".into(), r#"{"a":1,"b":1}"#.into())]));
    let model = Arc::new(ScriptedModel::new("gpt-4o-mini", calls));
    let rt = runtime(model, Arc::default(), journal);
    let id = rt.start(None, &S::default()).await.unwrap();
    let out = rt.drive(&id).await.unwrap();
    assert!(matches!(&out, Outcome::Failed { class: genai_core::ErrorClass::Budget, .. }), "{out:?}");
}

#[tokio::test]
async fn the_run_budget_in_dollars_stops_the_agent_and_counts_every_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let journal = crate::flow::sqlite(dir.path()).await;
    let calls = (0..10).map(|i| Step::Tools(vec![(format!("c{i}"), "add".into(), r#"{"a":1,"b":1}"#.into())]));
    let model = Arc::new(ScriptedModel::new("gpt-4o-mini", calls));
    let agent = ReactAgent {
        model: model.clone(),
        system: "s".into(),
        tools: vec![Arc::new(Add(Arc::default()))],
        max_turns: 50,
    };
    let graph = Graph::builder("react", 1, "agent").node("agent", Agent(agent)).edge("agent", END).build().unwrap();
    // 12 input + 5 output tokens per turn; a cap of 40 tokens allows three turns.
    let limits = RunLimits { max_tokens: Some(40), ..RunLimits::default() };
    let rt = Runtime::new(Arc::new(graph), journal, limits);
    let id = rt.start(None, &S::default()).await.unwrap();
    let out = rt.drive(&id).await.unwrap();
    assert!(
        matches!(&out, Outcome::Failed { class: genai_core::ErrorClass::Budget, error } if error.contains("tokens")),
        "{out:?}"
    );
    assert_eq!(model.requests().len(), 3);
    assert_eq!(rt.ledger().calls(), 3, "each model call is on the run's genai-llm ledger");
}
