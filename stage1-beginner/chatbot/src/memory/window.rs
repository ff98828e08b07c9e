//! The token-budgeted window: the newest part of the history that fits, cut only between units.
//!
//! A *unit* is what must stay together for a provider to accept the conversation: a user
//! message, a plain assistant message, or an assistant message with tool calls together with the
//! tool results that answer it. Trimming drops whole units from the front, so a tool result is
//! never separated from its call, and the system prompt is never dropped (it is outside the
//! window altogether).

use genai_llm::{Message, Role};
use std::ops::Range;

// ANCHOR: units
/// Splits `history` into units: index ranges covering it in order.
pub fn units(history: &[Message]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < history.len() {
        let start = i;
        let is_call = history[i].role == Role::Assistant && !history[i].tool_calls.is_empty();
        i += 1;
        if is_call {
            while i < history.len() && history[i].role == Role::Tool {
                i += 1;
            }
        }
        out.push(start..i);
    }
    out
}
// ANCHOR_END: units

// ANCHOR: fit
/// The start index of the shortest suffix of whole units whose tokens fit `budget`, as counted by
/// `tokens`. The newest unit is always kept (callers make sure it fits; see `TooLong`).
pub fn fit(history: &[Message], budget: u64, tokens: impl Fn(&Message) -> u64) -> usize {
    let mut used = 0u64;
    let mut start = history.len();
    for (n, unit) in units(history).into_iter().rev().enumerate() {
        let cost: u64 = history[unit.clone()].iter().map(&tokens).sum();
        if n > 0 && used + cost > budget {
            break;
        }
        used += cost;
        start = unit.start;
    }
    start
}
// ANCHOR_END: fit

/// Why `history` would be rejected by an OpenAI-compatible provider: a tool result that does not
/// answer a call of the assistant message just before its block, or a call left unanswered.
/// Used on imported histories so that nothing invalid gets into a session.
pub fn ordering_problem(history: &[Message]) -> Option<String> {
    for unit in units(history) {
        let head = &history[unit.start];
        if head.role == Role::Tool {
            return Some(format!("message {} is a tool result with no assistant tool call before it", unit.start + 1));
        }
        let results = &history[unit.start + 1..unit.end];
        for call in &head.tool_calls {
            if !results.iter().any(|r| r.tool_call_id.as_deref() == Some(call.id.as_str())) {
                return Some(format!("message {}: tool call {} has no tool result after it", unit.start + 1, call.id));
            }
        }
        if let Some(r) =
            results.iter().find(|r| !head.tool_calls.iter().any(|c| Some(c.id.as_str()) == r.tool_call_id.as_deref()))
        {
            return Some(format!(
                "a tool result answers {:?}, which the assistant message before it did not call",
                r.tool_call_id
            ));
        }
    }
    None
}
