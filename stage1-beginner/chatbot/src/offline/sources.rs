//! What the offline responder answers from: everything said that memory still holds (the
//! window, the summary's facts, recalled turns), each with who said it and when, when known.
//!
//! A message may be attributed in its text, as transcripts and group chats are written:
//! `[8 May 2023] Caroline: I went to a support group yesterday.` Without attribution a message
//! is the user's own, and its "I" and "my" are the user's.

use super::dates::{self, capitalise};
use chrono::NaiveDate;
use regex::Regex;
use std::sync::LazyLock;

/// One remembered message.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Where memory held it: "earlier message 3", "the conversation summary", …
    pub origin: String,
    /// Who said it; `None` is the user.
    pub speaker: Option<String>,
    pub said_on: Option<NaiveDate>,
    /// The message without its attribution.
    pub text: String,
}

static DATE_PREFIX: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[([^\]]{3,40})\]\s*").expect("valid regex"));
static SPEAKER_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Z][\p{L}'’.-]*(?: [A-Z][\p{L}'’.-]*){0,2}):\s+").expect("valid regex"));

impl Source {
    /// Reads an optional `[date]` and `Name:` in front of `text`.
    pub fn parse(origin: impl Into<String>, text: &str) -> Self {
        let mut rest = text.trim();
        let mut said_on = None;
        if let Some(c) = DATE_PREFIX.captures(rest)
            && let Some(d) = dates::parse_day(&c[1])
        {
            said_on = Some(d);
            rest = &rest[c[0].len()..];
        }
        let mut speaker = None;
        if let Some(c) = SPEAKER_PREFIX.captures(rest) {
            speaker = Some(c[1].to_owned());
            rest = &rest[c[0].len()..];
        }
        Self { origin: origin.into(), speaker, said_on, text: rest.to_owned() }
    }

    /// "you", or the speaker's name.
    pub fn who(&self) -> &str {
        self.speaker.as_deref().unwrap_or("you")
    }
}

/// The message as a reader should see it quoted, from the assistant's side: the user's own "I"
/// becomes "you" ("my name is Priya" is quoted back as "your name is Priya").
pub fn from_assistant_side(source: &Source, sentence: &str) -> String {
    if source.speaker.is_some() {
        return sentence.to_owned();
    }
    const SWAPS: &[(&str, &str)] = &[
        ("i am", "you are"),
        ("i'm", "you're"),
        ("i was", "you were"),
        ("i've", "you've"),
        ("i'll", "you'll"),
        ("i'd", "you'd"),
        ("i", "you"),
        ("me", "you"),
        ("my", "your"),
        ("mine", "yours"),
        ("myself", "yourself"),
        ("we", "you"),
        ("our", "your"),
        ("ours", "yours"),
        ("us", "you"),
    ];
    let words: Vec<&str> = sentence.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    'words: while i < words.len() {
        for (from, to) in SWAPS {
            let n = from.split(' ').count();
            if i + n > words.len() {
                continue;
            }
            let span = words[i..i + n].join(" ");
            let core = span.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '\'');
            if core.eq_ignore_ascii_case(from) {
                let tail = &span[core.len()..];
                let to = if i == 0 { capitalise(to) } else { (*to).to_owned() };
                out.push(format!("{to}{tail}"));
                i += n;
                continue 'words;
            }
        }
        out.push(words[i].to_owned());
        i += 1;
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribution_is_read_and_removed() {
        let s = Source::parse("m1", "[8 May 2023] Caroline: I went to a support group yesterday.");
        assert_eq!(s.speaker.as_deref(), Some("Caroline"));
        assert_eq!(s.said_on, dates::parse_day("8 May 2023"));
        assert_eq!(s.text, "I went to a support group yesterday.");
        let plain = Source::parse("m2", "Remind me: the budget is 2,000 euros.");
        assert_eq!(
            (plain.speaker, plain.said_on, plain.text.as_str()),
            (None, None, "Remind me: the budget is 2,000 euros.")
        );
    }

    #[test]
    fn the_users_own_words_are_quoted_back_from_the_assistants_side() {
        let user = Source::parse("m", "x");
        assert_eq!(
            from_assistant_side(&user, "Hi, my name is Priya and I'm on the billing team."),
            "Hi, your name is Priya and you're on the billing team."
        );
        assert_eq!(from_assistant_side(&user, "I said it to my team, not me."), "You said it to your team, not you.");
        let other = Source::parse("m", "Ann: my dog");
        assert_eq!(from_assistant_side(&other, "my dog"), "my dog");
    }
}
