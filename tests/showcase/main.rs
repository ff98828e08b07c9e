//! End-to-end tests of the showcase binary's library: a real server on port 0.

use genai_roadmap::{AppState, serve};

async fn start() -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(serve(listener, AppState::default(), async {
        let _ = rx.await;
    }));
    (base, tx, handle)
}

#[tokio::test]
async fn landing_page_health_and_graceful_shutdown() {
    let (base, stop, handle) = start().await;
    let health: serde_json::Value = reqwest::get(format!("{base}/healthz")).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let page = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(page.contains("Document Q&amp;A") && page.contains("genai-retrieval"), "{page}");
    let list: Vec<serde_json::Value> =
        reqwest::get(format!("{base}/api/milestones")).await.unwrap().json().await.unwrap();
    assert_eq!(list.len(), 8);
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}
