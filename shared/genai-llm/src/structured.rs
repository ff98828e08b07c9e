//! Structured output: ask for JSON matching `T`'s schema, validate by deserialising into `T`,
//! and re-ask with the validation error when the answer does not fit.
//!
//! Re-asks happen only for answers that arrived but do not fit; transport failures are the retry
//! layer's business. Every attempt is charged to the extraction's own budget (and to any session
//! budget of the model), so a model that keeps answering badly cannot run up costs.

use crate::pricing::SessionBudget;
use crate::resilience::Resilient;
use crate::{ChatModel, ChatRequest, LlmError, Message, ResponseFormat, Usage};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;

/// Defaults: 2 re-asks (3 attempts in all), 1,024 output tokens, temperature 0, no extra budget.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub max_reasks: u32,
    pub max_tokens: u32,
    pub temperature: Option<f64>,
    /// A cap in USD across all attempts of this extraction.
    pub budget_usd: Option<f64>,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self { max_reasks: 2, max_tokens: 1024, temperature: Some(0.0), budget_usd: None }
    }
}

/// A validated value and what it took to get it.
#[derive(Debug, Clone)]
pub struct Extracted<T> {
    pub value: T,
    pub attempts: u32,
    /// Summed over all attempts.
    pub usage: Usage,
}

/// The JSON Schema of `T` in the form OpenAI's strict structured outputs accept: every object
/// closed (`additionalProperties: false`) with all properties required (optional ones are
/// nullable), no `$schema`, no numeric `format` annotations.
pub fn strict_schema<T: JsonSchema>() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("$schema");
    }
    close_objects(&mut schema);
    schema
}

fn close_objects(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                // Sorted, so the schema is the same whichever way serde_json orders maps.
                let mut keys: Vec<String> = props.keys().cloned().collect();
                keys.sort();
                let keys: Vec<Value> = keys.into_iter().map(Value::String).collect();
                map.insert("required".into(), Value::Array(keys));
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            let numeric = |t: &Value| t == "integer" || t == "number";
            let is_numeric = match map.get("type") {
                Some(Value::Array(types)) => types.iter().any(numeric),
                Some(t) => numeric(t),
                None => false,
            };
            if is_numeric {
                map.remove("format");
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// Asks `model` for a `T`. `messages` describe the task; the schema is sent as the response
/// format and the answer is validated by deserialising it.
pub async fn extract<T: JsonSchema + DeserializeOwned>(
    model: &Resilient,
    messages: Vec<Message>,
    opts: &ExtractOptions,
) -> Result<Extracted<T>, LlmError> {
    let name = std::any::type_name::<T>().rsplit("::").next().unwrap_or("answer").to_owned();
    let format = ResponseFormat::JsonSchema { name, schema: strict_schema::<T>(), strict: true };
    extract_with(model, messages, format, opts, |text| serde_json::from_str::<T>(text).map_err(|e| e.to_string())).await
}

/// Asks `model` for JSON matching a schema known only at run time (a caller's JSON Schema).
/// `validate` checks an answer and says what is wrong with it; the message goes back to the
/// model on a re-ask. `strict` asks for OpenAI strict mode, which only accepts closed schemas.
pub async fn extract_json(
    model: &Resilient,
    messages: Vec<Message>,
    name: &str,
    schema: Value,
    strict: bool,
    opts: &ExtractOptions,
    validate: impl Fn(&Value) -> Result<(), String>,
) -> Result<Extracted<Value>, LlmError> {
    let format = ResponseFormat::JsonSchema { name: name.to_owned(), schema, strict };
    extract_with(model, messages, format, opts, |text| {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        validate(&value).map(|()| value)
    })
    .await
}

/// The ask / validate / re-ask loop shared by the typed and the dynamic entry points.
async fn extract_with<T>(
    model: &Resilient,
    mut messages: Vec<Message>,
    format: ResponseFormat,
    opts: &ExtractOptions,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Extracted<T>, LlmError> {
    let model = match opts.budget_usd {
        Some(limit) => model.with_session(Arc::new(SessionBudget::new(limit))),
        None => model.clone(),
    };
    let mut usage = Usage::default();
    let mut last_error = String::new();
    for attempt in 1..=opts.max_reasks + 1 {
        let mut req = ChatRequest::new(messages.clone());
        req.response_format = format.clone();
        req.max_tokens = opts.max_tokens;
        req.temperature = opts.temperature;
        let answer = model.chat(&req).await?;
        usage.input_tokens += answer.usage.input_tokens;
        usage.cached_input_tokens += answer.usage.cached_input_tokens;
        usage.output_tokens += answer.usage.output_tokens;
        usage.counted |= answer.usage.counted;
        let text = answer.text().to_owned();
        match parse(strip_fences(&text)) {
            Ok(value) => return Ok(Extracted { value, attempts: attempt, usage }),
            Err(e) => {
                last_error = e;
                tracing::info!(attempt, error = %last_error, "structured answer did not fit the schema; re-asking");
                messages.push(Message::assistant(text));
                messages.push(Message::user(format!(
                    "That answer does not match the required JSON schema: {last_error}. \
                     Reply again with only the corrected JSON object."
                )));
            }
        }
    }
    Err(LlmError::SchemaMismatch { attempts: opts.max_reasks + 1, last_error })
}

/// Some servers wrap JSON in a Markdown code fence even in JSON mode.
fn strip_fences(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix("```json").or_else(|| t.strip_prefix("```")).and_then(|r| r.strip_suffix("```")).map_or(t, str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Contact {
        name: String,
        age: Option<u32>,
        emails: Vec<String>,
    }

    #[test]
    fn strict_schema_closes_objects_and_requires_every_property() {
        let s = strict_schema::<Contact>();
        assert_eq!(s["additionalProperties"], false);
        let mut required: Vec<&str> = s["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        required.sort();
        assert_eq!(required, ["age", "emails", "name"]);
        assert!(s.get("$schema").is_none());
        assert!(s["properties"]["age"].get("format").is_none());
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
    }
}
