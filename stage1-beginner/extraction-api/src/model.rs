//! The wire types (documented in the OpenAPI description) and the assembly of a response from
//! an engine's output: byte spans become character spans, the data is checked against the schema.

use crate::engine::EngineOutput;
use crate::schemas::Compiled;
use genai_guard::redact::Replacement;
use genai_guard::{PiiKind, RedactMode, Verdict, char_offsets};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Which engine runs. `auto` (the default) is `llm` when a model is configured, else `offline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    #[default]
    Auto,
    Offline,
    Llm,
}

/// `POST /v1/extract`. Give `schema` (a name from `GET /v1/schemas`) or `json_schema` (an
/// inline JSON Schema whose top-level properties are the fields), or neither for `pii`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractRequest {
    #[schema(
        min_length = 1,
        example = "Call Anna Schmidt at +49 30 901820 or anna@example.org about the 12 May meeting."
    )]
    pub text: String,
    #[schema(example = "contact")]
    pub schema: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub json_schema: Option<Value>,
    pub engine: Option<EngineKind>,
}

/// One extracted value and where it is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Entity {
    /// The schema field it fills (none when no field takes its type).
    pub field: Option<String>,
    /// Entity type (`PERSON`, `EMAIL_ADDRESS`, ...; for the LLM engine, the field's type when
    /// known, else `TEXT`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Exactly `text[start..end]`.
    pub value: String,
    /// Character (Unicode scalar) offsets into the request's text, end exclusive.
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
    /// `offline` or `llm`.
    pub engine: &'static str,
    /// The recogniser (offline) or the span-resolution rule (llm) that placed it.
    pub recognizer: &'static str,
}

/// A value the model returned that is not in the text: dropped, never invented.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Unsupported {
    /// JSON pointer of the value in the model's answer.
    pub pointer: String,
    #[schema(value_type = Object)]
    pub value: Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Validation {
    /// Whether `data` satisfies the schema (required fields found, types right).
    pub valid: bool,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GuardReport {
    pub flagged: bool,
    pub score: f32,
    pub reasons: Vec<String>,
}

impl From<Verdict> for GuardReport {
    fn from(v: Verdict) -> Self {
        Self { flagged: v.flagged, score: v.score, reasons: v.reasons }
    }
}

/// Tokens and cost of the model calls behind an answer (all attempts).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct UsageReport {
    pub model: String,
    pub attempts: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExtractResponse {
    pub schema: String,
    pub engine: &'static str,
    /// The schema-shaped result: each field filled from the entities (arrays for array fields).
    #[schema(value_type = Object)]
    pub data: Value,
    pub entities: Vec<Entity>,
    pub unsupported: Vec<Unsupported>,
    pub validation: Validation,
    /// The injection guard's verdict on the text (it blocks the llm engine when flagged).
    pub guard: GuardReport,
    /// Why a different engine answered than the one asked for (`auto` falling back to offline).
    pub note: Option<String>,
    pub usage: Option<UsageReport>,
}

/// `POST /v1/redact`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactRequest {
    #[schema(min_length = 1, example = "Mail anna@example.org or call 030 901820.")]
    pub text: String,
    /// `mask` (default), `hash` (keyed HMAC) or `pseudonym` (stable, short).
    #[schema(value_type = Option<String>, example = "pseudonym")]
    pub mode: Option<RedactMode>,
    /// Only these types (all when absent), e.g. `["EMAIL_ADDRESS", "PERSON"]`.
    #[schema(value_type = Option<Vec<String>>)]
    pub kinds: Option<Vec<PiiKind>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Redaction {
    #[serde(rename = "type")]
    pub kind: String,
    /// Character offsets into the original text.
    pub start: usize,
    pub end: usize,
    pub replacement: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RedactResponse {
    pub text: String,
    pub redactions: Vec<Redaction>,
}

/// Builds the response: spans to characters, data checked against the schema.
pub(crate) fn respond(
    text: &str,
    schema: &Compiled,
    engine: &'static str,
    out: EngineOutput,
    guard: Verdict,
    note: Option<String>,
) -> ExtractResponse {
    let mut bytes: Vec<usize> = out.entities.iter().flat_map(|e| [e.start, e.end]).collect();
    bytes.sort_unstable();
    bytes.dedup();
    let chars = char_offsets(text, &bytes);
    let to_char = |b: usize| chars[bytes.binary_search(&b).unwrap_or(0)];
    // Canonical order whatever serde_json's map features are in this build (another crate in the
    // workspace turns on `preserve_order`): entities by position, data keys sorted.
    let mut out = out;
    out.entities.sort_by_key(|e| (e.start, e.end));
    out.unsupported.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    let entities = out
        .entities
        .iter()
        .map(|e| Entity {
            field: e.field.clone(),
            kind: e.kind.clone(),
            value: text[e.start..e.end].to_owned(),
            start: to_char(e.start),
            end: to_char(e.end),
            confidence: (e.confidence * 1000.0).round() / 1000.0,
            engine,
            recognizer: e.recognizer,
        })
        .collect();
    let data = canonical(out.data);
    let problems = schema.problems(&data);
    ExtractResponse {
        schema: schema.name.clone(),
        engine,
        data,
        entities,
        unsupported: out.unsupported,
        validation: Validation { valid: problems.is_empty(), problems },
        guard: guard.into(),
        note,
        usage: out.usage,
    }
}

/// `v` with every object's keys in sorted order, at every level (whether or not the build has
/// serde_json's `preserve_order`). Tests compare snapshots through it too.
pub fn canonical(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, canonical(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

pub(crate) fn redacted(original: &str, text: String, reps: Vec<Replacement>) -> RedactResponse {
    let bytes: Vec<usize> = reps.iter().flat_map(|r| [r.start, r.end]).collect();
    let chars = char_offsets(original, &bytes);
    let redactions = reps
        .into_iter()
        .enumerate()
        .map(|(i, r)| Redaction {
            kind: r.kind.to_string(),
            start: chars[2 * i],
            end: chars[2 * i + 1],
            replacement: r.replacement,
        })
        .collect();
    RedactResponse { text, redactions }
}
