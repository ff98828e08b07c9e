//! Milestone 6: the cost-optimised pipeline.
//!
//! The evidence for a router comes from real models' recorded answers ([`data`]): which model got
//! each prompt right, and what each call cost. Routers ([`router`]) and a cascade ([`cascade`])
//! are trained on a training split; each one's operating point is chosen there, out of fold
//! ([`curve`]); the test split says what it saves and whether accuracy moved ([`eval`]), with
//! bootstrap intervals and paired tests from genai-eval. [`plot`] draws the curve. [`gateway`]
//! applies a saved policy live; [`rag`] measures the cost levers on the project's own RAG path.

pub mod cascade;
pub mod cli;
pub mod curve;
pub mod data;
pub mod eval;
pub mod features;
pub mod gateway;
pub mod plot;
pub mod policy;
pub mod rag;
pub mod router;
