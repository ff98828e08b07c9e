//! PII evaluation on span-labelled data (Presidio's synthetic set and anything of its shape).
//!
//! Scored the way presidio-research's `Evaluator` scores (and so comparable to the published
//! Presidio numbers): token level, IO labels. Each token takes the type of the gold span that
//! covers it and the type of the predicted finding that covers it. "PII" counts are
//! type-agnostic (a token that is PII and was flagged as any PII is a hit); per-type counts need
//! the type to match. F2 weighs recall four times precision, because a missed name leaks and an
//! extra mask costs little.

use genai_guard::{Analyzer, char_offsets};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// One record: `full_text` and gold `spans` with char (not byte) offsets.
#[derive(Debug, Deserialize)]
pub struct Record {
    pub full_text: String,
    #[serde(default)]
    pub spans: Vec<GoldSpan>,
}

#[derive(Debug, Deserialize)]
pub struct GoldSpan {
    pub entity_type: String,
    pub start_position: usize,
    pub end_position: usize,
}

/// Precision/recall counts for one label.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Counts {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f_beta(&self, beta: f64) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        let b2 = beta * beta;
        if p + r == 0.0 { 0.0 } else { (1.0 + b2) * p * r / (b2 * p + r) }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The whole report: overall PII counts and per-type counts (gold type names, mapped).
#[derive(Debug, Default, Serialize)]
pub struct PiiReport {
    pub records: usize,
    pub pii: Counts,
    pub per_type: BTreeMap<String, Counts>,
}

/// Gold type names → this crate's names. Presidio's published run maps GPE and STREET_ADDRESS
/// to LOCATION; we keep STREET_ADDRESS separate because we recognise it separately.
pub fn map_gold(t: &str) -> String {
    match t {
        "GPE" => "LOCATION".into(),
        "DOMAIN_NAME" => "URL".into(),
        other => other.to_owned(),
    }
}

static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\S+").expect("pattern compiles"));

/// Tokens as byte spans, close to spaCy's English tokenizer: whitespace-separated words with
/// leading and trailing punctuation split off, so an e-mail address or URL is one token (as in
/// Presidio's evaluation) and "Apt." keeps its dot only when it is not sentence punctuation.
fn tokens(text: &str) -> Vec<(usize, usize)> {
    const LEAD: &[char] = &['(', '[', '{', '"', '\'', '“', '‘', '#', '$', '€', '£'];
    const TRAIL: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '"', '\'', '”', '’', '%'];
    let mut out = Vec::new();
    for m in WORD.find_iter(text) {
        let (mut a, mut b) = (m.start(), m.end());
        while let Some(c) = text[a..b].chars().next().filter(|c| LEAD.contains(c) && b - a > c.len_utf8()) {
            out.push((a, a + c.len_utf8()));
            a += c.len_utf8();
        }
        let mut trailing = Vec::new();
        while let Some(c) = text[a..b].chars().next_back().filter(|c| TRAIL.contains(c) && b - a > c.len_utf8()) {
            trailing.push((b - c.len_utf8(), b));
            b -= c.len_utf8();
        }
        out.push((a, b));
        out.extend(trailing.into_iter().rev());
    }
    out
}

/// Scores `analyzer` on `records`.
pub fn evaluate(analyzer: &Analyzer, records: &[Record]) -> PiiReport {
    let mut report = PiiReport { records: records.len(), ..PiiReport::default() };
    for r in records {
        let text = &r.full_text;
        let found = analyzer.analyze(text);
        // Tokens and findings as char spans; both are sorted and non-overlapping, so their
        // bounds are already in the order `char_offsets` needs.
        let toks = tokens(text);
        let char_bounds = char_offsets(text, &toks.iter().flat_map(|&(a, b)| [a, b]).collect::<Vec<_>>());
        let f_chars = char_offsets(text, &found.iter().flat_map(|f| [f.start, f.end]).collect::<Vec<_>>());
        for pair in char_bounds.chunks_exact(2) {
            let (cs, ce) = (pair[0], pair[1]);
            let gold =
                r.spans.iter().find(|s| s.start_position < ce && cs < s.end_position).map(|s| map_gold(&s.entity_type));
            let pred = found
                .iter()
                .zip(f_chars.chunks_exact(2))
                .find(|(_, c)| c[0] < ce && cs < c[1])
                .map(|(f, _)| f.kind.as_str().to_owned());
            tally(&mut report, gold, pred);
        }
    }
    report
}

fn tally(report: &mut PiiReport, gold: Option<String>, pred: Option<String>) {
    match (&gold, &pred) {
        (Some(_), Some(_)) => report.pii.tp += 1,
        (Some(_), None) => report.pii.fn_ += 1,
        (None, Some(_)) => report.pii.fp += 1,
        (None, None) => {}
    }
    if gold == pred {
        if let Some(g) = gold {
            report.per_type.entry(g).or_default().tp += 1;
        }
        return;
    }
    if let Some(g) = gold {
        report.per_type.entry(g).or_default().fn_ += 1;
    }
    if let Some(p) = pred {
        report.per_type.entry(p).or_default().fp += 1;
    }
}

/// The report as a Markdown table (the book and README print this).
pub fn to_markdown(report: &PiiReport) -> String {
    let mut out = String::from("| type | precision | recall | F1 | F2 | gold tokens |\n|---|---|---|---|---|---|\n");
    let row = |name: &str, c: &Counts| {
        format!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {} |\n",
            c.precision(),
            c.recall(),
            c.f_beta(1.0),
            c.f_beta(2.0),
            c.tp + c.fn_
        )
    };
    out.push_str(&row("**PII (any type)**", &report.pii));
    for (t, c) in &report.per_type {
        out.push_str(&row(t, c));
    }
    out
}
