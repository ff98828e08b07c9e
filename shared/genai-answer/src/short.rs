//! A short answer inside the supporting sentence, by question type: a date or year for "when",
//! a quantity for "how many/much", a name for "who", a place for "where", otherwise the run of
//! words the question does not already contain, nearest to the words it does.
//!
//! A heuristic, not a reader model: it makes the shown answer crisper and gives EM/F1 a span to
//! score; the full sentence stays visible and cited.

use genai_retrieval::terms;
use regex::Regex;
use std::collections::HashSet;
use std::sync::LazyLock;

const MONTHS: &str = "January|February|March|April|May|June|July|August|September|October|November|December";

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"\b(?:(?:{MONTHS})\s+\d{{1,2}}(?:,\s*\d{{4}})?|\d{{1,2}}\s+(?:{MONTHS})(?:\s+\d{{4}})?|(?:{MONTHS})\s+\d{{4}}|(?:1[0-9]|20)\d{{2}}s?)\b"
    ))
    .expect("valid regex")
});
static QUANTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\$|£|€)?\b\d[\d,.]*(?:\s*(?:%|percent|million|billion|thousand|hundred))?(?:\s+[a-z]+)?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|thousand|dozens?)\b(?:\s+[a-z]+)?")
        .expect("valid regex")
});
static FREQUENCY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:every\s+(?:\w+\s+)?(?:second|minute|hour|day|week|month|quarter|year|decade)s?|daily|weekly|fortnightly|monthly|quarterly|yearly|annually|hourly|(?:once|twice|\w+\s+times)\s+(?:a|an|per|each)\s+\w+)\b")
        .expect("valid regex")
});
/// A capitalised name span ("Greenwich Village", "Charles de Gaulle").
pub static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Z][\p{L}'’.-]*(?:\s+(?:(?:of|de|van|von|der|la|le|the|and)\s+)?[A-Z][\p{L}'’.-]*)*")
        .expect("valid regex")
});

const BOUNDARY: &[&str] =
    &["and", "or", "but", "which", "who", "that", "where", "when", "while", "because", "although"];
const STOP: &[&str] = &[
    "the", "a", "an", "of", "in", "on", "at", "to", "and", "or", "by", "for", "with", "was", "were", "is", "are", "as",
    "that", "which", "it", "its", "from", "be", "been", "has", "had", "have",
];

/// Which of two equally close spans is the answer when the question's type does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prefer {
    /// The shorter: documents name the thing asked about as often before the question's words
    /// as after them ("*Pepsi* confirmed…"). Measured on SQuAD.
    #[default]
    Shorter,
    /// The one after the question's words: in first-person chat the speaker is the subject and
    /// the thing asked about follows its verb ("I'm reading *The Lean Startup*"). Measured on
    /// LoCoMo.
    Following,
}

/// A short answer to `question` inside `sentence`, if one can be found.
pub fn short_answer(question: &str, sentence: &str) -> Option<String> {
    short_answer_with(question, sentence, Prefer::Shorter)
}

/// [`short_answer`], choosing how ties between spans are broken.
pub fn short_answer_with(question: &str, sentence: &str, prefer: Prefer) -> Option<String> {
    let q = question.to_lowercase();
    let q_terms: HashSet<String> = terms(question).into_iter().collect();
    let novel = |span: &str| {
        let t = terms(span);
        !t.is_empty() && t.iter().any(|w| !q_terms.contains(w))
    };
    let month = Regex::new(&format!("^(?:{MONTHS})$")).expect("valid regex");
    // A pronoun is capitalised at the start of a sentence ("I", "My"), but it names no one.
    let pronoun = |s: &str| {
        let w = s.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
        FILLER.contains(&w.as_str()) || STOP.contains(&w.as_str())
    };
    let first = |re: &Regex| {
        re.find_iter(sentence)
            .map(|m| m.as_str().trim())
            .find(|s| novel(s) && !month.is_match(s) && !pronoun(s))
            .map(str::to_owned)
    };
    // A question word asks at the start ("When was…"), at the end ("…was played when?"), or, as
    // a phrase, anywhere ("…in what year…"); a bare "when" mid-question is a clause ("What did
    // they give him when they met?").
    let starts = |prefixes: &[&str]| {
        prefixes.iter().any(|p| {
            q.starts_with(p)
                || q.trim_end_matches(['?', ' ']).ends_with(&format!(" {p}"))
                || (p.contains(' ') && q.contains(&format!(" {p}")))
        })
    };
    if starts(&["when", "what year", "which year", "in what year", "what date", "what century"]) {
        return first(&DATE);
    }
    if starts(&["how often", "how frequently"]) {
        return first(&FREQUENCY);
    }
    if starts(&["how many", "how much", "what percentage", "how long", "how old", "how far", "how large", "how big"]) {
        return first(&QUANTITY);
    }
    if starts(&["who", "whom", "whose"]) {
        return first(&NAME);
    }
    if q.starts_with("where") {
        return first(&NAME);
    }
    novel_run(sentence, &q_terms, prefer)
}

/// The run of consecutive words absent from the question that sits closest to the words present
/// in it, trimmed of function words, at most 6 words. A run with no content word ("I", "it's
/// my") is no answer.
fn novel_run(sentence: &str, q_terms: &HashSet<String>, prefer: Prefer) -> Option<String> {
    let words: Vec<&str> = sentence.split_whitespace().collect();
    let in_q: Vec<bool> = words.iter().map(|w| terms(w).iter().any(|t| q_terms.contains(t))).collect();
    let anchors: Vec<usize> = (0..words.len()).filter(|&i| in_q[i]).collect();
    let clean = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    let filler = |w: &str| {
        let w = clean(w);
        w.is_empty() || STOP.contains(&w.as_str()) || FILLER.contains(&w.as_str())
    };
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if in_q[i] {
            i += 1;
            continue;
        }
        let start = i;
        // A run ends before a clause boundary ("and", "which"...) and after a comma or semicolon.
        while i < words.len() && !in_q[i] {
            let w = words[i].to_lowercase();
            if i > start && BOUNDARY.contains(&w.as_str()) {
                break;
            }
            i += 1;
            if w.ends_with([',', ';', ':', '.', '!', '?']) {
                break;
            }
        }
        let (mut s, mut e) = (start, i);
        while s < e && filler(words[s]) {
            s += 1;
        }
        while e > s && filler(words[e - 1]) {
            e -= 1;
        }
        if e > s {
            runs.push((s, e.min(s + 6)));
        }
    }
    // (distance to the nearest question word, whether the run comes before that word).
    let distance = |(s, e): (usize, usize)| {
        anchors
            .iter()
            .map(|&a| if a < s { (s - a, false) } else { (a.saturating_sub(e - 1), true) })
            .min()
            .unwrap_or((usize::MAX, true))
    };
    let best = match prefer {
        Prefer::Shorter => runs.into_iter().min_by_key(|&r| (distance(r).0, r.1 - r.0)),
        Prefer::Following => runs.into_iter().min_by_key(|&r| (distance(r), r.0)),
    }?;
    let text = words[best.0..best.1].join(" ");
    Some(text.trim_matches(|c: char| matches!(c, ',' | ';' | ':' | '.' | '!' | '?' | '(' | ')' | '"')).to_owned())
}

/// Words that never make an answer on their own: pronouns, auxiliaries, chat fillers.
const FILLER: &[&str] = &[
    "i",
    "i'm",
    "i've",
    "i'll",
    "i'd",
    "me",
    "my",
    "mine",
    "you",
    "you're",
    "your",
    "yours",
    "we",
    "our",
    "us",
    "he",
    "him",
    "his",
    "she",
    "her",
    "they",
    "them",
    "their",
    "it's",
    "this",
    "these",
    "those",
    "so",
    "just",
    "really",
    "very",
    "too",
    "also",
    "am",
    "do",
    "does",
    "did",
    "got",
    "get",
    "gets",
    "yeah",
    "yep",
    "wow",
    "oh",
    "hey",
    "hi",
    "thanks",
    "totally",
    "definitely",
    "super",
    "lately",
    "recently",
    "currently",
    "now",
    "then",
    "there",
    "here",
    "what",
    "how",
    "some",
    "lot",
    "lots",
    "all",
    "not",
    "can",
    "could",
    "will",
    "would",
    "be",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_spans_by_question_type() {
        let s = "Super Bowl 50 was played on February 7, 2016, at Levi's Stadium in Santa Clara, where the Denver Broncos beat the Carolina Panthers 24–10.";
        assert_eq!(short_answer("When was Super Bowl 50 played?", s).as_deref(), Some("February 7, 2016"));
        assert_eq!(
            short_answer(
                "Who wrote the inspection report?",
                "The inspection report was written by Jane Smith in 2003."
            )
            .as_deref(),
            Some("Jane Smith")
        );
        let t = "The Broncos defeated the Panthers and earned their third Super Bowl title.";
        assert_eq!(
            short_answer("How many Super Bowl titles have the Broncos earned?", "They earned three titles in total.")
                .as_deref(),
            Some("three titles")
        );
        assert_eq!(short_answer("Which team did the Broncos defeat?", t).as_deref(), Some("Panthers"));
    }
}
