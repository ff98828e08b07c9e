use crate::journal::JournalError;
use genai_core::{Classify, ErrorClass};
use serde_json::Value;

/// How a step ended when it did not complete. The runtime decides what happens next from the
/// variant: retry with backoff, park for a human, fall back, or fail the run.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Not a failure: the step asked a human and the run parks until answered.
    #[error("waiting for a human: {key}")]
    Interrupt { key: String, request: Value },
    /// May succeed if tried again (a model outage, a timeout, a busy database).
    #[error("transient failure: {0}")]
    Transient(String),
    /// Will fail the same way again (bad tool arguments, an unknown tool, a broken invariant).
    #[error("step failed: {0}")]
    Permanent(String),
    /// The run's budget of steps, tokens or dollars is spent.
    #[error("budget exhausted: {0}")]
    Budget(String),
    /// The code asked for calls in a different order than the journal recorded: the node is
    /// not deterministic given its state and recorded results, so replay cannot be trusted.
    #[error("replay diverged at {key}: the journal recorded {recorded}, the code asked for {asked}")]
    Nondeterminism { key: String, recorded: String, asked: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl StepError {
    /// A model error mapped by its own classification (a 429 or 5xx is transient). A tool call
    /// whose arguments are not JSON is transient too: the bad reply is not journaled, so the
    /// step's retry asks the model again instead of failing the run on one bad sample.
    pub fn from_llm(e: &genai_llm::LlmError) -> Self {
        if matches!(e, genai_llm::LlmError::InvalidToolArguments { .. }) {
            return Self::Transient(e.to_string());
        }
        match e.class() {
            ErrorClass::Retryable => Self::Transient(e.to_string()),
            ErrorClass::Budget => Self::Budget(e.to_string()),
            ErrorClass::InvalidInput | ErrorClass::Permanent => Self::Permanent(e.to_string()),
        }
    }
}

impl Classify for StepError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Transient(_) => ErrorClass::Retryable,
            Self::Budget(_) => ErrorClass::Budget,
            Self::Journal(e) => e.class(),
            Self::Interrupt { .. } | Self::Permanent(_) | Self::Nondeterminism { .. } => ErrorClass::Permanent,
        }
    }
}

/// Why a runtime operation (start, drive, resume, fork) failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("run {run} belongs to workflow {found}, not {expected}")]
    WrongWorkflow { run: String, expected: String, found: String },
    /// The journal was written by a newer state version, or no migration covers the gap.
    #[error("run {run}: state version {found} cannot be brought to {expected}: {reason}")]
    Version { run: String, found: u32, expected: u32, reason: String },
    #[error("run {run}: the state does not decode")]
    State {
        run: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("run {0} is not waiting for an answer")]
    NotParked(String),
    #[error("run {run} has no checkpoint at step {step}")]
    NoCheckpoint { run: String, step: u64 },
    #[error("the journal of run {run} is malformed: {reason}")]
    Malformed { run: String, reason: String },
}

impl Classify for RuntimeError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Journal(e) => e.class(),
            Self::WrongWorkflow { .. } | Self::NotParked(_) | Self::NoCheckpoint { .. } => ErrorClass::InvalidInput,
            Self::Version { .. } | Self::State { .. } | Self::Malformed { .. } => ErrorClass::Permanent,
        }
    }
}
