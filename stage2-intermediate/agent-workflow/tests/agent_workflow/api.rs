//! The HTTP API: a run started, followed as server-sent events to its approval, approved and
//! published once; every bad request a precise 4xx in the one error shape (snapshots); and a
//! run a killed server left mid-way is driven again when the next server opens the journal.

use agent_workflow::Service;
use agent_workflow::state::Research;
use genai_agent::{Journal, RunStatus, SqliteJournal};
use serde_json::{Value, json};
use std::sync::Arc;

pub struct Server {
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap().unwrap();
    }
}

pub async fn serve(service: Service) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(agent_workflow::serve(listener, service, async {
        let _ = rx.await;
    }));
    Server { base, stop, handle }
}

pub async fn service(dir: &std::path::Path, publish: bool) -> (Service, Arc<dyn Journal>) {
    let corpus = agent_workflow::service::write_demo_corpus(&dir.join("demo")).unwrap();
    let journal: Arc<dyn Journal> = Arc::new(SqliteJournal::open(&dir.join("runs.db")).await.unwrap());
    let publish = publish.then(|| dir.join("reports"));
    (Service::open(journal.clone(), &corpus, publish).await.unwrap(), journal)
}

/// Reads the run's event stream until an event of type `until`; returns the types seen.
async fn read_events(base: &str, id: &str, until: &str) -> Vec<String> {
    let mut resp = reqwest::get(format!("{base}/api/runs/{id}/events")).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let (mut seen, mut buf) = (Vec::new(), String::new());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, resp.chunk()).await.unwrap() {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if let Some(kind) = block.lines().find_map(|l| l.strip_prefix("event: ")) {
                seen.push(kind.to_string());
                if kind == until {
                    return seen;
                }
            }
        }
    }
    panic!("the stream ended before {until}: {seen:?}");
}

#[tokio::test]
async fn a_run_is_followed_live_approved_and_published_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(service(dir.path(), true).await.0).await;
    let http = reqwest::Client::new();
    let q = "Who was born first, Ada Lovelace or Grace Hopper?";
    let r =
        http.post(format!("{}/api/runs", s.base)).json(&json!({"question": q, "publish": true})).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let seen = read_events(&s.base, &id, "interrupted").await;
    assert_eq!(seen.first().map(String::as_str), Some("started"));
    assert!(seen.iter().filter(|k| *k == "checkpoint").count() >= 5, "{seen:?}");
    let view: Value = http.get(format!("{}/api/runs/{id}", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(view["status"], "parked");
    assert_eq!(view["pending"]["action"], "publish the report");
    assert_eq!(view["state"]["draft"]["answer"], "Ada Lovelace");

    let approve = |body: Value| http.post(format!("{}/api/runs/{id}/approval", s.base)).json(&body).send();
    assert_eq!(approve(json!({"decision": "approve"})).await.unwrap().status(), 202);
    let rest = read_events(&s.base, &id, "finished").await;
    assert!(rest.contains(&"effect_intent".to_string()), "{rest:?}");
    let again = approve(json!({"decision": "approve"})).await.unwrap();
    assert_eq!(again.status(), 409, "a finished run takes no second approval");
    let reports: Vec<_> = std::fs::read_dir(dir.path().join("reports")).unwrap().filter_map(Result::ok).collect();
    assert_eq!(reports.len(), 1);
    let checkpoints: Vec<Value> =
        http.get(format!("{}/api/runs/{id}/checkpoints", s.base)).send().await.unwrap().json().await.unwrap();
    let nodes: Vec<&str> = checkpoints.iter().map(|c| c["node"].as_str().unwrap()).collect();
    assert_eq!(nodes, ["plan", "research", "analyse", "write", "review", "publish"]);
    let fork = http.post(format!("{}/api/runs/{id}/fork", s.base)).json(&json!({"step": 3})).send().await.unwrap();
    assert_eq!(fork.status(), 202);
    let forked = fork.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(read_events(&s.base, &forked, "interrupted").await.first().map(String::as_str), Some("started"));
    s.stop().await;
}

#[tokio::test]
async fn bad_requests_get_precise_errors_in_one_shape() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(service(dir.path(), false).await.0).await;
    let http = reqwest::Client::new();
    let post = |path: &str, ct: &str, body: &str| {
        http.post(format!("{}{path}", s.base)).header("content-type", ct).body(body.to_string()).send()
    };
    let mut out = Vec::new();
    for (path, ct, body) in [
        ("/api/runs", "text/plain", r#"{"question": "q"}"#),
        ("/api/runs", "application/json", r#"{"question": "#),
        ("/api/runs", "application/json", r#"{"question": "   "}"#),
        ("/api/runs", "application/json", r#"{"question": "Who?", "publish": true}"#),
        ("/api/runs", "application/json", r#"{"question": "Who?", "model": "gpt-4o"}"#),
        ("/api/runs/nope/approval", "application/json", r#"{"decision": "approve"}"#),
        ("/api/runs/nope/fork", "application/json", r#"{"step": "three"}"#),
    ] {
        let r = post(path, ct, body).await.unwrap();
        out.push(json!({"request": format!("POST {path} {body}"), "status": r.status().as_u16(), "body": r.json::<Value>().await.unwrap()}));
    }
    let r = http.get(format!("{}/api/runs/nope", s.base)).send().await.unwrap();
    out.push(json!({"request": "GET /api/runs/nope", "status": r.status().as_u16(), "body": r.json::<Value>().await.unwrap()}));
    insta::assert_json_snapshot!("api_errors", out);
    // A run waiting for approval: a bad decision is a 422, resume is a 409.
    let r = http
        .post(format!("{}/api/runs", s.base))
        .json(&json!({"question": "Who was born first, Ada Lovelace or Grace Hopper?"}))
        .send()
        .await
        .unwrap();
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    read_events(&s.base, &id, "finished").await;
    let r = post(&format!("/api/runs/{id}/approval"), "application/json", r#"{"decision": "maybe"}"#).await.unwrap();
    assert_eq!(r.status(), 422, "the decision is checked before the run's state");
    let r = post(&format!("/api/runs/{id}/resume"), "application/json", "").await.unwrap();
    assert_eq!(r.status(), 409, "a finished run is not resumed");
    let graph: Value = http.get(format!("{}/api/graph", s.base)).send().await.unwrap().json().await.unwrap();
    insta::assert_json_snapshot!("api_graph", graph);
    let spec: Value = http.get(format!("{}/openapi.json", s.base)).send().await.unwrap().json().await.unwrap();
    assert!(spec["paths"]["/api/runs/{id}/approval"]["post"].is_object());
    s.stop().await;
}

#[tokio::test]
async fn a_run_left_running_by_a_killed_server_is_driven_by_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        // The first server's journal holds a started run that nobody drove to the end.
        let (first, journal) = service(dir.path(), false).await;
        drop(first);
        let corpus = std::fs::canonicalize(dir.path().join("demo")).unwrap();
        let rt = agent_workflow::service::runtime(journal, &corpus).await.unwrap();
        let input = Research {
            question: "In what year was the designer of the Analytical Engine born?".into(),
            corpus: Some(corpus.display().to_string()),
            ..Research::default()
        };
        rt.start(Some("left-running".into()), &input).await.unwrap()
    };
    let (second, journal) = service(dir.path(), false).await;
    let s = serve(second).await;
    read_events(&s.base, &id, "finished").await;
    assert_eq!(journal.run(&id).await.unwrap().status, RunStatus::Finished);
    let view: Value = reqwest::get(format!("{}/api/runs/{id}", s.base)).await.unwrap().json().await.unwrap();
    assert_eq!(view["state"]["draft"]["answer"], "1791", "{view:#}");
    s.stop().await;
}
