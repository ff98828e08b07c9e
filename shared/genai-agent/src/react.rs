//! ReAct (reason + act, Yao et al. 2023) on the runtime: the model thinks, calls tools through
//! genai-llm's tool calling, reads their results, and answers; every model call and tool call is
//! journaled through the [`Ctx`], so a resumed agent continues mid-loop without repeating any.
//!
//! Bad model output is fed back, not fatal: an unknown tool, arguments that are not JSON or a
//! tool's own error become the tool message the model reads next; the turn cap ends the loop.

use crate::ctx::Ctx;
use crate::error::StepError;
use async_trait::async_trait;
use genai_llm::{ChatModel, ChatRequest, Message, ToolSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

// ANCHOR: tool
/// A tool an agent may call.
#[async_trait]
pub trait Tool: Send + Sync {
    fn spec(&self) -> ToolSpec;

    /// Runs the tool. `Err` is a message for the model (bad arguments, nothing found), not a
    /// failure of the run.
    async fn call(&self, arguments: Value) -> Result<Value, String>;

    /// Whether the tool changes the world: such calls run through [`Ctx::effect`] with an
    /// idempotency key made of the run, the step and the model's call id.
    fn side_effect(&self) -> bool {
        false
    }
}
// ANCHOR_END: tool

/// A ReAct agent: a model, a system prompt, tools and a cap on model turns.
pub struct ReactAgent {
    pub model: Arc<dyn ChatModel>,
    pub system: String,
    pub tools: Vec<Arc<dyn Tool>>,
    pub max_turns: usize,
}

/// What the loop produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactOutcome {
    pub answer: String,
    /// Tool calls made, in order: name, arguments text, result (or error message).
    pub actions: Vec<Action>,
    pub turns: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub tool: String,
    pub arguments: String,
    pub result: Result<Value, String>,
}

impl ReactAgent {
    // ANCHOR: react_loop
    /// Runs the loop on `task` until the model answers without calling a tool.
    pub async fn run(&self, ctx: &Ctx, task: &str) -> Result<ReactOutcome, StepError> {
        let specs: Vec<ToolSpec> = self.tools.iter().map(|t| t.spec()).collect();
        let mut messages = vec![Message::system(self.system.clone()), Message::user(task)];
        let mut actions = Vec::new();
        for turn in 1..=self.max_turns {
            let mut req = ChatRequest::new(messages.clone());
            req.tools = specs.clone();
            let response = ctx.chat(self.model.as_ref(), &req).await?;
            let calls = response.message.tool_calls.clone();
            if calls.is_empty() {
                return Ok(ReactOutcome { answer: response.text().trim().to_string(), actions, turns: turn });
            }
            messages.push(response.message.clone());
            for call in calls {
                let result = self.act(ctx, &call).await?;
                let content = match &result {
                    Ok(v) => v.to_string(),
                    Err(e) => format!("error: {e}"),
                };
                actions.push(Action { tool: call.name.clone(), arguments: call.arguments.clone(), result });
                messages.push(Message::tool_result(call.id.clone(), content));
            }
        }
        Err(StepError::Budget(format!("the agent made no final answer within {} model turns", self.max_turns)))
    }
    // ANCHOR_END: react_loop

    async fn act(&self, ctx: &Ctx, call: &genai_llm::ToolCall) -> Result<Result<Value, String>, StepError> {
        let Some(tool) = self.tools.iter().find(|t| t.spec().name == call.name) else {
            let known: Vec<String> = self.tools.iter().map(|t| t.spec().name).collect();
            return Ok(Err(format!("unknown tool {:?}; the tools are {}", call.name, known.join(", "))));
        };
        let arguments: Value = match serde_json::from_str(&call.arguments) {
            Ok(v) => v,
            Err(e) => return Ok(Err(format!("the arguments are not JSON ({e}); send a JSON object"))),
        };
        let name = format!("tool:{}", call.name);
        if tool.side_effect() {
            let idem = format!("{}:{}:{}", ctx.run_id(), ctx.step(), call.id);
            ctx.effect(&name, &idem, |_key| async move { Ok(tool.call(arguments).await) }).await
        } else {
            ctx.call(&name, || async move { Ok(tool.call(arguments).await) }).await
        }
    }
}
