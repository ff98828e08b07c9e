//! No request, however broken, gets a 5xx: random bytes, mutated valid requests and randomly
//! shaped JSON, against a real server. Every non-2xx answer has the JSON error shape.

use crate::{TestApp, small_limits};
use extraction_api::Extractor;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::OnceLock;

struct Shared {
    rt: tokio::runtime::Runtime,
    app: TestApp,
}

fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let app = rt.block_on(TestApp::start(Extractor::new(small_limits(), None)));
        Shared { rt, app }
    })
}

fn check(path: &str, content_type: Option<&str>, body: Vec<u8>) -> Result<(), TestCaseError> {
    let s = shared();
    let (status, body) = s.rt.block_on(s.app.post(path, content_type, body));
    prop_assert!(status < 500, "status {status}: {body}");
    if status >= 400 {
        prop_assert!(body["error"]["code"].is_string(), "status {status} without the error shape: {body}");
    }
    Ok(())
}

const VALID: &[&str] = &[
    r#"{"text": "Call Anna Schmidt on +49 30 901820", "schema": "contact"}"#,
    r#"{"text": "Pay GB82 WEST 1234 5698 7654 32", "json_schema": {"type": "object", "properties": {"iban": {"type": "string"}}}}"#,
    r#"{"text": "Mail anna@example.org", "mode": "hash"}"#,
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::String),
        prop::sample::select(vec!["object", "string", "array", "PERSON", "email", "pii", "llm", "offline"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "type",
                    "properties",
                    "items",
                    "x-entity",
                    "format",
                    "$ref",
                    "required",
                    "enum",
                    "a"
                ])
                .prop_map(String::from),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_get_a_5xx(
        body in prop::collection::vec(any::<u8>(), 0..300),
        ct in prop::sample::select(vec![Some("application/json"), Some("text/plain"), None, Some("application/problem+json; charset=utf-8")]),
        path in prop::sample::select(vec!["/v1/extract", "/v1/redact", "/v1/guard"]),
    ) {
        check(path, ct, body)?;
    }

    #[test]
    fn mutated_valid_requests_never_get_a_5xx(
        base in prop::sample::select(VALID.to_vec()),
        cut in 0usize..200,
        insert in any::<u8>(),
        at in 0usize..200,
        path in prop::sample::select(vec!["/v1/extract", "/v1/redact"]),
    ) {
        let mut bytes = base.as_bytes().to_vec();
        bytes.insert(at.min(bytes.len()), insert);
        bytes.truncate(cut.max(1).min(bytes.len()));
        check(path, Some("application/json"), bytes)?;
    }

    #[test]
    fn randomly_shaped_requests_never_get_a_5xx(
        text in json_value(),
        schema in json_value(),
        json_schema in json_value(),
        engine in json_value(),
        mode in json_value(),
        path in prop::sample::select(vec!["/v1/extract", "/v1/redact", "/v1/guard"]),
    ) {
        let body = match path {
            "/v1/extract" => json!({"text": text, "schema": schema, "json_schema": json_schema, "engine": engine}),
            "/v1/redact" => json!({"text": text, "mode": mode}),
            _ => json!({"text": text}),
        };
        check(path, Some("application/json"), body.to_string().into_bytes())?;
    }

    #[test]
    fn random_inline_schemas_with_real_text_never_get_a_5xx(json_schema in json_value()) {
        let body = json!({"text": "Anna Schmidt, anna@example.org, +49 30 901820, 2025-03-14", "json_schema": json_schema, "engine": "offline"});
        check("/v1/extract", Some("application/json"), body.to_string().into_bytes())?;
    }
}
