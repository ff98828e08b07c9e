//! Asynchronous ingest jobs: `POST /v1/documents` returns a job at once, the files are indexed
//! in the background, and `GET /v1/jobs/{id}` reports progress and one result per file.
//!
//! Production note: jobs live in memory (the last 1,000 are kept) and a job interrupted by a
//! restart is lost with its remaining files (what it had indexed stays indexed and listed). A
//! fleet wants the queue in PostgreSQL or NATS JetStream, which the multi-tenant milestone adds.

use crate::docs::FileReport;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use utoipa::ToSchema;

const KEEP: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
}

/// A job as reported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    pub id: String,
    pub state: JobState,
    pub total: usize,
    /// Files finished so far (indexed, already indexed or skipped).
    pub done: usize,
    pub indexed: usize,
    pub skipped: usize,
    pub files: Vec<FileReport>,
    /// Milliseconds since the job was accepted, until now or until it finished.
    pub elapsed_ms: u64,
    #[serde(skip)]
    started: std::time::Instant,
}

/// The jobs of this process.
#[derive(Debug, Default)]
pub struct Jobs {
    next: AtomicU64,
    jobs: Mutex<BTreeMap<u64, Job>>,
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Job>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new queued job for `total` files.
    pub fn create(&self, total: usize) -> Job {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Job {
            id: format!("job-{n}"),
            state: JobState::Queued,
            total,
            done: 0,
            indexed: 0,
            skipped: 0,
            files: Vec::new(),
            elapsed_ms: 0,
            started: std::time::Instant::now(),
        };
        let mut jobs = self.lock();
        jobs.insert(n, job.clone());
        while jobs.len() > KEEP {
            jobs.pop_first();
        }
        job
    }

    fn key(id: &str) -> Option<u64> {
        id.strip_prefix("job-")?.parse().ok()
    }

    pub fn get(&self, id: &str) -> Option<Job> {
        let mut job = self.lock().get(&Self::key(id)?).cloned()?;
        if job.state != JobState::Done {
            job.elapsed_ms = job.started.elapsed().as_millis() as u64;
        }
        Some(job)
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut Job)) {
        let Some(k) = Self::key(id) else { return };
        if let Some(job) = self.lock().get_mut(&k) {
            f(job);
        }
    }

    pub fn running(&self, id: &str) {
        self.update(id, |j| j.state = JobState::Running);
    }

    pub fn file_done(&self, id: &str, report: FileReport) {
        self.update(id, |j| {
            j.done += 1;
            match report {
                FileReport::Indexed { .. } => j.indexed += 1,
                FileReport::Skipped { .. } => j.skipped += 1,
                FileReport::AlreadyIndexed { .. } => {}
            }
            j.files.push(report);
        });
    }

    pub fn finish(&self, id: &str) {
        self.update(id, |j| {
            j.state = JobState::Done;
            j.elapsed_ms = j.started.elapsed().as_millis() as u64;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_reports_progress_per_file() {
        let jobs = Jobs::default();
        let job = jobs.create(2);
        assert_eq!(jobs.get(&job.id).unwrap().state, JobState::Queued);
        jobs.running(&job.id);
        jobs.file_done(&job.id, FileReport::Skipped { file: "a".into(), reason: "empty".into() });
        let j = jobs.get(&job.id).unwrap();
        assert_eq!((j.state, j.done, j.skipped), (JobState::Running, 1, 1));
        jobs.finish(&job.id);
        assert_eq!(jobs.get(&job.id).unwrap().state, JobState::Done);
        assert!(jobs.get("job-99").is_none() && jobs.get("nope").is_none());
    }
}
