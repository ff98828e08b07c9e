//! Span resolution: the rule that keeps the LLM engine honest. Every string the model returned
//! must occur in the input, exactly (confidence 0.95) or up to case and whitespace (0.8);
//! numbers must occur as written. Anything else is dropped from the data and reported as
//! unsupported. Strings a top-level field's `enum` allows are classifications, not extractions,
//! and are kept without a span.

use super::Span;
use crate::model::Unsupported;
use crate::schemas::Compiled;
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

pub struct Grounded {
    pub data: Value,
    pub entities: Vec<Span>,
    pub unsupported: Vec<Unsupported>,
}

pub fn ground(text: &str, schema: &Compiled, answer: &Value) -> Grounded {
    let mut g = Grounded { data: Value::Null, entities: Vec::new(), unsupported: Vec::new() };
    g.data = walk(text, schema, answer, "", &mut g).unwrap_or_else(|| Value::Object(Map::new()));
    g
}

fn walk(text: &str, schema: &Compiled, v: &Value, pointer: &str, g: &mut Grounded) -> Option<Value> {
    match v {
        Value::Object(map) => Some(Value::Object(
            map.iter()
                .filter_map(|(k, x)| {
                    let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    walk(text, schema, x, &p, g).map(|x| (k.clone(), x))
                })
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(
            items.iter().enumerate().filter_map(|(i, x)| walk(text, schema, x, &format!("{pointer}/{i}"), g)).collect(),
        )),
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) if enum_allows(schema, pointer, v) => Some(Value::String(s.clone())),
        Value::String(s) => resolve(text, s, schema, pointer, g).then(|| v.clone()),
        Value::Number(n) => resolve(text, &n.to_string(), schema, pointer, g).then(|| v.clone()),
        Value::Bool(_) | Value::Null => Some(v.clone()),
    }
    .or_else(|| {
        if !matches!(v, Value::String(s) if s.trim().is_empty()) {
            g.unsupported.push(Unsupported { pointer: pointer.to_owned(), value: v.clone() });
        }
        None
    })
}

// ANCHOR: resolve
/// Finds `value` in `text`; on success records its span and returns true.
fn resolve(text: &str, value: &str, schema: &Compiled, pointer: &str, g: &mut Grounded) -> bool {
    let (range, confidence, rule) = match text.find(value) {
        Some(start) => (start..start + value.len(), 0.95, "span_exact"),
        None => match loose(value).and_then(|re| re.find(text)) {
            Some(m) => (m.range(), 0.8, "span_case_whitespace"),
            None => return false,
        },
    };
    let field = top_field(pointer);
    let kind = field
        .as_deref()
        .and_then(|f| schema.fields.iter().find(|x| x.name == f))
        .and_then(|f| f.kinds.first())
        .map_or_else(|| "TEXT".to_owned(), ToString::to_string);
    g.entities.push(Span { field, kind, start: range.start, end: range.end, confidence, recognizer: rule });
    true
}
// ANCHOR_END: resolve

/// `value` matched case-insensitively with any run of whitespace for any run of whitespace.
fn loose(value: &str) -> Option<Regex> {
    let words: Vec<String> = value.split_whitespace().map(regex::escape).collect();
    if words.is_empty() {
        return None;
    }
    RegexBuilder::new(&words.join(r"\s+")).case_insensitive(true).size_limit(1 << 20).build().ok()
}

fn top_field(pointer: &str) -> Option<String> {
    pointer.split('/').nth(1).map(|s| s.replace("~1", "/").replace("~0", "~"))
}

fn enum_allows(schema: &Compiled, pointer: &str, v: &Value) -> bool {
    let Some(field) = top_field(pointer) else { return false };
    let prop = &schema.schema["properties"][field.as_str()];
    [&prop["enum"], &prop["items"]["enum"]].iter().any(|e| e.as_array().is_some_and(|a| a.contains(v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invented_values_are_dropped_and_reported() {
        let schema = Compiled::new(
            "t",
            json!({"type": "object", "properties": {
                "name": {"type": "string"}, "emails": {"type": "array", "items": {"type": "string"}},
                "age": {"type": "integer"}, "tone": {"type": "string", "enum": ["formal", "casual"]}}}),
        )
        .unwrap();
        let text = "Write to ANNA  Smith at anna@example.org. She is 41.";
        let answer = json!({"name": "Anna Smith", "emails": ["anna@example.org", "anna.smith@corp.com"], "age": 42, "tone": "formal"});
        let g = ground(text, &schema, &answer);
        assert_eq!(g.data, json!({"name": "Anna Smith", "emails": ["anna@example.org"], "tone": "formal"}));
        let mut pointers: Vec<&str> = g.unsupported.iter().map(|u| u.pointer.as_str()).collect();
        pointers.sort_unstable();
        assert_eq!(pointers, ["/age", "/emails/1"]);
        let name = g.entities.iter().find(|e| e.field.as_deref() == Some("name")).unwrap();
        assert_eq!(&text[name.start..name.end], "ANNA  Smith");
        assert_eq!((name.confidence, name.recognizer, name.kind.as_str()), (0.8, "span_case_whitespace", "PERSON"));
    }
}
