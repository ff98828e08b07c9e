//! genai-agent's tests: the journal conformance suite on both backends, the runtime's
//! guarantees (replay, effects at most once, interrupts across restarts, retries, timeouts,
//! fallbacks, compensation, budgets, migrations, time travel, fan-out), replay under crashes at
//! every point (proptest), and the ReAct, plan-and-execute and supervisor agents against
//! scripted models.

mod flow;
mod journal;
mod patterns;
mod react;
mod replay;
mod runtime;
