//! The offline engine: genai-guard's recognisers, their findings assigned to schema fields by
//! entity type. Array fields take every finding of their types; scalar fields take the most
//! confident finding not already given to another scalar field (so `invoice_date` and
//! `due_date` get different dates, in order of confidence).

use super::{Engine, EngineOutput, Span};
use crate::ExtractError;
use crate::schemas::{Compiled, Field};
use genai_guard::{Analyzer, Finding, PiiKind};
use serde_json::{Map, Value};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct OfflineEngine {
    analyzer: Analyzer,
}

impl OfflineEngine {
    pub fn new(analyzer: Analyzer) -> Self {
        Self { analyzer }
    }

    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }
}

#[async_trait::async_trait]
impl Engine for OfflineEngine {
    fn name(&self) -> &'static str {
        "offline"
    }

    async fn extract(&self, text: &str, schema: &Arc<Compiled>) -> Result<EngineOutput, ExtractError> {
        let (analyzer, text, schema) = (self.analyzer.clone(), text.to_owned(), schema.clone());
        crate::cpu(move || fill(&analyzer, &text, &schema)).await?
    }
}

/// Synchronous core (the bench and the evaluation call it directly).
pub fn fill(analyzer: &Analyzer, text: &str, schema: &Compiled) -> Result<EngineOutput, ExtractError> {
    let gaps = schema.offline_gaps();
    if !gaps.is_empty() {
        return Err(ExtractError::Unsatisfiable {
            engine: "offline",
            fields: gaps.iter().map(|f| format!("`/properties/{}`", f.name)).collect::<Vec<_>>().join(", "),
            hint: "no recogniser matches them; add \"x-entity\" with a type from GET /v1/schemas (e.g. \"PERSON\"), or use \"engine\": \"llm\"",
        });
    }
    let mut kinds: Vec<PiiKind> = schema.fields.iter().flat_map(|f| f.kinds.iter().copied()).collect();
    kinds.sort();
    kinds.dedup();
    let analyzer = Analyzer { kinds, ..analyzer.clone() };
    let found = analyzer.analyze(text);
    let mut data = Map::new();
    let mut owner: Vec<Option<String>> = vec![None; found.len()];
    for field in schema.fields.iter().filter(|f| f.many) {
        let values: Vec<Value> = found
            .iter()
            .enumerate()
            .filter(|(_, f)| field.kinds.contains(&f.kind))
            .filter_map(|(i, f)| {
                owner[i].get_or_insert_with(|| field.name.clone());
                value(field, &text[f.start..f.end])
            })
            .collect();
        data.insert(field.name.clone(), Value::Array(dedup(values)));
    }
    let mut by_confidence: Vec<usize> = (0..found.len()).collect();
    by_confidence.sort_by(|&a, &b| found[b].score.total_cmp(&found[a].score).then(a.cmp(&b)));
    let mut taken = vec![false; found.len()];
    for field in schema.fields.iter().filter(|f| !f.many) {
        let pick = by_confidence.iter().copied().find(|&i| !taken[i] && field.kinds.contains(&found[i].kind));
        if let Some(v) = pick.and_then(|i| value(field, &text[found[i].start..found[i].end]).map(|v| (i, v))) {
            taken[v.0] = true;
            owner[v.0] = Some(field.name.clone());
            data.insert(field.name.clone(), v.1);
        }
    }
    let entities = found.iter().zip(owner).map(|(f, field)| span(f, field)).collect();
    Ok(EngineOutput { data: Value::Object(data), entities, ..EngineOutput::default() })
}

fn span(f: &Finding, field: Option<String>) -> Span {
    Span { field, kind: f.kind.to_string(), start: f.start, end: f.end, confidence: f.score, recognizer: f.recognizer }
}

/// The JSON value of a match for `field`: the text, or a number for numeric fields.
fn value(field: &Field, matched: &str) -> Option<Value> {
    if !field.numeric {
        return Some(Value::String(matched.to_owned()));
    }
    let digits: String = matched.chars().filter(|c| c.is_ascii_digit() || *c == '.').collect();
    let n: f64 = digits.parse().ok()?;
    serde_json::Number::from_f64(n).map(|n| match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Value::from(f as i64),
        _ => Value::Number(n),
    })
}

fn dedup(values: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}
