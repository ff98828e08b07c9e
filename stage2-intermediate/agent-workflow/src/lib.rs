//! Milestone 5: a research workflow of specialised agents on genai-agent's durable runtime.
//!
//! ```text
//! plan ─▶ research ─▶ analyse ─▶ write ─▶ review ─┬─▶ write   (unsupported citation, ≤ 2 times)
//!                                  (model down) └─▶ write_offline ─▶ review
//!                                                  ├─▶ publish (human approval, then exactly once)
//!                                                  └─▶ end
//! ```
//!
//! Every step is journaled (SQLite by default, PostgreSQL with `DATABASE_URL`): a run killed at
//! any point resumes where it was, a parked approval survives restarts, and the report is
//! published at most once.

pub mod agents;
pub mod api;
pub mod bench;
pub mod cli;
pub mod corpus;
pub mod crash;
pub mod eval;
pub mod service;
pub mod state;
pub mod tools;

pub use api::{router, serve};
pub use service::Service;

use agents::{
    analyst::Analyst, planner::Planner, publisher::Publisher, researcher, reviewer::Reviewer, writer::Writer,
};
use corpus::Corpus;
use genai_agent::{END, Graph, GraphError, StepPolicy};
use genai_llm::ChatModel;
use state::Research;
use std::sync::Arc;

/// The workflow's name in journals.
pub const WORKFLOW: &str = "research";
/// The state's schema version.
pub const VERSION: u32 = 1;
/// How often the reviewer may send a draft back.
pub const MAX_REVISIONS: u32 = 2;

// ANCHOR: graph
/// The research graph over `corpus`; `model` switches the writer from extractive to a model.
pub fn research_graph(
    corpus: Arc<Corpus>,
    model: Option<Arc<dyn ChatModel>>,
    strategy: researcher::Strategy,
) -> Result<Graph<Research>, GraphError> {
    let fallback = model.is_some().then(|| "write_offline".to_string());
    Graph::builder(WORKFLOW, VERSION, "plan")
        .node("plan", Planner)
        .node("research", researcher::Researcher { corpus: corpus.clone(), strategy })
        .node("analyse", Analyst { model: model.clone(), corpus: corpus.clone() })
        .node("write", Writer { model, read: 4 })
        // The fallback agent: when the model fails for good, the extractive writer drafts.
        .node("write_offline", Writer { model: None, read: 4 })
        .node("review", Reviewer)
        .node("publish", Publisher)
        .edge("plan", "research")
        .edge("research", "analyse")
        .edge("analyse", "write")
        .edge("write", "review")
        .edge("write_offline", "review")
        .policy("write", StepPolicy { fallback, ..StepPolicy::default() })
        .branch("review", &["write", "publish", END], |s: &Research| {
            let supported = s.review.as_ref().is_some_and(|r| r.supported);
            if !supported && s.revisions <= MAX_REVISIONS {
                "write".into()
            } else if s.publish.is_some() {
                "publish".into()
            } else {
                END.into()
            }
        })
        .edge("publish", END)
        // The human wait is a durable park, not a running step: this bounds only the write or POST.
        .policy("publish", StepPolicy { timeout: std::time::Duration::from_secs(60), ..StepPolicy::default() })
        .build()
}
// ANCHOR_END: graph
