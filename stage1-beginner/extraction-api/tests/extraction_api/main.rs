//! extraction-api tests: responses and every malformed-input error (insta snapshots), a
//! property test that no request gets a 5xx, the LLM engine against the mock provider (span
//! resolution, re-asks, the guard, provider failures), the prompt, and the docs page in a real
//! browser.

mod api;
mod browser;
mod llm;
mod malformed;
mod real_server;

use extraction_api::{Config, Extractor};

/// A running server on port 0 and its base URL; stops when dropped.
pub struct TestApp {
    pub url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestApp {
    pub async fn start(ex: Extractor) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(extraction_api::api::serve(listener, ex, async {
            let _ = rx.await;
        }));
        Self { url, _stop: tx }
    }

    /// POSTs raw bytes with a content type; returns status and the JSON body.
    pub async fn post(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (u16, serde_json::Value) {
        let mut req = reqwest::Client::new().post(format!("{}{path}", self.url)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|_| serde_json::Value::String(text)))
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.post(path, Some("application/json"), body.to_string()).await
    }
}

/// Small limits so the limit errors are cheap to trigger.
pub fn small_limits() -> Config {
    Config { max_body_bytes: 4_096, max_text_chars: 1_000, ..Config::default() }
}
