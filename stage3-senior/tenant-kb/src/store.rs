//! The registry: tenants (with their wrapped data key and policy), users, API keys and
//! documents (text sealed under the tenant's data key). SQLite, with `secure_delete` on so that
//! erased rows and destroyed keys are overwritten on disk, not just unlinked.

use crate::policy::Attrs;
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use utoipa::ToSchema;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS kb_tenants (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, wrapped_key BLOB, policy TEXT NOT NULL,
        created_ms BIGINT NOT NULL, erased_ms BIGINT)",
    "CREATE TABLE IF NOT EXISTS kb_users (
        tenant TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL,
        attrs TEXT NOT NULL, created_ms BIGINT NOT NULL, PRIMARY KEY (tenant, id))",
    "CREATE TABLE IF NOT EXISTS kb_keys (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, user_id TEXT NOT NULL, scope TEXT NOT NULL,
        hash TEXT NOT NULL, created_ms BIGINT NOT NULL, revoked_ms BIGINT)",
    "CREATE TABLE IF NOT EXISTS kb_documents (
        tenant TEXT NOT NULL, id TEXT NOT NULL, title TEXT NOT NULL, attrs TEXT NOT NULL,
        sealed BLOB NOT NULL, chunks BIGINT NOT NULL, owner TEXT NOT NULL, created_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, id))",
];

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub created_ms: i64,
    /// Set once the tenant was erased (its key destroyed).
    pub erased_ms: Option<i64>,
    #[serde(skip)]
    pub wrapped_key: Option<Vec<u8>>,
    #[serde(skip)]
    pub policy: String,
}

/// What a user may do, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Search, ask, read the documents the policy lets them see.
    Reader,
    /// Also add and delete documents.
    Writer,
    /// Also manage users, keys, the policy; read and verify the audit log.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reader" => Some(Role::Reader),
            "writer" => Some(Role::Writer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct User {
    pub tenant: String,
    pub id: String,
    pub name: String,
    pub role: Role,
    pub attributes: Attrs,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRow {
    pub id: String,
    pub tenant: String,
    pub user_id: String,
    pub scope: Role,
    pub hash: String,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DocumentInfo {
    pub id: String,
    pub title: String,
    pub attributes: Attrs,
    pub chunks: u64,
    pub owner: String,
    pub created_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("registry unavailable: {0}")]
    Unavailable(#[from] sqlx::Error),
    #[error("{what} {id:?} already exists")]
    Exists { what: &'static str, id: String },
}

impl Store {
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .pragma("secure_delete", "on");
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(opts).await?;
        for s in SCHEMA.iter().chain([&crate::jobs::SCHEMA]).chain(crate::pii::SCHEMA).chain([&crate::sync::SCHEMA]) {
            sqlx::query(*s).execute(&pool).await?;
        }
        Ok(Self { pool })
    }

    /// The connection pool, for the job queue's statements.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn create_tenant(&self, t: &Tenant) -> Result<(), StoreError> {
        let r =
            sqlx::query("INSERT INTO kb_tenants (id, name, wrapped_key, policy, created_ms) VALUES (?, ?, ?, ?, ?)")
                .bind(&t.id)
                .bind(&t.name)
                .bind(&t.wrapped_key)
                .bind(&t.policy)
                .bind(t.created_ms)
                .execute(&self.pool)
                .await;
        exists(r, "tenant", &t.id)
    }

    pub async fn tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query("SELECT * FROM kb_tenants WHERE id = ?").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| tenant_row(&r)))
    }

    pub async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows = sqlx::query("SELECT * FROM kb_tenants ORDER BY id").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(tenant_row).collect())
    }

    pub async fn set_policy(&self, tenant: &str, policy: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE kb_tenants SET policy = ? WHERE id = ?")
            .bind(policy)
            .bind(tenant)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Crypto-shredding: the wrapped key is overwritten and every row of the tenant goes, in one
    /// transaction. The tenant row stays (erased) so its id is not reused and its audit chain
    /// still verifies.
    pub async fn erase_tenant(&self, tenant: &str, at_ms: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE kb_tenants SET wrapped_key = NULL, policy = '', erased_ms = ? WHERE id = ?")
            .bind(at_ms)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        for table in ["kb_users", "kb_keys", "kb_documents", "kb_jobs", "kb_vault", "kb_pii_settings", "kb_sync"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE tenant = ?")))
                .bind(tenant)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        // Also out of the write-ahead log: checkpoint it into the (securely deleted) main file.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn create_user(&self, u: &User, at_ms: i64) -> Result<(), StoreError> {
        let r =
            sqlx::query("INSERT INTO kb_users (tenant, id, name, role, attrs, created_ms) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(&u.tenant)
                .bind(&u.id)
                .bind(&u.name)
                .bind(u.role.as_str())
                .bind(serde_json::to_string(&u.attributes).unwrap_or_default())
                .bind(at_ms)
                .execute(&self.pool)
                .await;
        exists(r, "user", &u.id)
    }

    pub async fn user(&self, tenant: &str, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM kb_users WHERE tenant = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| User {
            tenant: r.get("tenant"),
            id: r.get("id"),
            name: r.get("name"),
            role: Role::parse(r.get::<&str, _>("role")).unwrap_or(Role::Reader),
            attributes: serde_json::from_str(r.get::<&str, _>("attrs")).unwrap_or_default(),
        }))
    }

    pub async fn users(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM kb_users WHERE tenant = ? ORDER BY id")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.get("id")).collect())
    }

    /// Deletes the user and their API keys; true when the user existed.
    pub async fn delete_user(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM kb_keys WHERE tenant = ? AND user_id = ?")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM kb_users WHERE tenant = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn put_key(&self, k: &ApiKeyRow, at_ms: i64) -> Result<(), StoreError> {
        let r =
            sqlx::query("INSERT INTO kb_keys (id, tenant, user_id, scope, hash, created_ms) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(&k.id)
                .bind(&k.tenant)
                .bind(&k.user_id)
                .bind(k.scope.as_str())
                .bind(&k.hash)
                .bind(at_ms)
                .execute(&self.pool)
                .await;
        exists(r, "key", &k.id)
    }

    pub async fn key(&self, id: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM kb_keys WHERE id = ?").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| ApiKeyRow {
            id: r.get("id"),
            tenant: r.get("tenant"),
            user_id: r.get("user_id"),
            scope: Role::parse(r.get::<&str, _>("scope")).unwrap_or(Role::Reader),
            hash: r.get("hash"),
            revoked: r.get::<Option<i64>, _>("revoked_ms").is_some(),
        }))
    }

    /// Revokes a key of `tenant`; true when it existed and was live.
    pub async fn revoke_key(&self, tenant: &str, id: &str, at_ms: i64) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE kb_keys SET revoked_ms = ? WHERE id = ? AND tenant = ? AND revoked_ms IS NULL")
            .bind(at_ms)
            .bind(id)
            .bind(tenant)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Inserts or replaces documents with their sealed text, in one transaction.
    /// Writes documents and their vault rows in one transaction; a replaced document's old vault
    /// rows go.
    pub(crate) async fn put_documents(
        &self,
        tenant: &str,
        docs: &[(DocumentInfo, Vec<u8>)],
        vault: &[crate::pii::VaultEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (d, _) in docs {
            sqlx::query("DELETE FROM kb_vault WHERE tenant = ? AND document = ?")
                .bind(tenant)
                .bind(&d.id)
                .execute(&mut *tx)
                .await?;
        }
        for v in vault {
            sqlx::query("INSERT INTO kb_vault (tenant, document, token, kind, sealed) VALUES (?, ?, ?, ?, ?)")
                .bind(tenant)
                .bind(&v.document)
                .bind(&v.token)
                .bind(&v.kind)
                .bind(&v.sealed)
                .execute(&mut *tx)
                .await?;
        }
        for (d, sealed) in docs {
            sqlx::query(
                "INSERT INTO kb_documents (tenant, id, title, attrs, sealed, chunks, owner, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (tenant, id) DO UPDATE SET title = excluded.title, attrs = excluded.attrs, sealed = excluded.sealed,
                 chunks = excluded.chunks, owner = excluded.owner, created_ms = excluded.created_ms",
            )
            .bind(tenant)
            .bind(&d.id)
            .bind(&d.title)
            .bind(serde_json::to_string(&d.attributes).unwrap_or_default())
            .bind(sealed)
            .bind(d.chunks as i64)
            .bind(&d.owner)
            .bind(d.created_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The document and its sealed text.
    pub async fn document(&self, tenant: &str, id: &str) -> Result<Option<(DocumentInfo, Vec<u8>)>, StoreError> {
        let row = sqlx::query("SELECT * FROM kb_documents WHERE tenant = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (doc_row(&r), r.get("sealed"))))
    }

    /// Attributes of these documents of `tenant` (absent ones are left out), without their text:
    /// what the post-retrieval check reads for every hit.
    pub async fn attributes(
        &self,
        tenant: &str,
        ids: &[String],
    ) -> Result<HashMap<String, (String, Attrs)>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(100) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("SELECT id, title, attrs FROM kb_documents WHERE tenant = ? AND id IN ({marks})");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let attrs = serde_json::from_str(r.get::<&str, _>("attrs")).unwrap_or_default();
                out.insert(r.get("id"), (r.get("title"), attrs));
            }
        }
        Ok(out)
    }

    pub async fn documents(&self, tenant: &str) -> Result<Vec<DocumentInfo>, StoreError> {
        let rows = sqlx::query("SELECT * FROM kb_documents WHERE tenant = ? ORDER BY id")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(doc_row).collect())
    }

    /// Deletes a document, its vault rows and its place in any source's manifest.
    pub async fn delete_document(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM kb_vault WHERE tenant = ? AND document = ?",
            "DELETE FROM kb_sync WHERE tenant = ? AND document = ?",
        ] {
            sqlx::query(sql).bind(tenant).bind(id).execute(&mut *tx).await?;
        }
        let r = sqlx::query("DELETE FROM kb_documents WHERE tenant = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Liveness of the database, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn exists(
    r: Result<sqlx::sqlite::SqliteQueryResult, sqlx::Error>,
    what: &'static str,
    id: &str,
) -> Result<(), StoreError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.as_database_error().is_some_and(|d| d.is_unique_violation()) => {
            Err(StoreError::Exists { what, id: id.to_owned() })
        }
        Err(e) => Err(e.into()),
    }
}

fn tenant_row(r: &sqlx::sqlite::SqliteRow) -> Tenant {
    Tenant {
        id: r.get("id"),
        name: r.get("name"),
        created_ms: r.get("created_ms"),
        erased_ms: r.get("erased_ms"),
        wrapped_key: r.get("wrapped_key"),
        policy: r.get("policy"),
    }
}

fn doc_row(r: &sqlx::sqlite::SqliteRow) -> DocumentInfo {
    DocumentInfo {
        id: r.get("id"),
        title: r.get("title"),
        attributes: serde_json::from_str(r.get::<&str, _>("attrs")).unwrap_or_default(),
        chunks: r.get::<i64, _>("chunks") as u64,
        owner: r.get("owner"),
        created_ms: r.get("created_ms"),
    }
}
