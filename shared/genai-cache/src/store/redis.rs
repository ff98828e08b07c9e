//! The Redis store: each operation is one Redis command (or one pipeline), under a timeout.
//!
//! The connection is made on first use and re-made by redis-rs's `ConnectionManager` after a
//! drop, so a server that is down at start-up, or restarts, costs bypassed lookups, not a
//! service that cannot start. While the server is unreachable, a new connection is attempted at
//! most once per `reconnect_every`, so a dead server does not add a connect timeout to every
//! request. The same interval is a circuit breaker on an open connection: after an operation
//! fails for want of the server (a timeout, a dropped connection), operations fail at once until
//! the interval has passed, then the next ones probe it; a server that dies or hangs mid-load
//! costs one operation timeout per interval, not one per request.

use super::{CacheStore, StoreError};
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Where Redis is and how long to wait for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RedisConfig {
    /// `redis://host:port/db` (default `redis://127.0.0.1:6379/0`, or `REDIS_URL`).
    pub url: String,
    /// Longest wait for one operation before it counts as unavailable (default 100 ms: a cache
    /// slower than that no longer saves time).
    pub op_timeout_ms: u64,
    /// Longest wait for a new connection (default 250 ms).
    pub connect_timeout_ms: u64,
    /// Least time between two connection attempts while the server is down, and how long
    /// operations are skipped after one failed for want of the server (default 1 s).
    pub reconnect_every_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379/0".into(),
            op_timeout_ms: 100,
            connect_timeout_ms: 250,
            reconnect_every_ms: 1_000,
        }
    }
}

/// Keys, values and sets on a Redis server.
pub struct RedisStore {
    client: redis::Client,
    config: RedisConfig,
    conn: Mutex<Connection>,
    /// Operations fail at once until this instant (the breaker is open).
    skip_until: std::sync::Mutex<Option<Instant>>,
}

#[derive(Default)]
struct Connection {
    manager: Option<ConnectionManager>,
    last_attempt: Option<Instant>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("url", &redact(&self.config.url)).finish()
    }
}

/// The URL without a password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

fn classify(e: redis::RedisError) -> StoreError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Rejected(e.to_string())
    }
}

impl RedisStore {
    /// Checks the URL; connects on first use.
    pub fn new(config: RedisConfig) -> Result<Self, StoreError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| StoreError::Rejected(format!("invalid Redis URL {}: {e}", redact(&config.url))))?;
        Ok(Self { client, config, conn: Mutex::new(Connection::default()), skip_until: Default::default() })
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let mut conn = self.conn.lock().await;
        if let Some(m) = &conn.manager {
            return Ok(m.clone());
        }
        let every = Duration::from_millis(self.config.reconnect_every_ms);
        if conn.last_attempt.is_some_and(|t| t.elapsed() < every) {
            return Err(StoreError::Unavailable(format!(
                "{} is down (retrying every {every:?})",
                redact(&self.config.url)
            )));
        }
        conn.last_attempt = Some(Instant::now());
        let timeout = Duration::from_millis(self.config.connect_timeout_ms);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(Duration::from_millis(self.config.op_timeout_ms))
            .set_number_of_retries(1);
        let manager = tokio::time::timeout(timeout, ConnectionManager::new_with_config(self.client.clone(), config))
            .await
            .map_err(|_| StoreError::Unavailable(format!("connecting to {} timed out", redact(&self.config.url))))?
            .map_err(classify)?;
        conn.manager = Some(manager.clone());
        Ok(manager)
    }

    /// Runs one command or pipeline under the operation timeout.
    /// Runs one command or pipeline under the operation timeout, unless the breaker is open.
    async fn run<T: redis::FromRedisValue>(&self, cmd: impl CommandLike) -> Result<T, StoreError> {
        if let Some(until) = *self.skip_until.lock().unwrap_or_else(|p| p.into_inner())
            && Instant::now() < until
        {
            metrics::counter!("genai_cache_store_skipped_total").increment(1);
            return Err(StoreError::Unavailable(format!(
                "{} failed moments ago; skipped for {} ms",
                redact(&self.config.url),
                self.config.reconnect_every_ms
            )));
        }
        let result = self.attempt(cmd).await;
        if matches!(result, Err(StoreError::Unavailable(_))) {
            let every = Duration::from_millis(self.config.reconnect_every_ms);
            *self.skip_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + every);
        }
        result
    }

    async fn attempt<T: redis::FromRedisValue>(&self, cmd: impl CommandLike) -> Result<T, StoreError> {
        let mut conn = self.connection().await?;
        let timeout = Duration::from_millis(self.config.op_timeout_ms);
        match tokio::time::timeout(timeout, cmd.query(&mut conn)).await {
            Ok(result) => result.map_err(classify),
            Err(_) => Err(StoreError::Unavailable(format!("no answer within {timeout:?}"))),
        }
    }
}

/// A command or a pipeline, run the same way.
trait CommandLike: Send {
    fn query<T: redis::FromRedisValue>(
        &self,
        conn: &mut ConnectionManager,
    ) -> impl Future<Output = redis::RedisResult<T>> + Send;
}

impl CommandLike for redis::Cmd {
    fn query<T: redis::FromRedisValue>(
        &self,
        conn: &mut ConnectionManager,
    ) -> impl Future<Output = redis::RedisResult<T>> + Send {
        self.query_async(conn)
    }
}

impl CommandLike for redis::Pipeline {
    fn query<T: redis::FromRedisValue>(
        &self,
        conn: &mut ConnectionManager,
    ) -> impl Future<Output = redis::RedisResult<T>> + Send {
        self.query_async(conn)
    }
}

fn millis(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

#[async_trait]
impl CacheStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let pong: String = self.run(redis::cmd("PING")).await?;
        if pong == "PONG" { Ok(()) } else { Err(StoreError::Rejected(format!("PING answered {pong:?}"))) }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.run(redis::cmd("GET").arg(key).clone()).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // MGET of one key answers a bare value, not an array; redis-rs reads both into a Vec.
        self.run(redis::cmd("MGET").arg(keys).clone()).await
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.run(redis::cmd("SET").arg(key).arg(value).arg("PX").arg(millis(ttl)).clone()).await
    }

    async fn delete(&self, keys: &[String]) -> Result<u64, StoreError> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.run(redis::cmd("DEL").arg(keys).clone()).await
    }

    async fn add_to_set(&self, set: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        // NX sets a first expiry on a new set; GT only ever extends it (Redis >= 7.0).
        let ms = millis(ttl);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SADD")
            .arg(set)
            .arg(member)
            .ignore()
            .cmd("PEXPIRE")
            .arg(set)
            .arg(ms)
            .arg("NX")
            .ignore()
            .cmd("PEXPIRE")
            .arg(set)
            .arg(ms)
            .arg("GT")
            .ignore();
        self.run(pipe).await
    }

    async fn union(&self, sets: &[String]) -> Result<Vec<String>, StoreError> {
        if sets.is_empty() {
            return Ok(Vec::new());
        }
        self.run(redis::cmd("SUNION").arg(sets).clone()).await
    }

    async fn remove_from_set(&self, set: &str, members: &[String]) -> Result<(), StoreError> {
        if members.is_empty() {
            return Ok(());
        }
        let _: u64 = self.run(redis::cmd("SREM").arg(set).arg(members).clone()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(super::redact("redis://user:secret@host:6379/0"), "redis://***@host:6379/0");
        assert_eq!(super::redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
