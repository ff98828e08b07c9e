//! Change-data-capture, the server's half: a connector (`tenant-kb sync`, `connectors.rs`) sends
//! a source's current documents and the ids it no longer has; the server keeps, per tenant and
//! source, each document's fingerprint, so an unchanged document costs nothing, a changed one
//! is replaced, a deleted one is erased, and sending the same batch twice changes nothing.
//!
//! A source only ever deletes documents it wrote: the ids it lists are matched against its own
//! manifest, so a connector cannot erase what a user or another source added.

use crate::auth::Member;
use crate::checks::{check_id, need};
use crate::store::Role;
use crate::{Kb, KbError, NewDocument};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::HashMap;
use utoipa::ToSchema;

pub(crate) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS kb_sync (
    tenant TEXT NOT NULL, source TEXT NOT NULL, document TEXT NOT NULL, fingerprint TEXT NOT NULL,
    synced_ms BIGINT NOT NULL, PRIMARY KEY (tenant, source, document))";

/// One round of changes from a source.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncBatch {
    /// Documents as the source has them now (new, changed or unchanged: unchanged ones are skipped).
    #[serde(default)]
    pub upserts: Vec<NewDocument>,
    /// Ids the source no longer has.
    #[serde(default)]
    pub deletes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SyncReport {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
}

/// What the server holds for a source: each document's fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Manifest {
    pub documents: HashMap<String, String>,
}

/// The fingerprint of a document as the source sent it (title, content, attributes), the same
/// on the connector and on the server.
pub fn fingerprint(d: &NewDocument) -> String {
    let mut h = Sha256::new();
    for part in [d.title.as_bytes(), d.text.as_bytes(), d.pdf_base64.as_deref().unwrap_or("").as_bytes()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.update(serde_json::to_vec(&d.attributes).unwrap_or_default());
    hex::encode(h.finalize())
}

fn check_source(source: &str) -> Result<(), KbError> {
    check_id(source, "source")
        .map_err(|_| KbError::invalid("invalid_source", "a source name is 1-128 of [A-Za-z0-9._@-]", "source"))
}

impl Kb {
    /// The source's manifest (writer).
    pub async fn sync_manifest(&self, m: &Member, source: &str) -> Result<Manifest, KbError> {
        need(m, Role::Writer)?;
        check_source(source)?;
        self.tenant_row(m.tenant()).await?;
        let rows = sqlx::query("SELECT document, fingerprint FROM kb_sync WHERE tenant = ? AND source = ?")
            .bind(m.tenant())
            .bind(source)
            .fetch_all(self.inner.store.pool())
            .await
            .map_err(crate::store::StoreError::from)?;
        Ok(Manifest { documents: rows.iter().map(|r| (r.get("document"), r.get("fingerprint"))).collect() })
    }

    /// Applies one round of a source's changes (writer); audited as `sync`.
    pub async fn sync(&self, m: &Member, source: &str, batch: SyncBatch) -> Result<SyncReport, KbError> {
        need(m, Role::Writer)?;
        check_source(source)?;
        if batch.upserts.len() + batch.deletes.len() > 1_000 {
            return Err(KbError::invalid("invalid_batch", "at most 1000 upserts and deletes per round", "/upserts"));
        }
        for (i, id) in batch.deletes.iter().enumerate() {
            check_id(id, &format!("/deletes/{i}"))?;
        }
        if !batch.upserts.is_empty() {
            self.check_documents(&batch.upserts)?;
        }
        let manifest = self.sync_manifest(m, source).await?.documents;
        let mut report = SyncReport::default();
        let mut changed = Vec::new();
        let mut prints = Vec::new();
        for d in batch.upserts {
            let print = fingerprint(&d);
            match manifest.get(&d.id) {
                Some(old) if *old == print => report.unchanged += 1,
                Some(_) => report.updated += 1,
                None => report.added += 1,
            }
            if manifest.get(&d.id) != Some(&print) {
                prints.push((d.id.clone(), print));
                changed.push(d);
            }
        }
        if !changed.is_empty() {
            // Documents first, then the manifest: a crash in between re-sends them next round.
            self.add_documents(m, changed).await?;
            let now = crate::audit::now_ms();
            let pool = self.inner.store.pool();
            for (id, print) in &prints {
                sqlx::query(
                    "INSERT INTO kb_sync (tenant, source, document, fingerprint, synced_ms) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT (tenant, source, document) DO UPDATE SET fingerprint = excluded.fingerprint, synced_ms = excluded.synced_ms",
                )
                .bind(m.tenant())
                .bind(source)
                .bind(id)
                .bind(print)
                .bind(now)
                .execute(pool)
                .await
                .map_err(crate::store::StoreError::from)?;
            }
        }
        for id in batch.deletes.iter().filter(|id| manifest.contains_key(*id)) {
            match self.delete_document(m, id).await {
                Ok(()) | Err(KbError::NotFound { .. }) => report.deleted += 1,
                Err(e) => return Err(e),
            }
        }
        let detail = json!({"source": source, "report": report, "via": m.via});
        self.record(m.tenant(), &m.user.id, "sync", vec![], detail).await?;
        Ok(report)
    }
}
