//! Change-data-capture, the connector's half: a [`Source`] (a folder, a PostgreSQL table) is
//! read in full, compared with the server's manifest of what this source wrote, and only the
//! difference is sent (`POST /v1/sync/{source}`), so a round with no changes sends nothing and a
//! round repeated after a crash changes nothing. Connectors talk to the HTTP API with a writer
//! key, like any client: they run beside the server, not inside it.
//!
//! Production note: each round reads the whole source (a folder walk, a `SELECT` of the table),
//! which is simple and self-healing (a missed event is caught by the next round) but costs
//! O(source) per round; a source of millions of rows wants an `updated_at` cursor or logical
//! replication, and a folder of that size inotify.

use crate::sync::{Manifest, SyncBatch, SyncReport, fingerprint};
use crate::{NewDocument, policy::Attrs};
use anyhow::{Context, bail};
use async_trait::async_trait;
use base64::Engine;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

/// Upserts per request, and their total size at most (under the server's 16 MiB body limit).
const ROUND_DOCS: usize = 200;
const ROUND_BYTES: usize = 8 * 1024 * 1024;

/// Something documents come from.
#[async_trait]
pub trait Source: Send {
    /// The source's name on the server (`[A-Za-z0-9._@-]`): its manifest is kept under it.
    fn name(&self) -> &str;
    /// Every document the source has now.
    async fn snapshot(&mut self) -> anyhow::Result<Vec<NewDocument>>;
    /// Returns when the source may have changed: after `interval`, or sooner when the source
    /// can say so (PostgreSQL `NOTIFY`).
    async fn changed(&mut self, interval: Duration) {
        tokio::time::sleep(interval).await;
    }
}

/// The tenant API, as a connector uses it.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    /// `base` is the server's URL (`http://127.0.0.1:8087`), `key` a writer's API key or JWT.
    pub fn new(base: &str, key: &str) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(300)).build().unwrap_or_default();
        Self { http, base: base.trim_end_matches('/').to_owned(), key: key.to_owned() }
    }

    async fn call<T: serde::de::DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> anyhow::Result<T> {
        let resp = req.bearer_auth(&self.key).send().await.with_context(|| format!("calling {}", self.base))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            bail!("{status}: {body}");
        }
        Ok(resp.json().await?)
    }

    pub async fn manifest(&self, source: &str) -> anyhow::Result<Manifest> {
        self.call(self.http.get(format!("{}/v1/sync/{source}", self.base))).await
    }

    pub async fn sync(&self, source: &str, batch: &SyncBatch) -> anyhow::Result<SyncReport> {
        self.call(self.http.post(format!("{}/v1/sync/{source}", self.base)).json(batch)).await
    }
}

/// One round: the source's snapshot against the server's manifest; only changes are sent.
pub async fn sync_once(client: &Client, source: &mut dyn Source) -> anyhow::Result<SyncReport> {
    let docs = source.snapshot().await.with_context(|| format!("reading source {}", source.name()))?;
    let manifest = client.manifest(source.name()).await?.documents;
    let present: HashSet<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    let mut deletes: Vec<String> = manifest.keys().filter(|id| !present.contains(id.as_str())).cloned().collect();
    deletes.sort();
    let mut total = SyncReport::default();
    let mut round = SyncBatch::default();
    let mut round_bytes = 0;
    for d in docs {
        if manifest.get(&d.id) == Some(&fingerprint(&d)) {
            total.unchanged += 1;
            continue;
        }
        let size = d.text.len() + d.pdf_base64.as_ref().map_or(0, String::len);
        if !round.upserts.is_empty() && (round.upserts.len() >= ROUND_DOCS || round_bytes + size > ROUND_BYTES) {
            add(&mut total, client.sync(source.name(), &round).await?);
            round = SyncBatch::default();
            round_bytes = 0;
        }
        round_bytes += size;
        round.upserts.push(d);
    }
    if !round.upserts.is_empty() {
        add(&mut total, client.sync(source.name(), &round).await?);
    }
    // Deletes last, in rounds of their own (a round holds at most 1,000 items in all).
    for chunk in deletes.chunks(ROUND_DOCS) {
        add(&mut total, client.sync(source.name(), &SyncBatch { upserts: Vec::new(), deletes: chunk.to_vec() }).await?);
    }
    Ok(total)
}

fn add(total: &mut SyncReport, r: SyncReport) {
    total.added += r.added;
    total.updated += r.updated;
    total.unchanged += r.unchanged;
    total.deleted += r.deleted;
}

/// Rounds until `shutdown`: one at start, then one each time the source may have changed. A
/// failed round is logged and retried at the next.
pub async fn watch(client: &Client, source: &mut dyn Source, interval: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        match sync_once(client, source).await {
            Ok(r) if r.added + r.updated + r.deleted > 0 => {
                tracing::info!(
                    source = source.name(),
                    added = r.added,
                    updated = r.updated,
                    deleted = r.deleted,
                    "synced"
                );
            }
            Ok(_) => tracing::debug!(source = source.name(), "no changes"),
            Err(e) => tracing::warn!(source = source.name(), error = %format!("{e:#}"), "sync round failed"),
        }
        tokio::select! {
            () = source.changed(interval) => {}
            () = &mut shutdown => return,
        }
    }
}

/// A folder: each Markdown, text or PDF file (recursively, hidden ones skipped) is a document;
/// its id is its path under the folder with `/` as `@`, its title the file name.
pub struct Folder {
    pub name: String,
    pub root: PathBuf,
    /// Attributes every document of the folder gets.
    pub attributes: Attrs,
}

#[async_trait]
impl Source for Folder {
    fn name(&self) -> &str {
        &self.name
    }

    async fn snapshot(&mut self) -> anyhow::Result<Vec<NewDocument>> {
        let root = self.root.clone();
        let files = tokio::task::spawn_blocking(move || genai_ingest::collect_files(&[root])).await??;
        let mut docs = Vec::new();
        for path in files {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            if !["md", "markdown", "txt", "pdf"].contains(&ext.as_str()) {
                continue;
            }
            let rel = path.strip_prefix(&self.root).unwrap_or(&path).to_string_lossy().replace('/', "@");
            let id: String =
                rel.chars().map(|c| if c.is_ascii_alphanumeric() || "._@-".contains(c) { c } else { '-' }).collect();
            if id.len() > 128 {
                tracing::warn!(path = %path.display(), "skipped: the path is over 128 characters as an id");
                continue;
            }
            let bytes = tokio::fs::read(&path).await.with_context(|| format!("reading {}", path.display()))?;
            let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| id.clone());
            let (text, pdf_base64) = if ext == "pdf" {
                (String::new(), Some(base64::engine::general_purpose::STANDARD.encode(&bytes)))
            } else {
                (String::from_utf8_lossy(&bytes).into_owned(), None)
            };
            if text.trim().is_empty() && pdf_base64.is_none() {
                continue;
            }
            docs.push(NewDocument { id, title, text, pdf_base64, attributes: self.attributes.clone() });
        }
        Ok(docs)
    }
}

/// A PostgreSQL table or view with columns `id`, `title`, `body` and, optionally, `attributes`
/// (JSON object of string arrays). With `channel`, a `NOTIFY` on it starts a round at once
/// (a trigger on the table sends it; `tenant-kb sync postgres --help` prints one).
pub struct PgTable {
    pub name: String,
    pub table: String,
    pool: sqlx::PgPool,
    listener: Option<sqlx::postgres::PgListener>,
}

impl PgTable {
    pub async fn connect(name: &str, url: &str, table: &str, channel: Option<&str>) -> anyhow::Result<Self> {
        let ok = |s: &str| {
            !s.is_empty() && s.len() <= 63 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        };
        if !ok(table) || channel.is_some_and(|c| !ok(c)) {
            bail!("table and channel names are 1-63 of [A-Za-z0-9_.]");
        }
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(url)
            .await
            .context("connecting to PostgreSQL")?;
        let listener = match channel {
            Some(c) => {
                let mut l = sqlx::postgres::PgListener::connect_with(&pool).await?;
                l.listen(c).await?;
                Some(l)
            }
            None => None,
        };
        Ok(Self { name: name.to_owned(), table: table.to_owned(), pool, listener })
    }
}

#[async_trait]
impl Source for PgTable {
    fn name(&self) -> &str {
        &self.name
    }

    async fn snapshot(&mut self) -> anyhow::Result<Vec<NewDocument>> {
        use sqlx::Row;
        let sql = format!(
            "SELECT id::text AS id, title::text AS title, body::text AS body, (to_jsonb(t) -> 'attributes')::text AS attributes FROM {} t ORDER BY 1",
            self.table
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        let mut docs = Vec::with_capacity(rows.len());
        for r in rows {
            let attrs: Option<String> = r.try_get("attributes")?;
            let attributes = match attrs.as_deref() {
                None | Some("null") => Attrs::new(),
                Some(v) => serde_json::from_str(v).context("attributes must be an object of string arrays")?,
            };
            docs.push(NewDocument {
                id: r.try_get("id")?,
                title: r.try_get::<Option<String>, _>("title")?.unwrap_or_default(),
                text: r.try_get::<Option<String>, _>("body")?.unwrap_or_default(),
                pdf_base64: None,
                attributes,
            });
        }
        Ok(docs)
    }

    async fn changed(&mut self, interval: Duration) {
        match &mut self.listener {
            // A notification or the interval, whichever comes first; a lost connection falls
            // back to polling (the listener reconnects on the next recv).
            Some(l) => {
                if let Ok(Ok(_)) = tokio::time::timeout(interval, l.recv()).await {
                    // A burst of changes is one round: take what arrives in the next moment too.
                    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(100), l.recv()).await {}
                }
            }
            None => tokio::time::sleep(interval).await,
        }
    }
}
