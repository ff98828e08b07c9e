//! The journal's events: what a run did, in order. A run's state at any point is a fold over
//! them ([`crate::runtime`]), so the journal is the only truth and nothing is kept in memory
//! between steps.

use genai_core::ErrorClass;
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ANCHOR: event
/// One journal entry. Serialised as JSON with a `type` tag; the format is versioned by the
/// workflow's state version (in `started` and `checkpoint`), not by the event schema, which only
/// ever gains optional fields (ADR 0024).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The run's first event: its workflow, the state version and the input state.
    Started {
        workflow: String,
        version: u32,
        state: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        forked_from: Option<ForkedFrom>,
    },
    /// A step (one node, or one fan-out of nodes) begins an attempt.
    StepStarted { step: u64, node: String, attempt: u32 },
    /// A model or tool call completed; on replay its output is returned instead of calling again.
    Call {
        step: u64,
        key: String,
        name: String,
        output: Value,
        #[serde(default, skip_serializing_if = "Spend::is_zero")]
        spend: Spend,
    },
    /// A side effect is about to be executed with this idempotency key. Written before the
    /// effect, so a crash between the two is seen on resume (the effect is retried with the
    /// same key, which the receiving system deduplicates).
    EffectIntent { step: u64, key: String, name: String, idempotency_key: String },
    /// The step asked a human; the run is parked until a `resumed` event answers it.
    Interrupted { step: u64, key: String, request: Value },
    /// The answer to an interrupt (approve, reject, an edited action, a reply).
    Resumed { step: u64, key: String, response: Value },
    /// An attempt failed. `retry_in_ms` is set when another attempt follows.
    StepFailed {
        step: u64,
        node: String,
        attempt: u32,
        error: String,
        class: ErrorClass,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<u64>,
    },
    /// The node's compensation hook ran after it failed for good.
    Compensated { step: u64, node: String, ok: bool },
    /// A step finished: the state after it and the node that runs next (`None`: the run ends).
    Checkpoint { step: u64, node: String, version: u32, state: Value, next: Option<String> },
    /// The state was migrated to the code's version before the run went on.
    Migrated { from: u32, to: u32, state: Value },
    /// The run ended with this state.
    Finished { state: Value },
    /// The run ended without finishing.
    Failed { error: String, class: ErrorClass },
}
// ANCHOR_END: event

/// Where a forked run came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkedFrom {
    pub run: String,
    pub step: u64,
}

/// What a call cost. Replayed calls count again when a run's meter is rebuilt from its journal,
/// so a resumed run's budget includes everything spent before the crash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub usd: f64,
}

impl Spend {
    pub fn is_zero(&self) -> bool {
        self.input_tokens == 0 && self.output_tokens == 0 && self.usd == 0.0
    }

    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// Where a run stands, as the last status-changing event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Waiting for a human's answer.
    Parked,
    Finished,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Parked => "parked",
            Self::Finished => "finished",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "parked" => Self::Parked,
            "finished" => Self::Finished,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

impl Event {
    /// The run's status after this event, when the event changes it.
    pub fn status(&self) -> Option<RunStatus> {
        match self {
            Self::Started { .. } | Self::Resumed { .. } => Some(RunStatus::Running),
            Self::Interrupted { .. } => Some(RunStatus::Parked),
            Self::Finished { .. } => Some(RunStatus::Finished),
            Self::Failed { .. } => Some(RunStatus::Failed),
            _ => None,
        }
    }

    /// The short name stored beside the body (`started`, `call`...), for queries and listings.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Started { .. } => "started",
            Self::StepStarted { .. } => "step_started",
            Self::Call { .. } => "call",
            Self::EffectIntent { .. } => "effect_intent",
            Self::Interrupted { .. } => "interrupted",
            Self::Resumed { .. } => "resumed",
            Self::StepFailed { .. } => "step_failed",
            Self::Compensated { .. } => "compensated",
            Self::Checkpoint { .. } => "checkpoint",
            Self::Migrated { .. } => "migrated",
            Self::Finished { .. } => "finished",
            Self::Failed { .. } => "failed",
        }
    }
}
