//! The HTTP API on a real socket: sessions, JSON and SSE replies, deletion, and a precise 4xx
//! with a JSON body for every kind of bad input.

use crate::offline;
use serde_json::{Value, json};

struct Server {
    base: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let bot = offline(dir.path(), 420).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(chatbot::serve(listener, bot, async {
        let _ = rx.await;
    }));
    Server { base, client: reqwest::Client::new(), _stop: tx, _dir: dir }
}

impl Server {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.client.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn raw(&self, path: &str, content_type: &str, body: &'static [u8]) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn session(&self) -> String {
        let (status, body) = self.post("/v1/sessions", json!({})).await;
        assert_eq!(status, 201);
        body["id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn a_conversation_over_http_with_json_and_streamed_replies() {
    let s = start().await;
    let page = s.client.get(&s.base).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<title>"), "the chat page is served");
    let id = s.session().await;
    let (status, body) =
        s.post(&format!("/v1/sessions/{id}/messages"), json!({"content": "My locker code is 4471."})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["reply"].as_str().unwrap().starts_with("Noted"));
    assert_eq!(body["memory"]["engine"], "offline");

    let r = s
        .client
        .post(format!("{}/v1/sessions/{id}/messages", s.base))
        .json(&json!({"content": "What is my locker code?", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let events = r.text().await.unwrap();
    let names: Vec<&str> = events.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(names.first(), Some(&"meta"));
    assert_eq!(names.last(), Some(&"done"));
    assert!(events.contains("4471"), "{events}");

    let stored: Value =
        s.client.get(format!("{}/v1/sessions/{id}", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(stored["messages"].as_array().unwrap().len(), 4, "both turns stored: {stored}");
}

#[tokio::test]
async fn deleting_a_session_deletes_its_messages_and_its_recall() {
    let s = start().await;
    let id = s.session().await;
    for t in 0..8 {
        let (status, _) = s
            .post(
                &format!("/v1/sessions/{id}/messages"),
                json!({"content": format!("Shelf {t} holds the blue crates.")}),
            )
            .await;
        assert_eq!(status, 200);
    }
    let r = s.client.delete(format!("{}/v1/sessions/{id}", s.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = s.client.get(format!("{}/v1/sessions/{id}", s.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = s.client.delete(format!("{}/v1/sessions/{id}", s.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn bad_requests_get_a_precise_4xx_with_a_json_body() {
    let s = start().await;
    let id = s.session().await;
    let messages = format!("/v1/sessions/{id}/messages");
    let cases: Vec<(u16, Value, &str)> = vec![
        {
            let (st, b) = s.raw(&messages, "application/json", b"{\"content\": ").await;
            (st, b, "invalid_json")
        },
        {
            let (st, b) = s.raw(&messages, "text/plain", b"hello").await;
            (st, b, "invalid_json")
        },
        {
            let (st, b) = s.post(&messages, json!({"content": 42})).await;
            (st, b, "invalid_json")
        },
        {
            let (st, b) = s.post(&messages, json!({"content": "hi", "temperature": 2})).await;
            (st, b, "invalid_json")
        },
        {
            let (st, b) = s.post(&messages, json!({"content": "   "})).await;
            (st, b, "invalid_input")
        },
        {
            let (st, b) = s.post(&messages, json!({"content": "word ".repeat(2000)})).await;
            (st, b, "too_long")
        },
        {
            let (st, b) = s.post("/v1/sessions/0123/messages", json!({"content": "hi"})).await;
            (st, b, "unknown_session")
        },
        {
            let (st, b) = s
                .post("/v1/sessions", json!({"messages": [{"role": "tool", "tool_call_id": "x", "content": "1"}]}))
                .await;
            (st, b, "invalid_input")
        },
        {
            let (st, b) = s.raw("/v1/sessions", "application/json", b"[1,2").await;
            (st, b, "invalid_json")
        },
    ];
    for (status, body, code) in cases {
        assert!((400..500).contains(&status), "{status} {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let stored: Value =
        s.client.get(format!("{}/v1/sessions/{id}", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(stored["messages"].as_array().unwrap().len(), 0, "no bad request stored anything");
}
