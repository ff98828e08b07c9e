//! SQuAD v1.1 (Rajpurkar et al., "SQuAD: 100,000+ Questions for Machine Comprehension of Text",
//! EMNLP 2016): reader and the official answer metrics (`evaluate-v1.1.py`: exact match and
//! token F1 after normalisation, maximum over the gold answers), plus answer containment.

use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
pub struct Squad {
    pub data: Vec<Article>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Article {
    pub title: String,
    pub paragraphs: Vec<Paragraph>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Paragraph {
    pub context: String,
    pub qas: Vec<Qa>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Qa {
    pub id: String,
    pub question: String,
    pub answers: Vec<GoldAnswer>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GoldAnswer {
    pub text: String,
    /// Char offset in the paragraph's context.
    pub answer_start: usize,
}

/// Reads a SQuAD v1.1 JSON file.
pub fn load(path: &Path) -> Result<Squad, std::io::Error> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The official normalisation: lower case, punctuation removed, articles removed, whitespace
/// collapsed.
pub fn normalize_answer(s: &str) -> String {
    let lower: String = s.to_lowercase().chars().filter(|c| !c.is_ascii_punctuation()).collect();
    lower.split_whitespace().filter(|w| !matches!(*w, "a" | "an" | "the")).collect::<Vec<_>>().join(" ")
}

/// 1.0 when the normalised prediction equals a normalised gold answer.
pub fn exact_match(prediction: &str, golds: &[&str]) -> f64 {
    let p = normalize_answer(prediction);
    if golds.iter().any(|g| normalize_answer(g) == p) { 1.0 } else { 0.0 }
}

/// Token F1, maximum over gold answers.
pub fn f1(prediction: &str, golds: &[&str]) -> f64 {
    let p = normalize_answer(prediction);
    let p: Vec<&str> = p.split_whitespace().collect();
    golds
        .iter()
        .map(|g| {
            let g = normalize_answer(g);
            let g: Vec<&str> = g.split_whitespace().collect();
            let mut counts: HashMap<&str, i64> = HashMap::new();
            for t in &g {
                *counts.entry(t).or_default() += 1;
            }
            let mut same = 0i64;
            for t in &p {
                if let Some(c) = counts.get_mut(t).filter(|c| **c > 0) {
                    *c -= 1;
                    same += 1;
                }
            }
            if same == 0 || p.is_empty() || g.is_empty() {
                return 0.0;
            }
            let precision = same as f64 / p.len() as f64;
            let recall = same as f64 / g.len() as f64;
            2.0 * precision * recall / (precision + recall)
        })
        .fold(0.0, f64::max)
}

/// 1.0 when a normalised gold answer appears, on word boundaries, inside the normalised
/// prediction: the answer is *in* what the user was shown.
pub fn contains_answer(prediction: &str, golds: &[&str]) -> f64 {
    let p = format!(" {} ", normalize_answer(prediction));
    if golds.iter().any(|g| {
        let g = normalize_answer(g);
        !g.is_empty() && p.contains(&format!(" {g} "))
    }) {
        1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_official_script_semantics() {
        assert_eq!(normalize_answer("The  Denver Broncos!"), "denver broncos");
        assert_eq!(exact_match("Denver Broncos.", &["the Denver Broncos"]), 1.0);
        assert!((f1("Denver Broncos won", &["Denver Broncos"]) - 0.8).abs() < 1e-9);
        assert_eq!(f1("Panthers", &["Denver Broncos", "Broncos"]), 0.0);
        assert_eq!(contains_answer("They were the Denver Broncos, in 2016.", &["Denver Broncos"]), 1.0);
        assert_eq!(contains_answer("The Broncos won 24 to 10.", &["4"]), 0.0, "word boundaries");
    }
}
