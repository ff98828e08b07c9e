//! doc-qa integration tests: the HTTP API with good and malformed uploads, answers and
//! refusals, the model answerer against the mock server, and the page in a real browser.

mod api;
mod browser;
mod llm;
mod real_server;

use doc_qa::{AnswererChoice, Config, DocQa};
use std::path::PathBuf;

/// A service over a fresh temporary library (hashing embedder, extractive answers).
pub async fn service(dir: &std::path::Path) -> DocQa {
    let config = Config { data_dir: dir.to_owned(), answerer: AnswererChoice::Extractive, ..Config::default() };
    DocQa::open(config).await.unwrap()
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/genai-ingest/tests/fixtures").join(name)
}

pub const HANDBOOK: &str = "# Maintenance handbook\n\n\
## Pumps\n\nThe coolant pump must be inspected every six months by a certified technician. \
Inspectors record the pressure, the temperature and any corrosion on the valves.\n\n\
## Lubrication\n\nRotating equipment is lubricated weekly. A missed lubrication is reported to the shift supervisor within one day.\n";

/// A running API server; call [`Server::stop`] before its data folder goes away.
pub struct Server {
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Graceful shutdown; returns once the service (and its index) is closed.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap().unwrap();
    }
}

/// Starts the API on port 0.
pub async fn start(qa: DocQa) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(doc_qa::serve(listener, qa, async {
        let _ = rx.await;
    }));
    Server { base, stop, handle }
}

#[cfg(feature = "langchain")]
mod langchain;
