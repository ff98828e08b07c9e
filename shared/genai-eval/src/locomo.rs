//! LoCoMo (Maharana et al., ACL 2024): very long multi-session conversations between two people,
//! with questions about them. Read from the official `locomo10.json` layout (or any subset of
//! its conversations), and scored with the paper's official metric, re-implemented here from its
//! description in `task_eval/evaluation.py`:
//!
//! - answers are normalised (lower case, commas and punctuation dropped, the words a/an/the/and
//!   dropped, whitespace collapsed), split into words and Porter-stemmed (NLTK's variant, through
//!   the `nltk-porter` crate, so scores agree with the Python scorer), then token F1;
//! - multi-hop (category 1): prediction and answer are split on commas, and the score is the
//!   mean over the answer's parts of the best F1 against any predicted part;
//! - open-domain (category 3): only the answer's text before the first `;` counts;
//! - adversarial (category 5): 1 when the reply says the thing was "not mentioned" or that "no
//!   information available", else 0.
//!
//! The integer category codes do not follow the order the paper lists them in: 1 multi-hop,
//! 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial (the dataset's SOURCE.txt gives the
//! evidence).

use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

/// A question's category, by the dataset's integer code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    MultiHop,
    Temporal,
    OpenDomain,
    SingleHop,
    Adversarial,
}

impl Category {
    /// In the paper's column order (single-hop first).
    pub const ALL: [Category; 5] =
        [Category::SingleHop, Category::MultiHop, Category::Temporal, Category::OpenDomain, Category::Adversarial];

    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            1 => Self::MultiHop,
            2 => Self::Temporal,
            3 => Self::OpenDomain,
            4 => Self::SingleHop,
            5 => Self::Adversarial,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::SingleHop => "single-hop",
            Self::MultiHop => "multi-hop",
            Self::Temporal => "temporal",
            Self::OpenDomain => "open-domain",
            Self::Adversarial => "adversarial",
        }
    }

    /// The LoCoMo paper's gpt-3.5-turbo with a 16K context (Table 2, F1 × 100): the bar the
    /// issue sets for this category.
    pub fn gpt35_16k(self) -> f64 {
        match self {
            Self::SingleHop => 52.6,
            Self::MultiHop => 36.7,
            Self::Temporal => 24.3,
            Self::OpenDomain => 24.0,
            Self::Adversarial => 14.8,
        }
    }
}

/// One conversation: two speakers, sessions in order, and the questions about it.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub sample_id: String,
    pub speakers: [String; 2],
    pub sessions: Vec<Session>,
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub number: u32,
    /// As written in the data, e.g. "1:56 pm on 8 May, 2023".
    pub date_time: String,
    pub turns: Vec<Turn>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Turn {
    pub speaker: String,
    pub dia_id: String,
    pub text: String,
    /// What a shared image shows (BLIP's caption), when one was shared.
    #[serde(default)]
    pub blip_caption: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Question {
    pub question: String,
    /// The gold answer; `None` for adversarial questions (their right answer is "not mentioned").
    pub answer: Option<String>,
    pub category: Category,
    pub evidence: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocomoError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not LoCoMo JSON: {reason}")]
    Format { path: String, reason: String },
}

#[derive(Deserialize)]
struct RawConversation {
    sample_id: String,
    conversation: serde_json::Map<String, Value>,
    qa: Vec<RawQa>,
}

#[derive(Deserialize)]
struct RawQa {
    question: String,
    #[serde(default)]
    answer: Option<Value>,
    category: u64,
    #[serde(default)]
    evidence: Vec<String>,
}

/// Reads a LoCoMo JSON file (a list of conversations).
pub fn load(path: &Path) -> Result<Vec<Conversation>, LocomoError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LocomoError::Read { path: p.clone(), source })?;
    parse(&text).map_err(|reason| LocomoError::Format { path: p, reason })
}

/// Parses the JSON text of a LoCoMo file.
pub fn parse(text: &str) -> Result<Vec<Conversation>, String> {
    let raw: Vec<RawConversation> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    raw.into_iter().map(convert).collect()
}

fn convert(raw: RawConversation) -> Result<Conversation, String> {
    let c = &raw.conversation;
    let name =
        |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned).ok_or(format!("{}: no {k}", raw.sample_id));
    let speakers = [name("speaker_a")?, name("speaker_b")?];
    let mut sessions = Vec::new();
    // Sessions are numbered from 1; a date without dialogue (the data has some) is no session.
    for n in 1.. {
        let Some(turns) = c.get(&format!("session_{n}")) else {
            if c.keys().any(|k| k.strip_prefix("session_").and_then(|r| r.parse::<u32>().ok()).is_some_and(|m| m > n)) {
                continue;
            }
            break;
        };
        let turns: Vec<Turn> =
            serde_json::from_value(turns.clone()).map_err(|e| format!("{} session {n}: {e}", raw.sample_id))?;
        let date_time = c
            .get(&format!("session_{n}_date_time"))
            .and_then(Value::as_str)
            .ok_or(format!("{} session {n}: no date", raw.sample_id))?
            .to_owned();
        sessions.push(Session { number: n, date_time, turns });
    }
    let questions = raw
        .qa
        .into_iter()
        .map(|q| {
            let category = Category::from_code(q.category).ok_or(format!("category {} is unknown", q.category))?;
            let answer = match q.answer {
                Some(Value::String(s)) => Some(s),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(other) => Some(other.to_string()),
                None => None,
            };
            if answer.is_none() && category != Category::Adversarial {
                return Err(format!("{}: {:?} has no answer", raw.sample_id, q.question));
            }
            Ok(Question { question: q.question, answer, category, evidence: q.evidence })
        })
        .collect::<Result<_, String>>()?;
    Ok(Conversation { sample_id: raw.sample_id, speakers, sessions, questions })
}

static STEMMER: LazyLock<nltk_porter::PorterStemmer> =
    LazyLock::new(|| nltk_porter::PorterStemmer::new(nltk_porter::Mode::Nltk));

/// The official normalisation, then stemmed tokens.
pub fn tokens(s: &str) -> Vec<String> {
    let lower: String = s.to_lowercase().chars().map(|c| if c.is_ascii_punctuation() { ' ' } else { c }).collect();
    lower.split_whitespace().filter(|w| !matches!(*w, "a" | "an" | "the" | "and")).map(|w| STEMMER.stem(w)).collect()
}

/// Token F1 between one prediction and one answer, on stemmed normalised tokens.
pub fn f1_one(prediction: &str, answer: &str) -> f64 {
    let (p, g) = (tokens(prediction), tokens(answer));
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for t in &g {
        *counts.entry(t).or_default() += 1;
    }
    let mut same = 0usize;
    for t in &p {
        if let Some(c) = counts.get_mut(t.as_str()).filter(|c| **c > 0) {
            *c -= 1;
            same += 1;
        }
    }
    if same == 0 {
        return 0.0;
    }
    let (precision, recall) = (same as f64 / p.len() as f64, same as f64 / g.len() as f64);
    2.0 * precision * recall / (precision + recall)
}

/// Multi-hop F1: each comma-separated part of the answer is matched with its best predicted part.
pub fn f1_multi(prediction: &str, answer: &str) -> f64 {
    let preds: Vec<&str> = prediction.split(',').map(str::trim).collect();
    let golds: Vec<&str> = answer.split(',').map(str::trim).collect();
    golds.iter().map(|g| preds.iter().map(|p| f1_one(p, g)).fold(0.0, f64::max)).sum::<f64>() / golds.len() as f64
}

/// Whether a reply declines in the words the official scorer looks for.
pub fn says_not_mentioned(prediction: &str) -> bool {
    let p = prediction.to_lowercase();
    p.contains("no information available") || p.contains("not mentioned")
}

/// The official score of `prediction` for `q`, in [0, 1].
pub fn score(q: &Question, prediction: &str) -> f64 {
    match (q.category, q.answer.as_deref()) {
        (Category::Adversarial, _) | (_, None) => f64::from(u8::from(says_not_mentioned(prediction))),
        (Category::MultiHop, Some(a)) => f1_multi(prediction, a),
        (Category::OpenDomain, Some(a)) => f1_one(prediction, a.split(';').next().unwrap_or(a)),
        (_, Some(a)) => f1_one(prediction, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(category: Category, answer: Option<&str>) -> Question {
        Question { question: "?".into(), answer: answer.map(str::to_owned), category, evidence: vec![] }
    }

    #[test]
    fn stemmed_f1_matches_word_forms_and_drops_articles() {
        assert_eq!(f1_one("researching adoption agencies", "Adoption agencies"), 0.8);
        assert_eq!(f1_one("The painting", "paintings"), 1.0);
        assert_eq!(f1_one("", "x"), 0.0);
        assert_eq!(f1_one("a, the; and", "the"), 0.0);
    }

    #[test]
    fn per_category_rules() {
        // Multi-hop: the mean over the answer's parts of their best match.
        let s = score(&q(Category::MultiHop, Some("pottery, camping")), "camping, pottery");
        assert_eq!(s, 1.0);
        let s = score(&q(Category::MultiHop, Some("pottery, camping")), "pottery");
        assert_eq!(s, 0.5);
        // Open-domain: only the part before ';'.
        assert_eq!(score(&q(Category::OpenDomain, Some("Likely yes; she likes it")), "likely yes"), 1.0);
        // Adversarial: the declining phrase, and nothing else, scores.
        assert_eq!(score(&q(Category::Adversarial, None), "That was not mentioned in our conversation."), 1.0);
        assert_eq!(score(&q(Category::Adversarial, None), "Adoption agencies"), 0.0);
    }

    #[test]
    fn reads_the_official_layout() {
        let text = r#"[{"sample_id":"c1","conversation":{"speaker_a":"Ann","speaker_b":"Bo",
            "session_1_date_time":"1:56 pm on 8 May, 2023",
            "session_1":[{"speaker":"Ann","dia_id":"D1:1","text":"Hi"},
                         {"speaker":"Bo","dia_id":"D1:2","text":"Look","blip_caption":"a dog"}],
            "session_2_date_time":"9 May, 2023",
            "session_3_date_time":"10 May, 2023",
            "session_3":[{"speaker":"Bo","dia_id":"D3:1","text":"Later"}]},
            "qa":[{"question":"When?","answer":2022,"evidence":["D1:1"],"category":2},
                  {"question":"Who?","adversarial_answer":"Bo","evidence":[],"category":5}],
            "event_summary":{},"observation":{},"session_summary":{}}]"#;
        let c = &parse(text).unwrap()[0];
        assert_eq!(c.speakers, ["Ann".to_owned(), "Bo".to_owned()]);
        assert_eq!(c.sessions.iter().map(|s| s.number).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(c.sessions[0].turns[1].blip_caption.as_deref(), Some("a dog"));
        assert_eq!(c.questions[0].answer.as_deref(), Some("2022"));
        assert_eq!(c.questions[1].category, Category::Adversarial);
        assert!(parse(r#"[{"sample_id":"x","conversation":{},"qa":[]}]"#).is_err());
    }
}
