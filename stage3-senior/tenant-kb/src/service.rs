//! The service: opening its stores, authentication, and the tenant, user, key, policy and audit
//! operations. Documents, search and answers are in `content.rs`.

use crate::audit::{self, AuditStore, NewEntry, PostgresAudit, SqliteAudit, Verification};
use crate::auth::{Credential, JwtVerifier, Member, Principal, hash_secret, same_hash};
use crate::checks::admin_token;
use crate::checks::{check_text, need, not_found, platform};
use crate::crypto::Key;
use crate::members::{IssuedKey, NewKey};
use crate::policy::{Attrs, Policy};
use crate::store::{Role, Store, Tenant, User};
use crate::{Config, KbError};
use genai_answer::Extractive;
use genai_embed::{Embedder, EmbedderSpec};
use genai_ingest::{ChunkConfig, Chunker};
use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Filter, Index, Retriever, SearchMode, ServerConfig, ServerIndex};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use utoipa::ToSchema;

/// The policy a new tenant starts with: every member sees documents marked public and those of
/// a group they are in; nobody sees a document above their clearance.
pub const DEFAULT_POLICY: &str = include_str!("../policies/default.policy");

/// The service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Kb {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub config: Config,
    pub store: Store,
    pub audit: Arc<dyn AuditStore>,
    pub master: Key,
    /// Derived from the master key; MACs the audit chain.
    pub chain: Key,
    admin_hash: String,
    jwt: Option<JwtVerifier>,
    /// Unwrapped data keys and parsed policies, by tenant.
    pub data_keys: std::sync::Mutex<HashMap<String, Key>>,
    pub policies: std::sync::Mutex<HashMap<String, Arc<Policy>>>,
    pub retriever: Retriever,
    pub mode: SearchMode,
    pub chunker: Chunker,
    pub extractive: Extractive,
    /// The model tiers, when a model server is configured (`models.rs`).
    pub models: Option<crate::models::Models>,
    /// Cached answers (`answer_cache.rs`), unless `cache = off`.
    pub cache: Option<crate::answer_cache::KbCache>,
    /// Results the index returned that the post-retrieval check refused (should stay 0).
    pub alarms: AtomicU64,
    /// Wakes ingest workers when a job is submitted.
    pub job_signal: tokio::sync::Notify,
    /// `serve --demo`: the demo users and their keys, for the page's sign-in list.
    pub demo_users: std::sync::OnceLock<Vec<(String, String)>>,
    /// The shared job queue, when `nats_url` is set (otherwise the registry's rows are claimed).
    pub queue: Option<crate::jobs::nats::NatsQueue>,
    /// Per-tenant request and token counters (this process, or Redis).
    pub quotas: Arc<dyn crate::quota::QuotaStore>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// `[a-z0-9_-]`, 1–40 characters; never reused.
    #[schema(example = "acme")]
    pub id: String,
    pub name: String,
    /// The access policy (default: public documents and the user's groups, capped by clearance).
    #[serde(default)]
    pub policy: Option<String>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ErasureReport {
    pub tenant: String,
    pub documents: u64,
    pub chunks_left: u64,
    pub users: u64,
    pub key_destroyed: bool,
}

/// The offline answerer, and the model answerers' fallback.
pub fn extractive() -> Extractive {
    Extractive::new(genai_answer::LEXICAL_WEIGHTS)
}

impl Kb {
    /// Opens (or creates) everything under `config.data_dir`, with the configured servers and
    /// the models the environment names (`OPENAI_BASE_URL`/`OPENAI_API_KEY`, `answerer`).
    pub async fn open(config: Config) -> Result<Self, KbError> {
        let models = crate::models::Models::from_config(&config, &extractive())?;
        Self::open_with_models(config, models).await
    }

    /// Opens with these model tiers instead of the environment's (`None`: extractive answers).
    pub async fn open_with_models(config: Config, models: Option<crate::models::Models>) -> Result<Self, KbError> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| KbError::Setup(format!("data folder {}: {e}", dir.display())))?;
        let master = Key::master(config.master_key.as_deref(), &dir.join("master.key"))?;
        let chain = master.derive("tenant-kb/audit-chain");
        let admin_hash = hash_secret(&admin_token(&config)?);
        let store = Store::open(&dir.join("kb.sqlite")).await?;
        let audit: Arc<dyn AuditStore> = match &config.audit_url {
            Some(url) => Arc::new(PostgresAudit::connect(url).await?),
            None => Arc::new(SqliteAudit::open(&dir.join("audit.sqlite")).await?),
        };
        let spec = match config.embedder.as_str() {
            "hashing" => EmbedderSpec::default(),
            "minilm" => EmbedderSpec::Minilm { dir: config.model_dir.clone(), threads: None },
            other => return Err(KbError::Setup(format!("embedder {other:?}: use hashing or minilm"))),
        };
        let embedder: Arc<dyn Embedder> = genai_embed::build(&spec).map_err(|e| KbError::Setup(e.to_string()))?;
        let index: Arc<dyn Index> = match &config.qdrant_url {
            Some(url) => {
                let sc = ServerConfig {
                    urls: genai_retrieval::split_urls(url),
                    collection: config.qdrant_collection.clone(),
                    layout: genai_retrieval::ServerLayout {
                        shards: config.qdrant_shards,
                        replication_factor: config.qdrant_replication,
                        ..Default::default()
                    },
                    ..ServerConfig::default()
                };
                Arc::new(ServerIndex::open(sc, embedder.model_id(), embedder.dim()).await?)
            }
            None => Arc::new(EmbeddedIndex::open(
                &dir.join("index"),
                embedder.model_id(),
                embedder.dim(),
                EmbeddedConfig::default(),
            )?),
        };
        let mode = if config.embedder == "minilm" { SearchMode::Hybrid } else { SearchMode::Keyword };
        let cache = crate::answer_cache::KbCache::open(&config, embedder.model_id(), embedder.dim())?;
        let retriever = Retriever::new(embedder, index)?;
        let chunker =
            Chunker::new(ChunkConfig { max_tokens: 256, overlap: 32 }).map_err(|e| KbError::Setup(e.to_string()))?;
        let jwt = JwtVerifier::from_config(&config).map_err(|e| KbError::Setup(e.to_string()))?;
        let quotas: Arc<dyn crate::quota::QuotaStore> = match &config.redis_url {
            Some(url) => Arc::new(
                crate::quota::RedisQuotas::new(url, &config.redis_prefix).map_err(|e| KbError::Setup(e.to_string()))?,
            ),
            None => Arc::new(crate::quota::MemoryQuotas::default()),
        };
        let queue = match &config.nats_url {
            Some(url) => Some(
                crate::jobs::nats::NatsQueue::connect(
                    url,
                    &config.nats_stream,
                    std::time::Duration::from_millis(config.job_lease_ms),
                )
                .await?,
            ),
            None => None,
        };
        let _ = genai_telemetry::prometheus();
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                audit,
                master,
                chain,
                admin_hash,
                jwt,
                data_keys: Default::default(),
                policies: Default::default(),
                retriever,
                mode,
                chunker,
                extractive: extractive(),
                models,
                cache,
                alarms: AtomicU64::new(0),
                demo_users: std::sync::OnceLock::new(),
                job_signal: tokio::sync::Notify::new(),
                queue,
                quotas,
            }),
        })
    }

    /// Chunks of the caller's tenant in the index, of one document or all (admin): usage, and
    /// the check that a document is indexed once.
    pub async fn indexed_chunks(&self, m: &Member, document: Option<&str>) -> Result<u64, KbError> {
        need(m, Role::Admin)?;
        let filter = match document {
            Some(id) => crate::content::doc_filter(m.tenant(), id),
            None => Filter::tenant(m.tenant()),
        };
        Ok(self.inner.retriever.index().count(Some(&filter)).await?)
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn audit_backend(&self) -> &'static str {
        self.inner.audit.backend()
    }

    pub fn index_backend(&self) -> &'static str {
        self.inner.retriever.index().info().backend
    }

    /// Who `token` is. Every failure is the same 401 to the client; the reason is logged.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, KbError> {
        let fail = |why: &str| {
            tracing::info!(why, "authentication refused");
            metrics::counter!("tenant_kb_auth_failures_total").increment(1);
            KbError::Unauthenticated
        };
        match Credential::parse(token) {
            Credential::Opaque(t) => {
                if same_hash(&hash_secret(&t), &self.inner.admin_hash) {
                    Ok(Principal::Platform)
                } else {
                    Err(fail("unknown token"))
                }
            }
            Credential::ApiKey { id, secret } => {
                let Some(key) = self.inner.store.key(&id).await? else { return Err(fail("unknown key id")) };
                if key.revoked || !same_hash(&hash_secret(&secret), &key.hash) {
                    return Err(fail("revoked key or wrong secret"));
                }
                let user =
                    self.live_user(&key.tenant, &key.user_id).await?.ok_or_else(|| fail("key of a deleted user"))?;
                let role = key.scope.min(user.role);
                Ok(Principal::Member(Member { user, role, via: format!("key:{id}") }))
            }
            Credential::Jwt(t) => {
                let Some(v) = &self.inner.jwt else { return Err(fail("jwt without a configured key")) };
                let claims = v.verify(&t).map_err(|e| fail(&e.to_string()))?;
                let user = self
                    .live_user(&claims.tenant, &claims.sub)
                    .await?
                    .ok_or_else(|| fail("jwt for an unknown user"))?;
                let role = user.role;
                Ok(Principal::Member(Member { user, role, via: "jwt".into() }))
            }
        }
    }

    async fn live_user(&self, tenant: &str, id: &str) -> Result<Option<User>, KbError> {
        match self.inner.store.tenant(tenant).await? {
            Some(t) if t.erased_ms.is_none() => Ok(self.inner.store.user(tenant, id).await?),
            _ => Ok(None),
        }
    }

    // ---- platform operations ----

    pub async fn create_tenant(&self, p: &Principal, req: NewTenant) -> Result<Tenant, KbError> {
        platform(p)?;
        if req.id.is_empty()
            || req.id.len() > 40
            || !req.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(KbError::invalid("invalid_id", "a tenant id is 1-40 of [a-z0-9_-]", "/id"));
        }
        check_text(&req.name, "/name", 200)?;
        let policy = req.policy.unwrap_or_else(|| DEFAULT_POLICY.to_owned());
        Policy::parse(&policy).map_err(|e| KbError::invalid("invalid_policy", e.to_string(), "/policy"))?;
        let data_key = Key::generate()?;
        let tenant = Tenant {
            id: req.id.clone(),
            name: req.name,
            created_ms: audit::now_ms(),
            erased_ms: None,
            wrapped_key: Some(self.inner.master.wrap(&data_key, &req.id)?),
            policy,
        };
        self.inner.store.create_tenant(&tenant).await?;
        self.record(&req.id, "admin", "tenant.create", vec![], json!({})).await?;
        Ok(tenant)
    }

    pub async fn tenants(&self, p: &Principal) -> Result<Vec<Tenant>, KbError> {
        platform(p)?;
        Ok(self.inner.store.tenants().await?)
    }

    /// GDPR erasure of a whole tenant: its data key is destroyed first (everything sealed with
    /// it is unreadable from that moment, backups included), then its chunks, documents, users
    /// and keys are deleted. The audit chain stays: it holds ids and hashes, not content.
    pub async fn erase_tenant(&self, p: &Principal, tenant: &str) -> Result<ErasureReport, KbError> {
        platform(p)?;
        let t = self.inner.store.tenant(tenant).await?.ok_or_else(|| not_found("tenant", tenant))?;
        let documents = self.inner.store.documents(tenant).await?.len() as u64;
        let users = self.inner.store.users(tenant).await?.len() as u64;
        // Cached answers go with everything else (and were sealed under the key destroyed next).
        self.forget_answers(tenant, true).await?;
        self.inner.store.erase_tenant(tenant, audit::now_ms()).await?;
        self.inner.data_keys.lock().expect("lock").remove(tenant);
        self.inner.policies.lock().expect("lock").remove(tenant);
        // Production note: the index keeps chunk text in clear (BM25 and answers need it), so it
        // is erased by deleting the tenant's points, not by the key's destruction.
        let index = self.inner.retriever.index();
        index.delete(&Filter::tenant(tenant)).await?;
        let chunks_left = index.count(Some(&Filter::tenant(tenant))).await?;
        self.forget_answers(tenant, false).await?;
        if let Some(q) = &self.inner.queue {
            q.purge(tenant).await?;
        }
        self.record(tenant, "admin", "tenant.erase", vec![], json!({"documents": documents, "users": users})).await?;
        Ok(ErasureReport { tenant: t.id, documents, chunks_left, users, key_destroyed: true })
    }

    /// The tenant's first admin key: creates user `admin` (role admin, no attributes) if it does
    /// not exist, and issues it a key. The platform operator hands it to the tenant, who then
    /// manages its own users; the platform token itself never reads tenant content.
    pub async fn bootstrap_admin_key(&self, p: &Principal, tenant: &str) -> Result<IssuedKey, KbError> {
        platform(p)?;
        self.tenant_row(tenant).await?;
        let admin = self.tenant_admin(tenant, Attrs::new()).await?;
        let key = self.issue_key(&admin, NewKey { user: admin.user.id.clone(), scope: None }).await?;
        Ok(key)
    }

    /// The tenant's `admin` user acting (created with `attributes` if absent).
    pub(crate) async fn tenant_admin(&self, tenant: &str, attributes: Attrs) -> Result<Member, KbError> {
        let user = match self.inner.store.user(tenant, "admin").await? {
            Some(u) => u,
            None => {
                let u = User {
                    tenant: tenant.into(),
                    id: "admin".into(),
                    name: format!("{tenant} admin"),
                    role: Role::Admin,
                    attributes,
                };
                self.inner.store.create_user(&u, audit::now_ms()).await?;
                self.record(
                    tenant,
                    "admin",
                    "user.create",
                    vec![],
                    json!({"user": "admin", "role": "admin", "bootstrap": true}),
                )
                .await?;
                u
            }
        };
        Ok(Member { role: Role::Admin, user, via: "platform-bootstrap".into() })
    }

    /// Verifies a tenant's audit chain (platform operator or the tenant's admin).
    pub async fn verify_audit(&self, p: &Principal, tenant: Option<&str>) -> Result<Verification, KbError> {
        let tenant = match (p, tenant) {
            (Principal::Platform, Some(t)) => t.to_owned(),
            (Principal::Member(m), _) => {
                need(m, Role::Admin)?;
                m.tenant().to_owned()
            }
            (Principal::Platform, None) => {
                return Err(KbError::invalid("missing_tenant", "name the tenant", "/tenant"));
            }
        };
        Ok(audit::verify(self.inner.audit.as_ref(), &self.inner.chain, &tenant).await?)
    }

    // ---- tenant administration (users and keys: members.rs) ----

    pub async fn policy_text(&self, m: &Member) -> Result<String, KbError> {
        need(m, Role::Admin)?;
        Ok(self.tenant_row(m.tenant()).await?.policy)
    }

    pub async fn set_policy(&self, m: &Member, text: &str) -> Result<(), KbError> {
        need(m, Role::Admin)?;
        let policy = Policy::parse(text).map_err(|e| KbError::invalid("invalid_policy", e.to_string(), "/policy"))?;
        self.forget_answers(m.tenant(), true).await?;
        self.inner.store.set_policy(m.tenant(), text).await?;
        self.inner.policies.lock().expect("lock").insert(m.tenant().to_owned(), Arc::new(policy));
        self.forget_answers(m.tenant(), false).await?;
        let digest = hash_secret(text);
        self.record(m.tenant(), &m.user.id, "policy.set", vec![], json!({"sha256": digest})).await
    }

    pub async fn audit_entries(&self, m: &Member, after: u64, limit: usize) -> Result<Vec<audit::Entry>, KbError> {
        need(m, Role::Admin)?;
        Ok(self.inner.audit.entries(m.tenant(), after, limit.clamp(1, 1_000)).await?)
    }

    // ---- shared helpers ----

    pub(crate) async fn record(
        &self,
        tenant: &str,
        actor: &str,
        action: &str,
        documents: Vec<String>,
        detail: serde_json::Value,
    ) -> Result<(), KbError> {
        let entry = NewEntry { actor: actor.to_owned(), action: action.to_owned(), documents, detail };
        self.inner.audit.append(&self.inner.chain, tenant, entry).await?;
        Ok(())
    }

    pub(crate) async fn tenant_row(&self, tenant: &str) -> Result<Tenant, KbError> {
        let t = self.inner.store.tenant(tenant).await?.ok_or_else(|| not_found("tenant", tenant))?;
        if t.erased_ms.is_some() {
            return Err(KbError::Gone(tenant.to_owned()));
        }
        Ok(t)
    }

    pub(crate) async fn policy(&self, tenant: &str) -> Result<Arc<Policy>, KbError> {
        if let Some(p) = self.inner.policies.lock().expect("lock").get(tenant) {
            return Ok(p.clone());
        }
        let text = self.tenant_row(tenant).await?.policy;
        let p = Arc::new(Policy::parse(&text).map_err(|e| KbError::Setup(format!("stored policy of {tenant}: {e}")))?);
        self.inner.policies.lock().expect("lock").insert(tenant.to_owned(), p.clone());
        Ok(p)
    }

    pub(crate) async fn data_key(&self, tenant: &str) -> Result<Key, KbError> {
        if let Some(k) = self.inner.data_keys.lock().expect("lock").get(tenant) {
            return Ok(k.clone());
        }
        let t = self.tenant_row(tenant).await?;
        let wrapped = t.wrapped_key.ok_or_else(|| KbError::Gone(tenant.to_owned()))?;
        let k = self.inner.master.unwrap(&wrapped, tenant)?;
        self.inner.data_keys.lock().expect("lock").insert(tenant.to_owned(), k.clone());
        Ok(k)
    }
}
