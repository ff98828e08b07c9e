//! Real Qdrant server processes for tests and benchmarks: a single node or a cluster on loopback.
//!
//! The binary is an input, never a path into the team folder: `QDRANT_BIN` names it. Without it
//! [`QdrantBin::from_env`] returns `None` and the caller prints why its test is skipped. Each node
//! runs in its own temporary folder (so no stray `config/` is read), with telemetry off, bound to
//! 127.0.0.1 on free ports, and is killed when dropped.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// The Qdrant server binary.
#[derive(Debug, Clone)]
pub struct QdrantBin(PathBuf);

impl QdrantBin {
    /// `QDRANT_BIN`, or `None` (printing `SKIPPED: <what>`) when it is not set. Panics when it is
    /// set but is not a file: a configured server test must not pass silently.
    pub fn from_env(what: &str) -> Option<Self> {
        let Ok(path) = std::env::var("QDRANT_BIN") else {
            eprintln!("SKIPPED: {what} (QDRANT_BIN is not set)");
            return None;
        };
        let path = PathBuf::from(path);
        assert!(path.is_file(), "QDRANT_BIN={} is set but is not a file", path.display());
        Some(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

/// One `qdrant` process with its storage folder and ports.
#[derive(Debug)]
pub struct QdrantNode {
    bin: QdrantBin,
    dir: tempfile::TempDir,
    pub http_port: u16,
    pub grpc_port: u16,
    pub p2p_port: Option<u16>,
    /// The p2p URL of the node to join (cluster members after the first).
    bootstrap: Option<String>,
    child: Option<Child>,
}

impl QdrantNode {
    /// Starts a single node (no cluster mode) and waits until it is ready.
    pub async fn single(bin: &QdrantBin) -> Self {
        let mut node = Self::new(bin, false, None);
        node.start().await;
        node
    }

    fn new(bin: &QdrantBin, cluster: bool, bootstrap: Option<String>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder for the Qdrant node");
        Self {
            bin: bin.clone(),
            dir,
            http_port: free_port(),
            grpc_port: free_port(),
            p2p_port: cluster.then(free_port),
            bootstrap,
            child: None,
        }
    }

    /// The gRPC URL the project's `ServerIndex` talks to.
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    fn p2p_url(&self) -> Option<String> {
        self.p2p_port.map(|p| format!("http://127.0.0.1:{p}"))
    }

    /// Starts (or restarts, with the same storage and ports) the process and waits for `/readyz`.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "node already running");
        let d = self.dir.path();
        let mut cmd = Command::new(self.bin.path());
        cmd.current_dir(d)
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", self.http_port.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.grpc_port.to_string())
            .env("QDRANT__STORAGE__STORAGE_PATH", d.join("storage"))
            .env("QDRANT__STORAGE__SNAPSHOTS_PATH", d.join("snapshots"))
            .env("QDRANT__LOG_LEVEL", "WARN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("qdrant.log")).map(Stdio::from).unwrap_or_else(|_| Stdio::null()))
            .kill_on_drop(true);
        if let (Some(p2p), Some(uri)) = (self.p2p_port, self.p2p_url()) {
            cmd.env("QDRANT__CLUSTER__ENABLED", "true").env("QDRANT__CLUSTER__P2P__PORT", p2p.to_string());
            cmd.arg("--uri").arg(uri);
            if let Some(b) = &self.bootstrap {
                cmd.arg("--bootstrap").arg(b);
            }
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.path().display()));
        self.child = Some(child);
        let url = self.http_url();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some((200, _)) = http_get(self.http_port, "/readyz").await {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("qdrant at {url} exited during start-up ({status}); log: {}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("qdrant at {url} not ready after 60 s; log: {}", self.log_tail());
    }

    /// SIGKILL: no shutdown, no flush; the storage folder stays for a restart.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Graceful stop (SIGTERM through `kill`, which Qdrant handles by exiting 0).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
            }
            if tokio::time::timeout(Duration::from_secs(20), child.wait()).await.is_err() {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    }

    /// The process id while running (to read its memory from /proc).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// A JSON document from the node's REST API (`/cluster`, `/collections/x/cluster`, ...).
    pub async fn get_json(&self, path: &str) -> Option<Value> {
        let (status, body) = http_get(self.http_port, path).await?;
        (status == 200).then(|| serde_json::from_str(&body).ok()).flatten()
    }

    /// The last lines of the node's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("qdrant.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// Three (or more) nodes in one Raft cluster on loopback.
#[derive(Debug)]
pub struct QdrantCluster {
    pub nodes: Vec<QdrantNode>,
}

impl QdrantCluster {
    /// Starts `n` nodes one after another (each joining the first) and waits until the first
    /// node sees all `n` peers.
    pub async fn start(bin: &QdrantBin, n: usize) -> Self {
        assert!(n >= 1);
        let mut first = QdrantNode::new(bin, true, None);
        first.start().await;
        let bootstrap = first.p2p_url();
        let mut nodes = vec![first];
        for _ in 1..n {
            let mut node = QdrantNode::new(bin, true, bootstrap.clone());
            node.start().await;
            nodes.push(node);
        }
        let cluster = Self { nodes };
        cluster.wait_for_peers(n).await;
        cluster
    }

    /// Waits until the first running node reports `n` peers (panics after 60 s).
    pub async fn wait_for_peers(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            for node in self.nodes.iter().filter(|n| n.is_running()) {
                let peers =
                    node.get_json("/cluster").await.and_then(|v| v["result"]["peers"].as_object().map(|p| p.len()));
                if peers == Some(n) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the cluster did not reach {n} peers in 60 s");
    }

    /// gRPC URLs of every node, the first first.
    pub fn grpc_urls(&self) -> Vec<String> {
        self.nodes.iter().map(QdrantNode::grpc_url).collect()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A minimal HTTP/1.0 GET on loopback (no client dependency for two probe calls).
async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Some((status, body))
    };
    tokio::time::timeout(Duration::from_secs(5), fut).await.ok().flatten()
}
