//! Two more agent patterns on the runtime, both built from [`ReactAgent`] and the [`Ctx`], so
//! every model and tool call they make is journaled and replayed like any other:
//!
//! - [`PlanExecute`]: a planner writes the steps, a ReAct executor carries out one step at a
//!   time, and a replanner reads the results and either answers or rewrites the remaining steps
//!   (Wang et al. 2023, "Plan-and-Solve"; LangGraph documents the shape but ships no prebuilt).
//! - [`Supervisor`]: a lead model hands self-contained tasks to named specialists (each a ReAct
//!   agent with its own tools) through a `handoff` tool and answers when it has what it needs.
//!
//! Bad model output is fed back, as in ReAct: a plan that is not JSON is asked for again once
//! with the parse error, an unknown specialist is a tool error the lead reads. Loops are capped.

use crate::ctx::Ctx;
use crate::error::StepError;
use crate::react::{ReactAgent, ReactOutcome};
use genai_llm::{ChatModel, ChatRequest, Message, ToolSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

const PLANNER: &str = include_str!("../prompts/planner.md");
const REPLANNER: &str = include_str!("../prompts/replanner.md");
const SUPERVISOR: &str = include_str!("../prompts/supervisor.md");

/// Planner, executor, replanner.
pub struct PlanExecute {
    pub planner: Arc<dyn ChatModel>,
    pub executor: ReactAgent,
    /// Steps executed at most (each followed by a replanning call).
    pub max_steps: usize,
}

/// One executed step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Executed {
    pub step: String,
    pub outcome: ReactOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOutcome {
    pub answer: String,
    /// The first plan, then each replanned remainder.
    pub plans: Vec<Vec<String>>,
    pub executed: Vec<Executed>,
}

/// What a planner or replanner decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Steps(Vec<String>),
    Answer(String),
}

/// Reads `{"steps": [...]}` or `{"answer": "..."}` out of a model's reply (code fences and
/// prose around the object are tolerated).
pub fn parse_decision(text: &str) -> Result<Decision, String> {
    let (Some(start), Some(end)) = (text.find('{'), text.rfind('}')) else {
        return Err("no JSON object in the reply".into());
    };
    let v: Value = serde_json::from_str(text.get(start..=end).unwrap_or_default()).map_err(|e| e.to_string())?;
    if let Some(answer) = v.get("answer").and_then(Value::as_str).filter(|a| !a.trim().is_empty()) {
        return Ok(Decision::Answer(answer.trim().to_string()));
    }
    let steps: Vec<String> = v
        .get("steps")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter().filter_map(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
        })
        .unwrap_or_default();
    if steps.is_empty() {
        Err("the object has neither a non-empty \"steps\" list nor an \"answer\"".into())
    } else {
        Ok(Decision::Steps(steps))
    }
}

impl PlanExecute {
    pub async fn run(&self, ctx: &Ctx, task: &str) -> Result<PlanOutcome, StepError> {
        let mut out = PlanOutcome { answer: String::new(), plans: Vec::new(), executed: Vec::new() };
        let mut steps = match self.decide(ctx, PLANNER, &format!("Task: {task}")).await? {
            Decision::Answer(a) => return Ok(PlanOutcome { answer: a, ..out }),
            Decision::Steps(s) => s,
        };
        out.plans.push(steps.clone());
        while out.executed.len() < self.max_steps {
            let step = steps.remove(0);
            let done = self.results(&out.executed);
            let outcome = self.executor.run(ctx, &format!("Overall task: {task}\n{done}\nYour step: {step}")).await?;
            out.executed.push(Executed { step, outcome });
            let brief = format!(
                "Task: {task}\nSteps still planned: {}\n{}",
                serde_json::to_string(&steps).unwrap_or_default(),
                self.results(&out.executed)
            );
            match self.decide(ctx, REPLANNER, &brief).await? {
                Decision::Answer(a) => return Ok(PlanOutcome { answer: a, ..out }),
                Decision::Steps(s) => {
                    out.plans.push(s.clone());
                    steps = s;
                }
            }
        }
        Err(StepError::Budget(format!("no answer after {} executed steps", self.max_steps)))
    }

    fn results(&self, executed: &[Executed]) -> String {
        let mut s = String::from("Results so far:");
        if executed.is_empty() {
            s.push_str(" none");
        }
        for (i, e) in executed.iter().enumerate() {
            s.push_str(&format!("\n{}. {} -> {}", i + 1, e.step, e.outcome.answer));
        }
        s
    }

    /// Asks for a decision; a reply that does not parse is asked again once, with the error.
    async fn decide(&self, ctx: &Ctx, system: &str, user: &str) -> Result<Decision, StepError> {
        let mut messages = vec![Message::system(system), Message::user(user)];
        let mut last = String::new();
        for _ in 0..2 {
            let reply = ctx.chat(self.planner.as_ref(), &ChatRequest::new(messages.clone())).await?;
            match parse_decision(reply.text()) {
                Ok(d) => return Ok(d),
                Err(e) => {
                    last = e.clone();
                    messages.push(reply.message.clone());
                    messages.push(Message::user(format!(
                        "That reply could not be used ({e}). Reply with the JSON object only."
                    )));
                }
            }
        }
        Err(StepError::Permanent(format!("the planner gave no usable plan: {last}")))
    }
}

/// A named specialist the supervisor can hand work to.
pub struct Specialist {
    pub name: String,
    /// What it is good at, shown to the supervisor.
    pub description: String,
    pub agent: ReactAgent,
}

/// A lead model that hands off to specialists.
pub struct Supervisor {
    pub model: Arc<dyn ChatModel>,
    pub specialists: Vec<Specialist>,
    /// Handoffs at most; the lead's turns are capped at one more.
    pub max_handoffs: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    pub to: String,
    pub task: String,
    /// The specialist's answer, or why the handoff was refused.
    pub result: Result<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorOutcome {
    pub answer: String,
    pub handoffs: Vec<Handoff>,
}

impl Supervisor {
    pub async fn run(&self, ctx: &Ctx, task: &str) -> Result<SupervisorOutcome, StepError> {
        let names: Vec<&str> = self.specialists.iter().map(|s| s.name.as_str()).collect();
        let mut system = SUPERVISOR.to_string();
        for s in &self.specialists {
            system.push_str(&format!("- {}: {}\n", s.name, s.description));
        }
        let tool = ToolSpec {
            name: "handoff".into(),
            description: "Give a specialist a self-contained task; returns their answer.".into(),
            parameters: json!({
                "type": "object",
                "properties": {"agent": {"type": "string", "enum": names}, "task": {"type": "string"}},
                "required": ["agent", "task"]
            }),
        };
        let mut messages = vec![Message::system(system), Message::user(task)];
        let mut handoffs = Vec::new();
        for _ in 0..=self.max_handoffs {
            let mut req = ChatRequest::new(messages.clone());
            req.tools = vec![tool.clone()];
            let reply = ctx.chat(self.model.as_ref(), &req).await?;
            let calls = reply.message.tool_calls.clone();
            if calls.is_empty() {
                return Ok(SupervisorOutcome { answer: reply.text().trim().to_string(), handoffs });
            }
            messages.push(reply.message.clone());
            for call in calls {
                let result = self.hand_off(ctx, &call.name, &call.arguments).await?;
                let (to, task) = handoff_args(&call.arguments);
                messages.push(Message::tool_result(
                    call.id.clone(),
                    result.clone().unwrap_or_else(|e| format!("error: {e}")),
                ));
                handoffs.push(Handoff { to, task, result });
            }
            if handoffs.len() >= self.max_handoffs {
                // One last turn to answer, without the tool.
                let reply = ctx.chat(self.model.as_ref(), &ChatRequest::new(messages.clone())).await?;
                return Ok(SupervisorOutcome { answer: reply.text().trim().to_string(), handoffs });
            }
        }
        Err(StepError::Budget(format!("the supervisor made no answer within {} handoffs", self.max_handoffs)))
    }

    async fn hand_off(&self, ctx: &Ctx, tool: &str, arguments: &str) -> Result<Result<String, String>, StepError> {
        if tool != "handoff" {
            return Ok(Err(format!("unknown tool {tool:?}; the only tool is handoff")));
        }
        let (to, task) = handoff_args(arguments);
        let Some(s) = self.specialists.iter().find(|s| s.name == to) else {
            let names: Vec<&str> = self.specialists.iter().map(|s| s.name.as_str()).collect();
            return Ok(Err(format!("no specialist {to:?}; choose one of {}", names.join(", "))));
        };
        if task.trim().is_empty() {
            return Ok(Err("the handoff needs a non-empty \"task\"".into()));
        }
        Ok(Ok(s.agent.run(ctx, &task).await?.answer))
    }
}

fn handoff_args(arguments: &str) -> (String, String) {
    let v: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    (field("agent"), field("task"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_parse_from_fenced_or_chatty_replies() {
        assert_eq!(
            parse_decision("Sure:\n```json\n{\"steps\": [\"look up A\", \" \", \"compare\"]}\n```"),
            Ok(Decision::Steps(vec!["look up A".into(), "compare".into()]))
        );
        assert_eq!(parse_decision(r#"{"answer": " 42 "}"#), Ok(Decision::Answer("42".into())));
        assert!(parse_decision("I think we should first look things up.").is_err());
        assert!(parse_decision(r#"{"steps": []}"#).is_err());
        assert!(parse_decision(r#"{"steps": "#).is_err());
    }
}
