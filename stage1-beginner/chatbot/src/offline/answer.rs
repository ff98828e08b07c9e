//! Answering a question from remembered messages, without a model.
//!
//! 1. The question: its kind (when, how many, who, where, yes/no, a list, or what), the person
//!    it is about (a speaker it names, or the user when it says "my"), and its informative terms
//!    (stemmed, stop words out).
//! 2. Every sentence of every remembered message is scored by the IDF-weighted share of the
//!    question's terms it contains (the message around it counts at half weight), and by whether
//!    the right person said it: asking about Caroline, a sentence Melanie said about herself
//!    counts for less. LoCoMo's unanswerable questions are mostly such swaps.
//! 3. Below a threshold nothing is claimed: the reply says it was not mentioned.
//! 4. Otherwise a short answer is cut from the best sentence by the question's kind (a date
//!    resolved against the day it was said, a quantity, a name, the words the question lacks),
//!    and the sentence itself is quoted with who said it and when.

use super::dates;
use super::sources::Source;
use genai_answer::Prefer;
use genai_retrieval::terms;
use std::collections::{HashMap, HashSet};

/// The question's kind, from its first words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    When,
    HowMany,
    Who,
    Where,
    YesNo,
    /// A plural "what" ("What activities…", "What are some…"): several statements may answer.
    List,
    What,
}

/// What the question asks and about whom.
#[derive(Debug, Clone)]
pub struct Question {
    pub text: String,
    pub kind: Kind,
    /// A speaker the question names (matched against the remembered speakers).
    pub person: Option<String>,
    /// The question's informative terms, without the person's name.
    pub terms: Vec<String>,
}

const AUX: &[&str] =
    &["do", "does", "did", "is", "are", "was", "were", "has", "have", "had", "can", "could", "would", "will", "should"];

impl Question {
    pub fn parse(text: &str, speakers: &[String]) -> Self {
        let lower = text.trim().to_lowercase();
        let first = lower.split_whitespace().next().unwrap_or_default();
        let has = |p: &str| lower.starts_with(p) || lower.contains(&format!(" {p} "));
        let kind = if first == "when"
            || ["what year", "which year", "what date", "in what year", "in which year", "how long ago"]
                .iter()
                .any(|p| lower.starts_with(p))
        {
            Kind::When
        } else if has("how many") || has("how much") || has("how long") || has("how old") {
            Kind::HowMany
        } else if first == "who" || first == "whom" || first == "whose" {
            Kind::Who
        } else if first == "where" {
            Kind::Where
        } else if AUX.contains(&first) {
            Kind::YesNo
        } else if is_plural_what(&lower) {
            Kind::List
        } else {
            Kind::What
        };
        let person = speakers
            .iter()
            .find(|s| {
                let first_name = s.split_whitespace().next().unwrap_or(s).to_lowercase();
                lower.split(|c: char| !c.is_alphanumeric()).any(|w| w == first_name)
            })
            .cloned();
        let name_terms: HashSet<String> = person.as_deref().map(terms).unwrap_or_default().into_iter().collect();
        let terms = terms(text)
            .into_iter()
            .filter(|t| !name_terms.contains(t) && !QUESTION_WORDS.contains(&t.as_str()))
            .collect();
        Self { text: text.trim().to_owned(), kind, person, terms }
    }
}

/// Stemmed words that say what kind of question it is, not what it is about, and pronouns,
/// which flip between a statement and the question about it ("my name" / "your name").
const QUESTION_WORDS: &[&str] = &[
    "what", "when", "where", "who", "whom", "whose", "which", "how", "why", "kind", "type", "did", "do", "doe", "ha",
    "some", "i", "me", "my", "you", "your", "we", "our", "us", "he", "him", "hi", "she", "her", "they", "them", "tell",
    "remind", "again", "pleas", "could", "would", "should", "can", "will", "shall", "may", "might", "must",
];

fn is_plural_what(q: &str) -> bool {
    (q.starts_with("what are") || q.starts_with("what were") || q.contains(" some "))
        || q.split_whitespace().nth(1).is_some_and(|w| {
            w.len() > 3
                && w.ends_with('s')
                && !w.ends_with("ss")
                && w != "does"
                && w != "was"
                && w != "has"
                && w != "is"
        })
}

/// A sentence of a remembered message, scored against the question.
#[derive(Debug, Clone)]
pub struct Scored<'a> {
    pub source: &'a Source,
    pub sentence: String,
    pub score: f64,
}

/// Sentences of `sources` that match `q`, best first (the ones that match nothing are left out).
pub fn rank<'a>(q: &Question, sources: &'a [Source]) -> Vec<Scored<'a>> {
    // Sentences are the documents for IDF: a term every message uses says little.
    let split: Vec<Vec<String>> = sources
        .iter()
        .map(|s| genai_ingest::sentence_spans(&s.text).into_iter().map(|r| s.text[r].trim().to_owned()).collect())
        .collect();
    let sentence_terms: Vec<Vec<HashSet<String>>> =
        split.iter().map(|ss| ss.iter().map(|s| terms(s).into_iter().collect()).collect()).collect();
    let n = sentence_terms.iter().map(Vec::len).sum::<usize>().max(1) as f64;
    // Sorted, not a HashSet's order: float sums in a fixed order make scores, and so the
    // evaluation, reproducible run to run.
    let mut unique: Vec<&String> = q.terms.iter().collect();
    unique.sort();
    unique.dedup();
    let mut df: HashMap<&str, usize> = HashMap::new();
    for t in &unique {
        df.insert(t, sentence_terms.iter().flatten().filter(|s| s.contains(*t)).count());
    }
    let idf = |t: &str| {
        let d = df.get(t).copied().unwrap_or(0) as f64;
        (1.0 + (n - d + 0.5) / (d + 0.5)).ln()
    };
    let total: f64 = unique.iter().map(|t| idf(t)).sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (si, source) in sources.iter().enumerate() {
        let message: HashSet<&String> = sentence_terms[si].iter().flatten().collect();
        for (k, sentence) in split[si].iter().enumerate() {
            let here = &sentence_terms[si][k];
            let matched: f64 = unique
                .iter()
                .map(|t| {
                    if here.contains(*t) {
                        idf(t)
                    } else if message.contains(t) {
                        0.5 * idf(t)
                    } else {
                        0.0
                    }
                })
                .sum();
            if matched <= 0.0 {
                continue;
            }
            let score = matched / total * person_factor(q, source, sentence);
            out.push(Scored { source, sentence: sentence.clone(), score });
        }
    }
    // Best first; the sort is stable, so equals keep the order of `sources` (summary, recalled
    // turns, then the window).
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// How much a sentence counts given who said it and whom the question is about.
fn person_factor(q: &Question, source: &Source, sentence: &str) -> f64 {
    let Some(person) = &q.person else { return 1.0 };
    let first_name = person.split_whitespace().next().unwrap_or(person);
    if source.speaker.as_deref() == Some(person.as_str()) {
        1.0
    } else if sentence.contains(first_name) || sentence.contains(" you") || sentence.starts_with("You") {
        // Said to or about them by someone else.
        0.8
    } else {
        0.55
    }
}

/// A short answer to `q` from `best` (and, for lists, the next few sentences).
pub fn short(q: &Question, ranked: &[Scored<'_>]) -> Option<String> {
    let best = ranked.first()?;
    match q.kind {
        Kind::When => {
            let said_on = best.source.said_on;
            said_on
                .and_then(|d| dates::resolve(&best.sentence, d))
                .or_else(|| genai_answer::short_answer_with(&q.text, &best.sentence, Prefer::Following))
                .or_else(|| said_on.map(dates::day))
        }
        Kind::YesNo => {
            Some(if best.sentence.contains(" not ") || best.sentence.contains("n't") { "No" } else { "Yes" }.to_owned())
        }
        Kind::List => {
            let floor = best.score * 0.75;
            let mut parts: Vec<String> = Vec::new();
            for s in ranked.iter().take_while(|s| s.score >= floor).take(4) {
                if let Some(a) = genai_answer::short_answer_with(&q.text, &s.sentence, Prefer::Following)
                    && !parts.iter().any(|p| p.eq_ignore_ascii_case(&a))
                {
                    parts.push(a);
                }
            }
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        _ => genai_answer::short_answer_with(&q.text, &best.sentence, Prefer::Following),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source::parse("m", text)
    }

    #[test]
    fn kinds_and_people_are_read_from_the_question() {
        let speakers = vec!["Caroline".to_owned(), "Melanie".to_owned()];
        let q = Question::parse("When did Caroline go to the LGBTQ support group?", &speakers);
        assert_eq!((q.kind, q.person.as_deref()), (Kind::When, Some("Caroline")));
        assert!(!q.terms.iter().any(|t| t == "carolin" || t == "caroline"), "{:?}", q.terms);
        assert_eq!(Question::parse("What activities does Melanie partake in?", &speakers).kind, Kind::List);
        assert_eq!(Question::parse("What is my name?", &speakers).kind, Kind::What);
        assert_eq!(Question::parse("Would Melanie be considered an ally?", &speakers).kind, Kind::YesNo);
        assert_eq!(Question::parse("How many children does Melanie have?", &speakers).kind, Kind::HowMany);
    }

    #[test]
    fn the_right_speakers_sentence_wins_over_the_other_speakers() {
        let sources = vec![
            src("[8 May 2023] Melanie: I went to a pottery class yesterday."),
            src("[9 May 2023] Caroline: I went to a pottery class last week."),
        ];
        let speakers = vec!["Caroline".to_owned(), "Melanie".to_owned()];
        let q = Question::parse("When did Caroline go to a pottery class?", &speakers);
        let ranked = rank(&q, &sources);
        assert_eq!(ranked[0].source.speaker.as_deref(), Some("Caroline"));
        assert_eq!(short(&q, &ranked).as_deref(), Some("The week before 9 May 2023"));
    }
}
