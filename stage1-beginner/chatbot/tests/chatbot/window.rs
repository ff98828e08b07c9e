//! The window property: whatever the history and the budget, the trimmed context is valid by
//! OpenAI's ordering rules (checked by genai-testkit's independent oracle), within budget unless
//! the newest unit alone exceeds it, starts with the system prompt, and keeps as much as fits.

use chatbot::memory::{message_tokens, system_message, window};
use genai_llm::{Message, ToolCall};
use genai_testkit::ordering_error;
use proptest::prelude::*;
use serde_json::json;

fn body(messages: &[Message]) -> serde_json::Value {
    json!({ "messages": messages })
}

fn call(id: String) -> ToolCall {
    ToolCall { id, name: "lookup".into(), arguments: "{\"q\":\"x\"}".into() }
}

/// One unit of a valid conversation: a user message, a plain reply, or a reply that calls
/// 1–3 tools followed by their results (in any order).
fn unit(n: usize) -> impl Strategy<Value = Vec<Message>> {
    let words = "[a-z]{1,8}( [a-z]{1,8}){0,30}";
    prop_oneof![
        words.prop_map(|t| vec![Message::user(t)]),
        words.prop_map(|t| vec![Message::assistant(t)]),
        (1usize..=3, words, any::<bool>()).prop_map(move |(calls, result, reversed)| {
            let ids: Vec<String> = (0..calls).map(|c| format!("call_{n}_{c}")).collect();
            let mut out = vec![Message::tool_calls(ids.iter().cloned().map(call).collect())];
            let mut results: Vec<Message> =
                ids.iter().map(|id| Message::tool_result(id.clone(), result.clone())).collect();
            if reversed {
                results.reverse();
            }
            out.extend(results);
            out
        }),
    ]
}

fn history() -> impl Strategy<Value = Vec<Message>> {
    (0usize..24).prop_flat_map(|n| (0..n).map(unit).collect::<Vec<_>>()).prop_map(|units| units.concat())
}

fn cost(m: &Message) -> u64 {
    message_tokens("gpt-4o-mini", m)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn trimmed_context_is_valid_within_budget_and_keeps_the_system_prompt(history in history(), budget in 0u64..600) {
        let start = window::fit(&history, budget, cost);
        let mut context = vec![system_message("You are helpful.", "- a fact", &[])];
        context.extend_from_slice(&history[start..]);

        prop_assert_eq!(ordering_error(&body(&context)), None);
        prop_assert_eq!(context[0].role, genai_llm::Role::System);
        prop_assert!(context[0].content.as_deref().unwrap().starts_with("You are helpful."));

        let units = window::units(&history);
        prop_assert!(start == history.len() || units.iter().any(|u| u.start == start), "cut inside a unit");
        let used: u64 = history[start..].iter().map(cost).sum();
        let newest = units.last().map_or(0, |u| history[u.clone()].iter().map(cost).sum::<u64>());
        if newest <= budget {
            prop_assert!(used <= budget, "{used} > {budget}");
        } else {
            prop_assert_eq!(start, units.last().unwrap().start, "an oversize newest unit is kept alone");
        }
        // Maximal: one more unit would not have fitted.
        if let Some(prev) = units.iter().rev().find(|u| u.end == start) {
            let more: u64 = history[prev.clone()].iter().map(cost).sum();
            prop_assert!(used + more > budget);
        }
    }

    /// The product's own check of imported histories agrees with the oracle on arbitrary
    /// (mostly invalid) sequences of messages.
    #[test]
    fn ordering_check_agrees_with_the_oracle(kinds in prop::collection::vec((0u8..4, 0u8..3), 0..12)) {
        let history: Vec<Message> = kinds
            .iter()
            .map(|(kind, id)| match kind {
                0 => Message::user("u"),
                1 => Message::assistant("a"),
                2 => Message::tool_calls((0..=*id).map(|i| call(format!("c{i}"))).collect()),
                _ => Message::tool_result(format!("c{id}"), "r"),
            })
            .collect();
        prop_assert_eq!(window::ordering_problem(&history).is_none(), ordering_error(&body(&history)).is_none());
    }
}

#[test]
fn a_naive_last_n_trim_is_what_the_oracle_rejects() {
    // The bug the window exists to avoid: keeping the last 2 messages orphans a tool result.
    let history = vec![
        Message::user("weather?"),
        Message::tool_calls(vec![call("c1".into())]),
        Message::tool_result("c1", "sunny"),
        Message::assistant("It is sunny."),
    ];
    let naive = &history[2..];
    assert!(ordering_error(&body(naive)).is_some());
    let start = window::fit(&history, cost(&history[2]) + cost(&history[3]), cost);
    assert_eq!(start, 3, "the call and its result leave together");
    assert!(ordering_error(&body(&history[start..])).is_none());
}
