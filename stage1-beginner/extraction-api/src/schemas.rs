//! Schemas: the named ones this service ships, and callers' inline JSON Schemas, compiled into
//! the list of fields an engine fills.
//!
//! A field is a top-level property. Which recogniser fills it (offline engine) comes from, in
//! order: an explicit `"x-entity": "EMAIL_ADDRESS"` (or a list), the property's `format`
//! (`email`, `uri`, `ipv4`, `date-time`, ...), or its name (`email`, `phone`, `company`, ...).
//! A schema with a property none of these map is valid for the LLM engine but one the offline
//! engine cannot satisfy; that is a 422 that names the property, not a silent empty field.

use crate::ExtractError;
use genai_guard::PiiKind;
use serde_json::{Value, json};
use std::sync::{Arc, LazyLock};

/// Upper bound on fields per schema: each costs a recogniser pass or prompt tokens.
pub const MAX_FIELDS: usize = 64;

/// A schema ready to use: the JSON Schema, its validator, and its fields.
#[derive(Debug)]
pub struct Compiled {
    pub name: String,
    pub schema: Value,
    pub fields: Vec<Field>,
    validator: jsonschema::Validator,
}

/// One top-level property.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    /// Recognisers that can fill it offline (empty: only the LLM engine can).
    pub kinds: Vec<PiiKind>,
    /// An array of values rather than one.
    pub many: bool,
    /// `integer` or `number` (the offline engine converts the matched text).
    pub numeric: bool,
}

impl Compiled {
    /// Validates `schema` (a JSON Schema document) and compiles it.
    pub fn new(name: &str, schema: Value) -> Result<Self, ExtractError> {
        let invalid = |pointer: String, message: String| ExtractError::InvalidSchema {
            pointer: pointer_or_root(&pointer).to_owned(),
            message,
        };
        if let Err(e) = jsonschema::meta::validate(&schema) {
            return Err(invalid(e.instance_path().to_string(), e.to_string()));
        }
        // No remote or file references: a schema must not make this server fetch anything.
        let options = jsonschema::options().with_retriever(NoRetrieval);
        let validator = options.build(&schema).map_err(|e| invalid(e.instance_path().to_string(), e.to_string()))?;
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(ExtractError::InvalidSchema {
                pointer: "/type".into(),
                message: "the schema must describe an object (\"type\": \"object\") whose properties are the fields to extract".into(),
            });
        }
        let props = schema.get("properties").and_then(Value::as_object).filter(|p| !p.is_empty()).ok_or_else(|| {
            ExtractError::InvalidSchema {
                pointer: "/properties".into(),
                message: "the schema needs at least one property to extract".into(),
            }
        })?;
        if props.len() > MAX_FIELDS {
            return Err(ExtractError::InvalidSchema {
                pointer: "/properties".into(),
                message: format!("{} properties; at most {MAX_FIELDS} are allowed", props.len()),
            });
        }
        let mut fields: Vec<Field> = props.iter().map(|(k, v)| field(k, v)).collect();
        fields.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self { name: name.to_owned(), schema, fields, validator })
    }

    /// Problems of `value` against the schema, each with its JSON pointer.
    pub fn problems(&self, value: &Value) -> Vec<String> {
        self.validator
            .iter_errors(value)
            .map(|e| format!("{}: {}", pointer_or_root(&e.instance_path().to_string()), e))
            .collect()
    }

    /// The fields the offline engine cannot fill.
    pub fn offline_gaps(&self) -> Vec<&Field> {
        self.fields.iter().filter(|f| f.kinds.is_empty()).collect()
    }
}

fn pointer_or_root(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

struct NoRetrieval;

impl jsonschema::Retrieve for NoRetrieval {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("external references are not fetched ({uri}); inline the referenced schema under $defs").into())
    }
}

fn field(name: &str, prop: &Value) -> Field {
    let ty = |v: &Value| v.get("type").and_then(Value::as_str).map(str::to_owned);
    let many = ty(prop).as_deref() == Some("array");
    let item = if many { prop.get("items").unwrap_or(&Value::Null) } else { prop };
    let numeric = matches!(ty(item).as_deref(), Some("integer" | "number"));
    let explicit: Vec<PiiKind> = match prop.get("x-entity").or_else(|| item.get("x-entity")) {
        Some(Value::String(s)) => PiiKind::parse(s).into_iter().collect(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).filter_map(PiiKind::parse).collect(),
        _ => Vec::new(),
    };
    let scalar = matches!(ty(item).as_deref(), Some("string" | "integer" | "number") | None);
    let kinds = if !explicit.is_empty() {
        explicit
    } else if !scalar {
        Vec::new()
    } else {
        item.get("format").and_then(Value::as_str).and_then(by_format).or_else(|| by_name(name)).unwrap_or_default()
    };
    Field { name: name.to_owned(), kinds, many, numeric }
}

fn by_format(format: &str) -> Option<Vec<PiiKind>> {
    Some(vec![match format {
        "email" | "idn-email" => PiiKind::EmailAddress,
        "uri" | "url" | "iri" | "hostname" | "idn-hostname" => PiiKind::Url,
        "ipv4" | "ipv6" => PiiKind::IpAddress,
        "date" | "date-time" | "time" => PiiKind::DateTime,
        "phone" => PiiKind::PhoneNumber,
        "iban" => PiiKind::IbanCode,
        _ => return None,
    }])
}

/// Property-name conventions, checked on the lowercased name with `_`/`-` removed.
fn by_name(name: &str) -> Option<Vec<PiiKind>> {
    use PiiKind::*;
    let n: String = name.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect();
    let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
    let kinds = if has(&["email", "mail"]) {
        vec![EmailAddress]
    } else if has(&["phone", "tel", "mobile", "fax"]) {
        vec![PhoneNumber]
    } else if has(&["url", "website", "homepage", "link", "domain"]) {
        vec![Url]
    } else if has(&["ipaddress", "ip"]) && n.len() <= 12 {
        vec![IpAddress]
    } else if has(&["iban"]) {
        vec![IbanCode]
    } else if has(&["card"]) {
        vec![CreditCard]
    } else if has(&["ssn", "socialsecurity"]) {
        vec![UsSsn]
    } else if has(&["date", "time", "when", "deadline", "due", "birthday", "dob", "start", "end"]) {
        vec![DateTime]
    } else if has(&["amount", "total", "price", "cost", "money", "salary", "fee", "sum"]) {
        vec![Money]
    } else if has(&["address", "street"]) {
        vec![StreetAddress]
    } else if has(&["zip", "postal", "postcode"]) {
        vec![ZipCode]
    } else if has(&["city", "country", "location", "place", "venue", "region", "town"]) {
        vec![Location, StreetAddress]
    } else if has(&["company", "organization", "organisation", "org", "employer", "vendor", "supplier", "firm", "bank"])
    {
        vec![Organization]
    } else if has(&["nationality", "religion", "nrp"]) {
        vec![Nrp]
    } else if has(&["title", "honorific"]) {
        vec![Title]
    } else if n == "age" {
        vec![Age]
    } else if has(&[
        "name",
        "person",
        "people",
        "attendee",
        "participant",
        "author",
        "customer",
        "employee",
        "contact",
        "who",
        "speaker",
    ]) {
        vec![Person]
    } else {
        return None;
    };
    Some(kinds)
}

/// The named schemas, as JSON Schemas with `x-entity` annotations (listed by `GET /v1/schemas`).
pub fn named() -> Vec<(&'static str, &'static str, Value)> {
    let s = |kind: &str| json!({"type": "string", "x-entity": kind});
    let list = |kind: &str| json!({"type": "array", "items": {"type": "string"}, "x-entity": kind});
    let pii_props: serde_json::Map<String, Value> =
        PiiKind::ALL.iter().map(|k| (k.as_str().to_lowercase(), list(k.as_str()))).collect();
    vec![
        (
            "contact",
            "A person's contact details: name, e-mail addresses, phone numbers, organisation, address, website.",
            json!({"type": "object", "properties": {
                "name": s("PERSON"), "emails": list("EMAIL_ADDRESS"), "phones": list("PHONE_NUMBER"),
                "organization": s("ORGANIZATION"), "address": s("STREET_ADDRESS"), "website": s("URL")}}),
        ),
        (
            "invoice",
            "An invoice: vendor, dates, amounts, IBAN, card numbers, e-mail, phone.",
            json!({"type": "object", "properties": {
                "vendor": s("ORGANIZATION"), "dates": list("DATE_TIME"), "amounts": list("MONEY"), "iban": s("IBAN_CODE"),
                "cards": list("CREDIT_CARD"), "email": s("EMAIL_ADDRESS"), "phone": s("PHONE_NUMBER")}}),
        ),
        (
            "meeting",
            "A meeting: participants, organisations, when, where, links.",
            json!({"type": "object", "properties": {
                "participants": list("PERSON"), "organizations": list("ORGANIZATION"), "when": list("DATE_TIME"),
                "where": {"type": "array", "items": {"type": "string"}, "x-entity": ["LOCATION", "STREET_ADDRESS"]},
                "links": list("URL")}}),
        ),
        (
            "entities",
            "People, organisations and locations mentioned in the text.",
            json!({"type": "object", "properties": {
                "people": list("PERSON"), "organizations": list("ORGANIZATION"), "locations": list("LOCATION")}}),
        ),
        (
            "pii",
            "Every PII type this service recognises, one list per type.",
            json!({"type": "object", "properties": pii_props}),
        ),
    ]
}

/// The named schemas, compiled once (they are fixed; compiling per request would redo the same
/// meta-validation on every call).
static COMPILED: LazyLock<Vec<Arc<Compiled>>> = LazyLock::new(|| {
    named()
        .into_iter()
        .map(|(n, _, schema)| Arc::new(Compiled::new(n, schema).expect("a named schema compiles")))
        .collect()
});

/// A named schema, compiled.
pub fn by_name_compiled(name: &str) -> Result<Arc<Compiled>, ExtractError> {
    COMPILED.iter().find(|c| c.name == name).cloned().ok_or_else(|| ExtractError::UnknownSchema(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_map_by_annotation_format_and_name() {
        let c = Compiled::new(
            "t",
            json!({"type": "object", "properties": {
                "who": {"type": "string", "x-entity": "ORGANIZATION"},
                "contact_email": {"type": "string", "format": "email"},
                "signup_date": {"type": "string"},
                "mood": {"type": "string"},
                "ages": {"type": "array", "items": {"type": "integer", "x-entity": "AGE"}}}}),
        )
        .unwrap();
        let k = |n: &str| c.fields.iter().find(|f| f.name == n).unwrap().clone();
        assert_eq!(k("who").kinds, [PiiKind::Organization]);
        assert_eq!(k("contact_email").kinds, [PiiKind::EmailAddress]);
        assert_eq!(k("signup_date").kinds, [PiiKind::DateTime]);
        assert!(k("ages").many && k("ages").numeric && k("ages").kinds == [PiiKind::Age]);
        assert_eq!(c.offline_gaps().iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["mood"]);
    }

    #[test]
    fn every_named_schema_compiles_and_the_offline_engine_can_fill_it() {
        for (name, _, _) in named() {
            let c = by_name_compiled(name).unwrap();
            assert!(c.offline_gaps().is_empty(), "{name}");
        }
    }

    #[test]
    fn bad_schemas_are_refused_with_a_pointer() {
        let e = Compiled::new("t", json!({"type": "object", "properties": {"a": {"type": 7}}})).unwrap_err();
        assert!(matches!(e, ExtractError::InvalidSchema { .. }), "{e:?}");
        let e = Compiled::new("t", json!({"type": "string"})).unwrap_err();
        assert!(e.to_string().contains("object"), "{e}");
        let e =
            Compiled::new("t", json!({"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}))
                .unwrap_err();
        assert!(e.to_string().contains("external references"), "{e}");
    }
}
