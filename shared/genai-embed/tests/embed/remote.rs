use genai_core::backoff::Backoff;
use genai_embed::{EmbedError, Embedder, RemoteConfig, RemoteEmbedder};
use genai_testkit::{MockOpenAi, Reply};
use std::time::Duration;

fn fast_backoff() -> Backoff {
    Backoff { max_attempts: 3, base: Duration::from_millis(5), cap: Duration::from_millis(20), ..Backoff::default() }
}

fn config(mock: &MockOpenAi) -> RemoteConfig {
    RemoteConfig {
        base_url: mock.base_url(),
        model: "mock-embed".into(),
        dim: mock.embedding_dim(),
        max_batch: 2,
        timeout_ms: 300,
        api_key_env: "GENAI_TEST_NO_SUCH_KEY".into(),
        ..RemoteConfig::default()
    }
}

#[tokio::test]
async fn batches_sorts_by_index_and_normalises() {
    let mock = MockOpenAi::start(8).await;
    let e = RemoteEmbedder::with_backoff(config(&mock), fast_backoff()).unwrap();
    let texts: Vec<String> = ["a", "bb", "ccc", "dddd", "e"].iter().map(|s| s.to_string()).collect();
    let vs = e.embed(&texts).await.unwrap();
    assert_eq!(vs.len(), 5);
    assert_eq!(mock.requests_to("/v1/embeddings").len(), 3, "max_batch 2 → 3 requests");
    for v in &vs {
        assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // Same text → same vector regardless of batch position: order was restored.
    let again = e.embed(&["ccc".to_string()]).await.unwrap();
    assert_eq!(again[0], vs[2]);
    let body = &mock.requests_to("/v1/embeddings")[0].body;
    assert_eq!(body["model"], "mock-embed");
    assert_eq!(body["encoding_format"], "float");
}

#[tokio::test]
async fn retries_429_and_5xx_honouring_retry_after() {
    let mock = MockOpenAi::start(4).await;
    mock.enqueue(
        "/v1/embeddings",
        [
            Reply::Status { code: 429, retry_after: Some(0), body: "slow down".into() },
            Reply::Status { code: 503, retry_after: None, body: "busy".into() },
        ],
    );
    let e = RemoteEmbedder::with_backoff(config(&mock), fast_backoff()).unwrap();
    e.embed(&["x".to_string()]).await.unwrap();
    assert_eq!(mock.requests_to("/v1/embeddings").len(), 3);
}

#[tokio::test]
async fn never_retries_client_errors_and_gives_up_after_max_attempts() {
    let mock = MockOpenAi::start(4).await;
    mock.enqueue("/v1/embeddings", [Reply::Status { code: 400, retry_after: None, body: "bad input".into() }]);
    let e = RemoteEmbedder::with_backoff(config(&mock), fast_backoff()).unwrap();
    let err = e.embed(&["x".to_string()]).await.unwrap_err();
    assert!(matches!(err, EmbedError::Remote { status: 400, .. }), "{err}");
    assert_eq!(mock.requests_to("/v1/embeddings").len(), 1);

    let down = || Reply::Status { code: 500, retry_after: None, body: "down".into() };
    mock.enqueue("/v1/embeddings", [down(), down(), down(), down()]);
    let err = e.embed(&["x".to_string()]).await.unwrap_err();
    assert!(matches!(err, EmbedError::Remote { status: 500, .. }));
    assert_eq!(mock.requests_to("/v1/embeddings").len(), 1 + 3, "3 attempts in all");
}

#[tokio::test]
async fn timeouts_retry_and_malformed_or_wrong_shaped_answers_are_typed_errors() {
    let mock = MockOpenAi::start(4).await;
    mock.enqueue("/v1/embeddings", [Reply::Delay(Duration::from_secs(2), Box::new(Reply::Default))]);
    let e = RemoteEmbedder::with_backoff(config(&mock), fast_backoff()).unwrap();
    e.embed(&["x".to_string()]).await.expect("second attempt succeeds after the first times out");
    assert_eq!(mock.requests_to("/v1/embeddings").len(), 2);

    mock.enqueue("/v1/embeddings", [Reply::Malformed("{\"data\": [".into())]);
    assert!(matches!(e.embed(&["x".to_string()]).await, Err(EmbedError::Transport { .. })));

    let wrong_dim = serde_json::json!({"data": [{"index": 0, "embedding": [1.0, 0.0]}]});
    mock.enqueue("/v1/embeddings", [Reply::Json(wrong_dim)]);
    assert!(matches!(e.embed(&["x".to_string()]).await, Err(EmbedError::WrongDimension { expected: 4, got: 2 })));

    mock.enqueue("/v1/embeddings", [Reply::Json(serde_json::json!({"data": []}))]);
    assert!(matches!(e.embed(&["x".to_string()]).await, Err(EmbedError::WrongCount { expected: 1, got: 0 })));
}
