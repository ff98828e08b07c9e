//! The offline responder: statements are acknowledged (the store remembers them); questions are
//! answered from what memory holds — the window, the summary and recalled turns — with a short
//! answer first, then the sentence it comes from, who said it and when. When nothing said
//! answers the question, the reply says it was not mentioned. Nothing is invented: every answer
//! is cut from a remembered sentence, or is a date computed from when it was said.
//!
//! Measured on LoCoMo with `chatbot eval locomo` (the crate README has the table).

pub mod answer;
pub mod dates;
pub mod sources;

use crate::responder::TurnContext;
use answer::Question;
use genai_llm::Role;
use sources::Source;

/// The share of a question's (IDF-weighted) terms the best sentence must hold before it is used
/// as an answer. Below it the reply says the thing was not mentioned.
///
/// Production note: chosen on LoCoMo's public conversations (`chatbot eval locomo --threshold`
/// prints the trade-off between answering and declining); the sealed conversations check it.
pub const DEFAULT_THRESHOLD: f64 = 0.3;

/// The sentence that starts every declining reply (LoCoMo's scorer looks for "not mentioned").
pub const NOT_MENTIONED: &str = "That was not mentioned in our conversation, so I can't answer it from memory.";

#[derive(Debug, Clone)]
pub struct OfflineResponder {
    threshold: f64,
}

impl Default for OfflineResponder {
    fn default() -> Self {
        Self { threshold: DEFAULT_THRESHOLD }
    }
}

/// Whether `text` asks something.
pub fn is_question(text: &str) -> bool {
    let t = text.trim().to_lowercase();
    t.ends_with('?')
        || [
            "what", "who", "whom", "whose", "when", "where", "why", "how", "which", "do ", "does ", "did ", "is ",
            "are ", "can ", "could ",
        ]
        .iter()
        .any(|w| t.starts_with(w))
}

impl OfflineResponder {
    pub fn with_threshold(threshold: f64) -> Self {
        Self { threshold }
    }

    /// Everything said that memory still holds, oldest first: summary facts, recalled turns,
    /// then the window (without the new message).
    pub fn sources(turn: &TurnContext) -> Vec<Source> {
        let mut out: Vec<Source> = Vec::new();
        for line in turn.summary.lines().filter_map(|l| l.strip_prefix("- ")) {
            out.push(Source::parse("the conversation summary", line));
        }
        for r in &turn.recalled {
            if let Some(text) = r.strip_prefix("user: ") {
                out.push(Source::parse("a recalled earlier message", text.trim_end_matches('…')));
            }
        }
        let users: Vec<&str> =
            turn.messages.iter().filter(|m| m.role == Role::User).filter_map(|m| m.content.as_deref()).collect();
        for (i, text) in users.iter().enumerate().take(users.len().saturating_sub(1)) {
            out.push(Source::parse(format!("earlier message {}", i + 1), text));
        }
        out
    }

    /// The reply text. The answer comes first, alone on its line; the evidence follows after a
    /// blank line (`chatbot eval locomo` scores the first paragraph of any reply).
    pub fn reply(&self, turn: &TurnContext) -> String {
        if !is_question(&turn.user) {
            return "Noted — I'll keep that in mind. (No language model is configured, so I answer questions from \
                    what was said in this conversation.)"
                .to_owned();
        }
        let sources = Self::sources(turn);
        let mut speakers: Vec<String> = Vec::new();
        for s in sources.iter().filter_map(|s| s.speaker.clone()) {
            if !speakers.contains(&s) {
                speakers.push(s);
            }
        }
        let q = Question::parse(&turn.user, &speakers);
        let ranked = answer::rank(&q, &sources);
        let Some(best) = ranked.first().filter(|b| b.score >= self.threshold) else {
            return format!(
                "{NOT_MENTIONED}\n\n(No language model is configured to answer it otherwise; set OPENAI_BASE_URL and \
                 OPENAI_API_KEY to use one.)"
            );
        };
        let quote = sources::from_assistant_side(best.source, &best.sentence);
        let said = match (&best.source.speaker, best.source.said_on) {
            (Some(who), Some(d)) => format!("{who} said on {}", dates::day(d)),
            (Some(who), None) => format!("{who} said"),
            (None, Some(d)) => format!("You told me on {}", dates::day(d)),
            (None, None) => "You told me".to_owned(),
        };
        let evidence = format!("({said}: “{quote}” — {}.)", best.source.origin);
        match answer::short(&q, &ranked) {
            Some(short) => format!("{}.\n\n{evidence}", short.trim_end_matches('.')),
            None => format!("{quote}\n\n{evidence}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genai_llm::Message;

    fn turn(history: &[&str], user: &str) -> TurnContext {
        let mut messages = vec![Message::system("prompt")];
        for h in history {
            messages.push(Message::user(*h));
            messages.push(Message::assistant("Noted."));
        }
        messages.push(Message::user(user));
        TurnContext { messages, summary: String::new(), recalled: vec![], user: user.to_owned() }
    }

    #[test]
    fn the_users_name_and_facts_come_back_in_their_perspective() {
        let r = OfflineResponder::default();
        let history = [
            "Hi, my name is Priya and I work on the billing team.",
            "The billing system runs on Postgres in Frankfurt.",
        ];
        let name = r.reply(&turn(&history, "What is my name?"));
        assert!(name.starts_with("Priya."), "{name}");
        assert!(name.contains("your name is Priya"), "{name}");
        let place = r.reply(&turn(&history, "Where does the billing system run?"));
        assert!(place.starts_with("Postgres") || place.starts_with("Frankfurt"), "{place}");
        let unknown = r.reply(&turn(&history, "What is the capital of Peru?"));
        assert!(unknown.starts_with(NOT_MENTIONED), "{unknown}");
    }

    #[test]
    fn dates_are_resolved_against_the_day_something_was_said() {
        let r = OfflineResponder::default();
        let history = ["[8 May 2023] Caroline: I went to a LGBTQ support group yesterday and it was so powerful."];
        let when = r.reply(&turn(&history, "When did Caroline go to the LGBTQ support group?"));
        assert!(when.starts_with("7 May 2023."), "{when}");
        assert!(when.contains("Caroline said on 8 May 2023"), "{when}");
    }
}
