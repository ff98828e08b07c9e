//! A durable workflow runtime for agents.
//!
//! ```text
//! Graph<S> (nodes, edges, fan-out, policies, migrations)
//!    │ Runtime::drive(run)
//!    ▼
//! fold the journal ─▶ run the next node with a Ctx ─▶ append checkpoint / interrupt / failure
//!                        │ ctx.call / ctx.effect / ctx.chat / ctx.interrupt
//!                        ▼
//!                     recorded? return the journaled result : do it, then journal it
//! ```
//!
//! - Every step's outcome is appended to a [`Journal`] before the run moves on; resuming after a
//!   crash replays the journal, and completed calls return their recorded results.
//! - Side effects go through [`Ctx::effect`] with an idempotency key: at most once.
//! - [`Ctx::interrupt`] parks a run durably for a human; [`Runtime::resume`] answers it.
//! - [`Runtime::fork`] starts a new run from any checkpoint (time travel).
//! - [`react`] is a ReAct agent loop on top (tool calling through genai-llm, step cap);
//!   [`patterns`] adds plan-and-execute and a supervisor that hands off to specialists.

mod ctx;
mod error;
pub mod event;
mod graph;
pub mod journal;
pub mod patterns;
pub mod react;
mod runtime;

pub use ctx::Ctx;
pub use error::{RuntimeError, StepError};
pub use event::{Event, RunStatus, Spend};
pub use graph::{Builder, END, FnNode, Graph, GraphError, GraphSpec, Node, StepPolicy};
pub use journal::{Journal, JournalError, PostgresJournal, RunInfo, SqliteJournal};
pub use runtime::{CheckpointInfo, Outcome, RunLimits, Runtime, new_id};
