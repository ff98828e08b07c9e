//! genai-agent's tests: the journal conformance suite on both backends, the runtime's
//! guarantees (replay, effects at most once, interrupts across restarts, retries, timeouts,
//! fallbacks, compensation, budgets, migrations, time travel, fan-out), replay under crashes at
//! every point (proptest), and the ReAct loop against a scripted model.

mod flow;
mod journal;
mod react;
mod replay;
mod runtime;
