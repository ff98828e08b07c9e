//! The research run's state: what every agent reads and writes, journaled after each step.
//! Version 1; a field added later comes with a migration (see `graph`).

use crate::corpus::Passage;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Research {
    pub question: String,
    /// The corpus folder the run searches (so `resume` needs only the run id).
    #[serde(default)]
    pub corpus: Option<String>,
    pub plan: Option<Plan>,
    /// Every search the researcher made, in order.
    pub hops: Vec<Hop>,
    /// The passages found, best first (what the writer reads and the evaluation scores).
    pub evidence: Vec<Passage>,
    pub facts: Vec<Fact>,
    pub draft: Option<Draft>,
    pub review: Option<Review>,
    /// How often the reviewer sent the draft back.
    pub revisions: u32,
    /// Where to publish the report once a human approves; `None`: no publishing step.
    pub publish: Option<Target>,
    pub published: Option<String>,
    /// Human decisions, for the report's audit trail.
    pub decisions: Vec<String>,
}

/// The planner's decomposition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub kind: Kind,
    /// The entities a comparison is between (two), empty for a bridge question.
    pub entities: Vec<String>,
    /// What to look up first.
    pub queries: Vec<String>,
    /// The comparison's direction, when the question says it.
    pub compare: Option<Compare>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The answer is about an entity found through another one ("the director of the film that…").
    Bridge,
    /// The answer is one of two named entities ("which is older, A or B?").
    Comparison,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// first, earlier, older.
    Earlier,
    /// later, younger, more recent.
    Later,
    /// more, larger, higher, longer, bigger.
    More,
    /// fewer, smaller, lower, shorter.
    Less,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    pub query: String,
    /// Why this query: the question, an entity, or the bridge found in an earlier hop.
    pub reason: String,
    pub titles: Vec<String>,
}

/// Something the analyst established with a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub tool: String,
    pub input: String,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    /// The short answer.
    pub answer: String,
    /// The report: the answer and its supporting sentences with `[n]` markers.
    pub report: String,
    pub citations: Vec<Cite>,
    /// `extractive` or `llm:<model>`.
    pub engine: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cite {
    pub number: usize,
    pub title: String,
    pub quote: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub supported: bool,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A file in this folder, named by the run (an existing file is never overwritten).
    File { dir: String },
    /// A POST with an `Idempotency-Key` header.
    Webhook { url: String },
}
