//! A fallback chain: try the primary, then the next model or provider, and so on; record why each
//! step was taken. When every step fails the caller gets [`LlmError::FallbackExhausted`] with
//! the whole story and runs its own offline path.

use crate::{ChatModel, ChatRequest, ChatResponse, LlmError, StreamEvent};
use async_trait::async_trait;
use futures::stream::BoxStream;
use genai_core::{Classify, ErrorClass};
use std::sync::{Arc, Mutex};

/// One step taken, and why the chain moved on from it (`None` for the step that answered).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FallbackStep {
    pub model: String,
    pub endpoint: String,
    pub failed_with: Option<String>,
}

/// Models tried in order. Each step is usually a `Resilient` with its own retries and breaker.
#[derive(Debug)]
pub struct FallbackChain {
    steps: Vec<Arc<dyn ChatModel>>,
    trace: Mutex<Vec<Vec<FallbackStep>>>,
}

impl FallbackChain {
    pub fn new(steps: Vec<Arc<dyn ChatModel>>) -> Self {
        Self { steps, trace: Mutex::new(Vec::new()) }
    }

    /// The steps of every call so far, in order (for logs, the ledger and tests).
    pub fn traces(&self) -> Vec<Vec<FallbackStep>> {
        self.trace.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn push(&self, steps: Vec<FallbackStep>) {
        self.trace.lock().unwrap_or_else(|p| p.into_inner()).push(steps);
    }
}

/// Errors that another model cannot fix either: the request itself, or the caller's budget.
fn final_for_chain(e: &LlmError) -> bool {
    matches!(e.class(), ErrorClass::Budget) || matches!(e, LlmError::InvalidRequest { .. })
}

impl FallbackChain {
    /// Tries `call` on each step in order until one succeeds or an error no other model can fix.
    async fn run<T, F, Fut>(&self, call: F) -> Result<T, LlmError>
    where
        F: Fn(Arc<dyn ChatModel>) -> Fut,
        Fut: Future<Output = Result<T, LlmError>>,
    {
        let mut taken = Vec::new();
        let mut errors = Vec::new();
        for step in &self.steps {
            let result = call(step.clone()).await;
            taken.push(FallbackStep {
                model: step.name().into(),
                endpoint: step.endpoint().into(),
                failed_with: result.as_ref().err().map(ToString::to_string),
            });
            match result {
                Ok(value) => {
                    self.push(taken);
                    return Ok(value);
                }
                Err(e) => {
                    tracing::warn!(model = step.name(), error = %e, "fallback step failed");
                    let stop = final_for_chain(&e);
                    errors.push((step.name().to_owned(), e));
                    if stop {
                        break;
                    }
                }
            }
        }
        self.push(taken);
        Err(LlmError::FallbackExhausted(errors))
    }
}

#[async_trait]
impl ChatModel for FallbackChain {
    fn name(&self) -> &str {
        self.steps.first().map_or("fallback-chain", |s| s.name())
    }

    fn endpoint(&self) -> &str {
        self.steps.first().map_or("", |s| s.endpoint())
    }

    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.run(|step| async move { step.chat(req).await }).await
    }

    async fn stream(&self, req: &ChatRequest) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        self.run(|step| async move { step.stream(req).await }).await
    }
}
