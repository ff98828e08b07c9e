//! tenant-kb's tests: the policy language, the leak property (every result of every read API
//! against an independent reference evaluator, on the embedded index and, with QDRANT_URL, on a
//! Qdrant server), the authorisation matrix over HTTP, the audit stores' conformance (SQLite;
//! PostgreSQL with DATABASE_URL), and erasure.

mod audit;
mod authz;
mod browser;
mod cache;
mod cluster;
mod erasure;
mod faults;
mod ingest;
mod jobs;
mod leak;
mod limits;
mod model;
mod policy;
mod sync;
mod workers;

use std::path::Path;
use tenant_kb::{Config, Kb};

pub const ADMIN: &str = "test-platform-token";

/// A service in `dir` with the embedded index (or the Qdrant server when `qdrant` is given).
pub async fn open(dir: &Path, qdrant: Option<&str>) -> Kb {
    let config = Config {
        data_dir: dir.to_owned(),
        admin_token: Some(ADMIN.into()),
        qdrant_url: qdrant.map(str::to_owned),
        qdrant_collection: format!("tenant_kb_test_{}", tenant_kb::crypto::random_hex(4)),
        jwt_hs256_secret: Some(authz::JWT_SECRET.into()),
        ..Config::default()
    };
    Kb::open(config).await.expect("open the knowledge base")
}

/// A server URL from the environment: `None` when unset, a panic when set but unreachable.
pub fn server_url(var: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|v| !v.is_empty())?;
    let hostport = url
        .split("://")
        .nth(1)
        .unwrap_or(&url)
        .split('/')
        .next()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("")
        .to_owned();
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&hostport)
        .unwrap_or_else(|e| panic!("{var}={url}: {e}"))
        .next()
        .unwrap_or_else(|| panic!("{var}={url}: no address"));
    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("{var}={url} is set but unreachable: {e}"));
    Some(url)
}
