//! The conformance suite against a real Qdrant server, when `QDRANT_URL` is set (CI sets it where
//! a server runs). Set but unreachable is a failure, not a skip.

use crate::{conformance, embedder};
use genai_retrieval::{ServerConfig, ServerIndex};
use std::sync::Arc;

#[tokio::test]
async fn server_backend_passes_the_conformance_suite() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        eprintln!("SKIPPED: Qdrant server conformance (QDRANT_URL is not set)");
        return;
    };
    let e = embedder();
    let config = ServerConfig {
        url: url.clone(),
        collection: format!("conformance_{}", std::process::id()),
        ..ServerConfig::default()
    };
    let index = ServerIndex::open(config, e.model_id(), e.dim())
        .await
        .unwrap_or_else(|err| panic!("QDRANT_URL={url} is set but the server is unusable: {err}"));
    let index = Arc::new(index);
    conformance::suite(index.clone()).await;
    index.drop_collection().await.unwrap();
}
