//! Asynchronous ingestion: a durable job queue in the registry. A job holds a batch of documents,
//! sealed under the tenant's data key (so a tenant's erasure shreds its queue too); workers claim
//! jobs with a lease, so a worker that dies mid-job leaves it to be claimed again when the lease
//! runs out; failures are retried with exponential backoff up to a limit, and problems no retry
//! can fix fail at once. A tenant with too many jobs waiting gets 429 with `Retry-After`.
//!
//! Indexing a batch replaces documents by id, so a job that runs twice (its first worker died
//! after writing) leaves each document indexed once.
//!
//! Delivery is the registry itself by default (workers in this process claim rows), or NATS
//! JetStream when `nats_url` is set (`nats.rs`: workers in any number of processes, such as
//! `tenant-kb worker`); either way the row is the job's record and the same claim, process and
//! lease rules hold.

pub(crate) mod nats;

use crate::auth::Member;
use crate::checks::{need, not_found};
use crate::store::Role;
use crate::{Kb, KbError, NewDocument, audit};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use std::time::Duration;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "done" => Self::Done,
            _ => Self::Failed,
        }
    }
}

/// A job as its submitter sees it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct JobInfo {
    pub id: String,
    pub state: JobState,
    /// Times a worker has started it.
    pub attempts: u32,
    /// The documents it adds.
    pub documents: Vec<String>,
    /// The last failure, if any.
    pub error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

pub(crate) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS kb_jobs (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, owner TEXT NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL, not_before_ms BIGINT NOT NULL, lease_until_ms BIGINT NOT NULL,
    payload BLOB NOT NULL, documents TEXT NOT NULL, error TEXT,
    created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)";

/// A job a worker holds.
#[derive(Debug)]
pub struct Claimed {
    pub id: String,
    pub tenant: String,
    owner: String,
    pub attempts: u32,
    payload: Vec<u8>,
    /// The NATS delivery to acknowledge once the outcome is recorded.
    delivery: Option<nats::Delivery>,
}

impl Kb {
    /// Queues a batch of documents (checked now, indexed by a worker): 202 with the job.
    pub async fn submit_job(&self, m: &Member, reqs: Vec<NewDocument>) -> Result<JobInfo, KbError> {
        need(m, Role::Writer)?;
        let tenant = m.tenant();
        self.check_documents(&reqs)?;
        let pool = self.inner.store.pool();
        let waiting: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM kb_jobs WHERE tenant = ? AND state IN ('queued', 'running')")
                .bind(tenant)
                .fetch_one(pool)
                .await
                .map_err(crate::store::StoreError::from)?;
        if waiting as usize >= self.config().max_queued_jobs {
            metrics::counter!("tenant_kb_jobs_refused_total").increment(1);
            return Err(KbError::Busy { retry_after_secs: 5, waiting: waiting as u64 });
        }
        let id = format!("job-{}", crate::crypto::random_hex(8));
        let key = self.data_key(tenant).await?;
        let payload = key.seal(&serde_json::to_vec(&reqs).unwrap_or_default(), &format!("{tenant}/job/{id}"))?;
        let documents: Vec<String> = reqs.iter().map(|r| r.id.clone()).collect();
        let now = audit::now_ms();
        sqlx::query(
            "INSERT INTO kb_jobs (id, tenant, owner, state, attempts, not_before_ms, lease_until_ms, payload, documents, created_ms, updated_ms)
             VALUES (?, ?, ?, 'queued', 0, 0, 0, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(&m.user.id)
        .bind(&payload)
        .bind(serde_json::to_string(&documents).unwrap_or_default())
        .bind(now)
        .bind(now)
        .execute(pool)
        .await
        .map_err(crate::store::StoreError::from)?;
        if let Some(q) = &self.inner.queue
            && let Err(e) = q.publish(tenant, &id).await
        {
            // Not queued after all: the row goes, and the caller retries.
            let _ = sqlx::query("DELETE FROM kb_jobs WHERE id = ?").bind(&id).execute(pool).await;
            return Err(e);
        }
        metrics::gauge!("tenant_kb_jobs_waiting", "tenant" => tenant.to_owned()).set((waiting + 1) as f64);
        self.record(tenant, &m.user.id, "job.submit", documents, json!({"job": id, "via": m.via})).await?;
        self.inner.job_signal.notify_one();
        self.job(m, &id).await
    }

    /// One of the caller's tenant's jobs.
    pub async fn job(&self, m: &Member, id: &str) -> Result<JobInfo, KbError> {
        need(m, Role::Writer)?;
        let row = sqlx::query("SELECT * FROM kb_jobs WHERE id = ? AND tenant = ?")
            .bind(id)
            .bind(m.tenant())
            .fetch_optional(self.inner.store.pool())
            .await
            .map_err(crate::store::StoreError::from)?;
        row.map(|r| job_row(&r)).ok_or_else(|| not_found("job", id))
    }

    /// The tenant's 50 most recent jobs.
    pub async fn jobs(&self, m: &Member) -> Result<Vec<JobInfo>, KbError> {
        need(m, Role::Writer)?;
        let rows = sqlx::query("SELECT * FROM kb_jobs WHERE tenant = ? ORDER BY created_ms DESC LIMIT 50")
            .bind(m.tenant())
            .fetch_all(self.inner.store.pool())
            .await
            .map_err(crate::store::StoreError::from)?;
        Ok(rows.iter().map(job_row).collect())
    }

    /// Takes the oldest runnable job (queued and due, or running with an expired lease) for
    /// `lease`. One statement, so two workers never take the same job.
    pub async fn claim(&self, lease: Duration) -> Result<Option<Claimed>, KbError> {
        if let Some(q) = &self.inner.queue {
            return self.claim_delivered(q, lease).await;
        }
        let now = audit::now_ms();
        let row = sqlx::query(
            "UPDATE kb_jobs SET state = 'running', attempts = attempts + 1, lease_until_ms = ?, updated_ms = ?
             WHERE id = (SELECT id FROM kb_jobs WHERE (state = 'queued' AND not_before_ms <= ?)
                         OR (state = 'running' AND lease_until_ms < ?) ORDER BY created_ms LIMIT 1)
             RETURNING id, tenant, owner, attempts, payload",
        )
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .bind(now)
        .bind(now)
        .fetch_optional(self.inner.store.pool())
        .await
        .map_err(crate::store::StoreError::from)?;
        Ok(row.map(|r| claimed(&r, None)))
    }

    /// NATS: the next delivered job id, marked running in the registry. A delivery whose job
    /// is finished or gone (its tenant erased) is acknowledged and dropped.
    async fn claim_delivered(&self, q: &nats::NatsQueue, lease: Duration) -> Result<Option<Claimed>, KbError> {
        let Some(delivery) = q.next(Duration::from_secs(1)).await? else { return Ok(None) };
        let id = String::from_utf8_lossy(&delivery.payload).into_owned();
        let now = audit::now_ms();
        let row = sqlx::query(
            "UPDATE kb_jobs SET state = 'running', attempts = attempts + 1, lease_until_ms = ?, updated_ms = ?
             WHERE id = ? AND state IN ('queued', 'running') RETURNING id, tenant, owner, attempts, payload",
        )
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .bind(&id)
        .fetch_optional(self.inner.store.pool())
        .await
        .map_err(crate::store::StoreError::from)?;
        match row {
            Some(r) => Ok(Some(claimed(&r, Some(delivery)))),
            None => {
                nats::settle(&delivery, None).await?;
                Ok(None)
            }
        }
    }

    /// Runs a claimed job and records the outcome. A result from a worker whose lease was taken
    /// over (the attempt count moved on) is ignored.
    pub async fn process(&self, job: Claimed) -> Result<JobState, KbError> {
        let outcome = self.run_job(&job).await;
        let now = audit::now_ms();
        let (state, error, not_before, backoff) = match &outcome {
            Ok(_) => (JobState::Done, None, 0, None),
            Err(e) if !e.is_transient() || job.attempts >= self.config().job_attempts => {
                (JobState::Failed, Some(e.to_string()), 0, None)
            }
            Err(e) => {
                let backoff = self.config().job_retry_base_ms.saturating_mul(1 << job.attempts.min(10)).min(60_000);
                (JobState::Queued, Some(e.to_string()), now + backoff as i64, Some(Duration::from_millis(backoff)))
            }
        };
        let state_name = state.as_str();
        // A finished job no longer needs its documents' text: it is in the registry now.
        let keep_payload = state == JobState::Queued;
        let updated = sqlx::query(
            "UPDATE kb_jobs SET state = ?, error = ?, not_before_ms = ?, updated_ms = ?,
             payload = CASE WHEN ? THEN payload ELSE x'' END WHERE id = ? AND attempts = ?",
        )
        .bind(state_name)
        .bind(&error)
        .bind(not_before)
        .bind(now)
        .bind(keep_payload)
        .bind(&job.id)
        .bind(job.attempts as i64)
        .execute(self.inner.store.pool())
        .await
        .map_err(crate::store::StoreError::from)?;
        if updated.rows_affected() == 0 {
            // Another worker took the job over after our lease ran out; its outcome stands (and
            // its delivery is the one to acknowledge).
            tracing::warn!(job = %job.id, attempt = job.attempts, "a stale worker finished a job another worker owns");
            return Ok(state);
        }
        if let Some(d) = &job.delivery {
            nats::settle(d, backoff).await?;
        }
        metrics::counter!("tenant_kb_jobs_total", "state" => state_name).increment(1);
        let waiting: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM kb_jobs WHERE tenant = ? AND state IN ('queued', 'running')")
                .bind(&job.tenant)
                .fetch_one(self.inner.store.pool())
                .await
                .map_err(crate::store::StoreError::from)?;
        metrics::gauge!("tenant_kb_jobs_waiting", "tenant" => job.tenant.clone()).set(waiting as f64);
        if state != JobState::Queued {
            let detail = json!({"job": job.id, "state": state_name, "attempts": job.attempts, "error": error});
            self.record(&job.tenant, &job.owner, "job.finish", vec![], detail).await?;
        }
        Ok(state)
    }

    async fn run_job(&self, job: &Claimed) -> Result<(), KbError> {
        let key = self.data_key(&job.tenant).await?;
        let plain = key.open(&job.payload, &format!("{}/job/{}", job.tenant, job.id))?;
        let reqs: Vec<NewDocument> =
            serde_json::from_slice(&plain).map_err(|e| KbError::Setup(format!("job payload: {e}")))?;
        let user = self
            .inner
            .store
            .user(&job.tenant, &job.owner)
            .await?
            .ok_or_else(|| KbError::Forbidden("the job's submitter was erased".into()))?;
        let member = Member { role: user.role, user, via: format!("job:{}", job.id) };
        self.add_documents(&member, reqs).await.map(|_| ())
    }

    /// Claims and processes one job; `false` when none was runnable.
    pub async fn work_once(&self) -> Result<bool, KbError> {
        let lease = Duration::from_millis(self.config().job_lease_ms);
        match self.claim(lease).await? {
            Some(job) => {
                self.process(job).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Starts `config.workers` worker tasks; they stop when the returned handles are aborted
    /// or the runtime shuts down.
    pub fn start_workers(&self) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.config().workers)
            .map(|w| {
                let kb = self.clone();
                tokio::spawn(async move {
                    loop {
                        match kb.work_once().await {
                            Ok(true) => continue,
                            Ok(false) => {}
                            Err(e) => tracing::warn!(worker = w, error = %e, "ingest worker"),
                        }
                        // Woken by a submission, or after a while for retries and expired leases.
                        let _ = tokio::time::timeout(Duration::from_millis(250), kb.inner.job_signal.notified()).await;
                    }
                })
            })
            .collect()
    }
}

/// A claimed row (`RETURNING id, tenant, owner, attempts, payload`) as the worker holds it.
fn claimed(r: &sqlx::sqlite::SqliteRow, delivery: Option<nats::Delivery>) -> Claimed {
    Claimed {
        id: r.get("id"),
        tenant: r.get("tenant"),
        owner: r.get("owner"),
        attempts: r.get::<i64, _>("attempts") as u32,
        payload: r.get("payload"),
        delivery,
    }
}

fn job_row(r: &sqlx::sqlite::SqliteRow) -> JobInfo {
    JobInfo {
        id: r.get("id"),
        state: JobState::parse(r.get::<&str, _>("state")),
        attempts: r.get::<i64, _>("attempts") as u32,
        documents: serde_json::from_str(r.get::<&str, _>("documents")).unwrap_or_default(),
        error: r.get("error"),
        created_ms: r.get("created_ms"),
        updated_ms: r.get("updated_ms"),
    }
}
