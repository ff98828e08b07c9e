//! production-rag tests: the HTTP API end to end (ingest jobs, queries as JSON and SSE, filters
//! that fail closed, deletion that invalidates cached answers, bad input), the model path against
//! the mock server with failures injected and a client that disconnects, the spans received by an
//! in-test OTLP collector, the cache on Redis, and
//! the page in headless Chromium.

mod api;
mod browser;
mod model;
mod otel;
mod redis;

use production_rag::{CacheBackend, Config, Rag};
use serde_json::{Value, json};

/// Four small documents in two categories and two months.
pub fn corpus() -> Value {
    json!({"documents": [
        {"name": "pumps.md", "category": "maintenance", "date": "2024-03",
         "text": "# Pump maintenance\n\nThe coolant pump is inspected every six months. Its seals are replaced every two years, or sooner when a leak is found."},
        {"name": "travel.txt", "category": "policy", "date": "2023-11",
         "text": "Employees book travel through the travel desk. Economy class is the default for flights under six hours."},
        {"name": "security.md", "category": "policy", "date": "2024-06",
         "text": "# Security\n\nPasswords are rotated every ninety days. Hardware keys are required for administrator accounts."},
        {"name": "boilers.html", "category": "maintenance", "date": "2022-01",
         "text": "<html><head><title>Boilers</title></head><body><p>The boiler is serviced once a year by a certified engineer.</p></body></html>"}
    ]})
}

pub fn config(dir: &std::path::Path) -> Config {
    Config { data_dir: dir.to_owned(), cache: CacheBackend::Memory, ..Config::default() }
}

/// A running server on a random port.
pub struct Server {
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Stops the server and waits until the service is closed: its index must be flushed
    /// before the test's temporary folder is removed.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

pub async fn serve(rag: Rag) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(production_rag::serve(listener, rag, async {
        let _ = stopped.await;
    }));
    Server { base, stop, task }
}

/// Posts the corpus and waits for its job to finish.
pub async fn ingest(client: &reqwest::Client, base: &str, body: &Value) -> Value {
    let res = client.post(format!("{base}/v1/documents")).json(body).send().await.unwrap();
    assert_eq!(res.status(), 202);
    let job: Value = res.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    for _ in 0..200 {
        let job: Value = client.get(format!("{base}/v1/jobs/{id}")).send().await.unwrap().json().await.unwrap();
        if job["state"] == "done" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

pub async fn ask(client: &reqwest::Client, base: &str, body: Value) -> (u16, Value) {
    let res = client.post(format!("{base}/v1/query")).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// The stage names of a trace, in order.
pub fn stages(trace: &Value) -> Vec<String> {
    trace["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
}
