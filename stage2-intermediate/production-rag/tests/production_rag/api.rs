//! The HTTP API end to end on the offline path.

use crate::{ask, config, corpus, ingest, serve, stages};
use production_rag::Rag;
use serde_json::{Value, json};

#[tokio::test]
async fn ingest_query_cache_and_delete_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(Rag::open(config(dir.path())).await.unwrap()).await;
    let client = reqwest::Client::new();
    let job = ingest(&client, &s.base, &corpus()).await;
    assert_eq!((job["total"].as_u64(), job["indexed"].as_u64()), (Some(4), Some(4)), "{job}");
    assert_eq!(client.get(format!("{}/readyz", s.base)).send().await.unwrap().status(), 200);

    let (status, r) = ask(&client, &s.base, json!({"query": "How often is the coolant pump inspected?"})).await;
    assert_eq!(status, 200, "{r}");
    assert!(!r["refused"].as_bool().unwrap(), "{r}");
    assert!(r["text"].as_str().unwrap().contains("six months"), "{r}");
    assert_eq!(r["citations"][0]["source"], "pumps.md");
    assert_eq!(r["trace"]["cache"], "miss");
    assert_eq!(
        stages(&r["trace"]),
        ["cache_exact", "embed", "cache_semantic", "retrieve", "rerank", "route", "generate", "cache_insert"]
    );

    // The same question, differently spelt: an exact hit (normalised), and no retrieval at all.
    let (_, again) = ask(&client, &s.base, json!({"query": "  how often is the COOLANT pump inspected "})).await;
    assert_eq!(again["trace"]["cache"], "exact", "{again}");
    assert_eq!(stages(&again["trace"]), ["cache_exact"]);
    assert_eq!(again["text"], r["text"]);
    // Another filter is another scope: never served from the unfiltered entry.
    let (_, scoped) = ask(
        &client,
        &s.base,
        json!({"query": "How often is the coolant pump inspected?", "filters": {"category": ["maintenance"]}}),
    )
    .await;
    assert_eq!(scoped["trace"]["cache"], "miss", "{scoped}");

    // A question the documents do not answer is refused, citing nothing.
    let (_, no) = ask(&client, &s.base, json!({"query": "What is the capital of Australia?"})).await;
    assert!(no["refused"].as_bool().unwrap(), "{no}");
    assert_eq!(no["citations"], json!([]));

    // Deleting the cited document removes it and the cached answers that cite it.
    let doc = r["citations"][0]["doc_id"].as_str().unwrap().to_owned();
    let res = client.delete(format!("{}/v1/documents/{doc}", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (_, after) = ask(&client, &s.base, json!({"query": "How often is the coolant pump inspected?"})).await;
    assert_ne!(after["trace"]["cache"], "exact", "an answer citing a deleted document was served: {after}");
    assert!(after["citations"].as_array().unwrap().iter().all(|c| c["doc_id"] != doc.as_str()), "{after}");
    let res = client.delete(format!("{}/v1/documents/{doc}", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_document");
    let docs: Value = client.get(format!("{}/v1/documents", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(docs.as_array().unwrap().len(), 3);
    s.stop().await;
}

#[tokio::test]
async fn filters_narrow_the_search_and_never_widen_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(Rag::open(config(dir.path())).await.unwrap()).await;
    let client = reqwest::Client::new();
    ingest(&client, &s.base, &corpus()).await;
    let q = "How often is it serviced or inspected or rotated?";
    let sources = |r: &Value| -> Vec<String> {
        r["trace"]["passages"].as_array().unwrap().iter().map(|p| p["source"].as_str().unwrap().to_owned()).collect()
    };
    let (_, r) =
        ask(&client, &s.base, json!({"query": q, "filters": {"category": ["policy"]}, "no_cache": true})).await;
    let got = sources(&r);
    assert!(!got.is_empty() && got.iter().all(|s| s == "travel.txt" || s == "security.md"), "{got:?}");
    let (_, r) = ask(&client, &s.base, json!({"query": q, "filters": {"doc_type": ["html"]}, "no_cache": true})).await;
    assert_eq!(sources(&r), ["boilers.html"]);
    let (_, r) = ask(
        &client,
        &s.base,
        json!({"query": q, "filters": {"date": {"from": "2024-01", "to": "2024-12"}}, "no_cache": true}),
    )
    .await;
    let got = sources(&r);
    assert!(!got.is_empty() && got.iter().all(|s| s == "pumps.md" || s == "security.md"), "{got:?}");
    // A filter nothing matches finds nothing (and refuses), rather than searching everything.
    let (_, r) =
        ask(&client, &s.base, json!({"query": q, "filters": {"category": ["finance"]}, "no_cache": true})).await;
    assert!(sources(&r).is_empty() && r["refused"] == true, "{r}");

    // Filters that cannot be run exactly are refused with where the problem is.
    for (filters, at) in [
        (json!({"author": ["x"]}), "/filters"),
        (json!({"doc_type": ["docx"]}), "/filters"),
        (json!({"category": []}), "/filters/category"),
        (json!({"date": {"from": "2024-13"}}), "/filters/date/from"),
        (json!({"date": {"from": "2025-01", "to": "2024-01"}}), "/filters/date"),
    ] {
        let (status, body) = ask(&client, &s.base, json!({"query": q, "filters": filters})).await;
        assert!(status == 400 || status == 422, "{filters}: {status} {body}");
        assert!(body["error"]["at"].as_str().unwrap().starts_with(at), "{filters}: {body}");
    }
    s.stop().await;
}

#[tokio::test]
async fn bad_requests_get_one_error_shape_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(Rag::open(config(dir.path())).await.unwrap()).await;
    let client = reqwest::Client::new();
    ingest(&client, &s.base, &corpus()).await;
    let huge = "why ".repeat(1_000);
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"query": ""}), 422, "empty_query"),
        (json!({"query": "   "}), 422, "empty_query"),
        (json!({"query": huge}), 422, "invalid_query"),
        (json!({"query": "x", "top_k": 0}), 422, "invalid_query"),
        (json!({"query": "x", "top_k": "five"}), 422, "invalid_request"),
        (json!({"query": "x", "mode": "fast"}), 422, "invalid_request"),
        (json!({"question": "x"}), 422, "invalid_request"),
        (json!({"query": "x", "filters": [null, null]}), 422, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let (got, err) = ask(&client, &s.base, body.clone()).await;
        assert_eq!((got, err["error"]["code"].as_str()), (status, Some(code)), "{body}: {err}");
    }
    let res = client
        .post(format!("{}/v1/query", s.base))
        .body("{\"query\": ")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = client.post(format!("{}/v1/query", s.base)).body("query=x").send().await.unwrap();
    assert_eq!(res.status(), 415);
    // Bad documents are refused before a job starts.
    for (body, at) in [
        (json!({"documents": []}), "/documents"),
        (json!({"documents": [{"name": "a.txt"}]}), "/documents/0"),
        (json!({"documents": [{"name": "a.txt", "text": "x", "date": "May 2024"}]}), "/documents/0/date"),
        (json!({"documents": [{"name": "a.pdf", "content_base64": "***"}]}), "/documents/0/content_base64"),
    ] {
        let res = client.post(format!("{}/v1/documents", s.base)).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 422, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["at"], at, "{body}: {err}");
    }
    // A file that cannot be read is skipped with its reason; the others are indexed.
    let job = ingest(
        &client,
        &s.base,
        &json!({"documents": [
        {"name": "broken.pdf", "text": "%PDF-1.7 not really"},
        {"name": "fine.txt", "text": "The lift is inspected weekly."}]}),
    )
    .await;
    assert_eq!((job["indexed"].as_u64(), job["skipped"].as_u64()), (Some(1), Some(1)), "{job}");
    let docs: Value = client.get(format!("{}/v1/documents", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(docs.as_array().unwrap().len(), 5, "the four documents are intact and one was added");
    let (_, r) = ask(&client, &s.base, json!({"query": "How often is the coolant pump inspected?"})).await;
    assert!(r["text"].as_str().unwrap().contains("six months"), "{r}");
    s.stop().await;
}

#[tokio::test]
async fn server_sent_events_stream_deltas_then_the_answer_then_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(Rag::open(config(dir.path())).await.unwrap()).await;
    let client = reqwest::Client::new();
    ingest(&client, &s.base, &corpus()).await;
    let res = client
        .post(format!("{}/v1/query", s.base))
        .header("accept", "text/event-stream")
        .json(&json!({"query": "When are passwords rotated?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let body = res.text().await.unwrap();
    let events: Vec<&str> = body.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert!(events.len() >= 3 && events[..events.len() - 2].iter().all(|e| *e == "delta"), "{events:?}");
    assert_eq!(&events[events.len() - 2..], ["answer", "summary"]);
    assert!(body.contains("ninety days"), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn openapi_and_metrics_describe_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(Rag::open(config(dir.path())).await.unwrap()).await;
    let client = reqwest::Client::new();
    let spec: Value = client.get(format!("{}/openapi.json", s.base)).send().await.unwrap().json().await.unwrap();
    for path in ["/v1/query", "/v1/documents", "/v1/documents/{id}", "/v1/jobs/{id}"] {
        assert!(spec["paths"][path].is_object(), "{path} missing");
    }
    ingest(&client, &s.base, &corpus()).await;
    ask(&client, &s.base, json!({"query": "When are passwords rotated?"})).await;
    ask(&client, &s.base, json!({"query": "What is the capital of Australia?"})).await;
    let metrics = client.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    for name in ["rag_stage_seconds", "rag_queries_total", "genai_cache_lookups_total", "rag_ingested_files_total"] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    // Every series the alert rules watch is exported (the cache store's errors only on failure).
    let rules = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/alerts.yml")).unwrap();
    let watched: std::collections::BTreeSet<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("rag_") || w.starts_with("genai_cache_"))
        .collect();
    assert!(watched.len() >= 5, "{watched:?}");
    for name in watched.iter().filter(|n| **n != "genai_cache_store_errors_total") {
        assert!(metrics.contains(name), "alerts.yml watches {name}, which /metrics does not export");
    }
    let page = client.get(format!("{}/", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Production RAG"));
    s.stop().await;
}
