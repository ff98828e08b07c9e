//! A scripted `ChatModel` for tests of code above the HTTP layer: each call takes the next step
//! of the script (after an optional delay) and every request is recorded.

use futures::stream::{BoxStream, StreamExt};
use genai_llm::{ChatModel, ChatRequest, ChatResponse, FinishReason, LlmError, Message, StreamEvent, Usage};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// One scripted outcome.
#[derive(Debug)]
pub enum Step {
    /// Answer with this text (5 output tokens, 12 input).
    Text(String),
    /// Fail with this error.
    Fail(LlmError),
    /// Call these tools: `(id, name, arguments text)`; arguments may be malformed on purpose.
    Tools(Vec<(String, String, String)>),
    /// Wait (on tokio's clock), then the inner step.
    After(Duration, Box<Step>),
}

/// A fake model. When the script runs out it answers "scripted answer".
#[derive(Debug)]
pub struct ScriptedModel {
    name: String,
    script: Mutex<VecDeque<Step>>,
    seen: Mutex<Vec<ChatRequest>>,
}

impl ScriptedModel {
    pub fn new(name: &str, steps: impl IntoIterator<Item = Step>) -> Self {
        Self { name: name.into(), script: Mutex::new(steps.into_iter().collect()), seen: Mutex::new(Vec::new()) }
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.seen.lock().expect("scripted state").clone()
    }

    async fn next(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.seen.lock().expect("scripted state").push(req.clone());
        let mut step =
            self.script.lock().expect("scripted state").pop_front().unwrap_or(Step::Text("scripted answer".into()));
        loop {
            match step {
                Step::After(d, inner) => {
                    tokio::time::sleep(d).await;
                    step = *inner;
                }
                Step::Fail(e) => return Err(e),
                Step::Tools(calls) => {
                    let calls = calls
                        .into_iter()
                        .map(|(id, name, arguments)| genai_llm::ToolCall { id, name, arguments })
                        .collect();
                    return Ok(ChatResponse {
                        message: Message::tool_calls(calls),
                        finish_reason: FinishReason::ToolCalls,
                        usage: Usage { input_tokens: 12, cached_input_tokens: 0, output_tokens: 5, counted: false },
                        model: self.name.clone(),
                    });
                }
                Step::Text(t) => {
                    return Ok(ChatResponse {
                        message: Message::assistant(t),
                        finish_reason: FinishReason::Stop,
                        usage: Usage { input_tokens: 12, cached_input_tokens: 0, output_tokens: 5, counted: false },
                        model: self.name.clone(),
                    });
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl ChatModel for ScriptedModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn endpoint(&self) -> &str {
        "scripted://"
    }

    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.next(req).await
    }

    async fn stream(&self, req: &ChatRequest) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        let r = self.next(req).await?;
        let delta = StreamEvent::Delta(r.text().to_owned());
        Ok(futures::stream::iter([Ok(delta), Ok(StreamEvent::Done(r))]).boxed())
    }
}
