//! The research workflow as a long-running service: runs driven by background tasks, answers
//! from people, and recovery of the runs a previous process was driving. The HTTP API
//! (`api.rs`) is a thin layer over it.

use crate::agents::publisher::Approval;
use crate::agents::researcher::Strategy;
use crate::corpus::Corpus;
use crate::research_graph;
use crate::state::{Research, Target};
use genai_agent::{
    CheckpointInfo, Event, GraphSpec, Journal, JournalError, Outcome, RunInfo, RunLimits, RunStatus, Runtime,
    RuntimeError,
};
use genai_llm::ChatModel;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use utoipa::ToSchema;

/// Builds the research runtime over the documents in `corpus` (indexed in a temporary folder
/// keyed by the folder and its content); a model from `OPENAI_*` switches the writer to it.
pub async fn runtime(journal: Arc<dyn Journal>, corpus: &Path) -> anyhow::Result<Runtime<Research>> {
    let docs = Corpus::read_dir(corpus)?;
    let root = std::env::temp_dir().join("agent-workflow-index");
    // By folder and content: two folders never share an index (the embedded index has one
    // writer), and a folder whose files changed gets a new one.
    let folder = genai_core::sha256_hex(corpus.display().to_string().as_bytes());
    let corpus = Arc::new(Corpus::build_cached(docs, &root, &format!("corpus-{}", &folder[..16])).await?);
    let model: Option<Arc<dyn ChatModel>> = genai_llm::from_env()?.map(|m| Arc::new(m) as _);
    let graph = research_graph(corpus, model, Strategy::default())?;
    Ok(Runtime::new(Arc::new(graph), journal, RunLimits::default()))
}

/// Why a service call failed, by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no run {0}")]
    NotFound(String),
    /// The run is not in a state that allows this (finished, parked, being driven).
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Invalid { message: String, at: &'static str },
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<RuntimeError> for ServiceError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::Journal(JournalError::NotFound(id)) => Self::NotFound(id),
            RuntimeError::Journal(JournalError::Conflict { run, .. }) => {
                Self::Conflict(format!("run {run} was changed by another worker; try again"))
            }
            RuntimeError::NotParked(id) => Self::Conflict(format!("run {id} is not waiting for an answer")),
            RuntimeError::NoCheckpoint { run, step } => {
                Self::Invalid { message: format!("run {run} has no checkpoint at step {step}"), at: "/step" }
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl From<JournalError> for ServiceError {
    fn from(e: JournalError) -> Self {
        RuntimeError::Journal(e).into()
    }
}

/// A run as the page shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    /// `running`, `parked`, `finished` or `failed`.
    pub status: String,
    pub events: u64,
    /// The last checkpoint's step, and the node that runs next.
    pub step: Option<u64>,
    pub next: Option<String>,
    /// The research state after the last step.
    #[schema(value_type = Object)]
    pub state: Value,
    /// What a parked run asks a human.
    #[schema(value_type = Option<Object>)]
    pub pending: Option<Value>,
    pub error: Option<String>,
    /// Whether this process is driving it now.
    pub driving: bool,
}

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Runtime<Research>,
    corpus: String,
    publish_dir: Option<PathBuf>,
    /// Runs with a driving task, and whether it should drive once more.
    driving: Mutex<HashMap<String, bool>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("corpus", &self.inner.corpus).finish_non_exhaustive()
    }
}

impl Service {
    /// Opens the service over `corpus`, then drives again every run of this corpus that a
    /// previous process left `running` (it was killed mid-run).
    pub async fn open(journal: Arc<dyn Journal>, corpus: &Path, publish_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let corpus = std::fs::canonicalize(corpus)?;
        let runtime = runtime(journal.clone(), &corpus).await?;
        let service = Service {
            inner: Arc::new(Inner {
                runtime,
                corpus: corpus.display().to_string(),
                publish_dir,
                driving: Mutex::new(HashMap::new()),
            }),
        };
        // Production note: recovery looks at the 1,000 most recent runs; a deployment with more
        // runs in flight would query by status.
        for r in journal.runs(1000).await? {
            if r.workflow == crate::WORKFLOW && r.status == RunStatus::Running && service.is_ours(&r.id).await {
                tracing::info!(run = %r.id, "resuming a run a previous process left running");
                service.spawn(r.id);
            }
        }
        Ok(service)
    }

    async fn is_ours(&self, id: &str) -> bool {
        let Ok(events) = self.journal().events(id).await else { return false };
        matches!(events.first(), Some(Event::Started { state, .. })
            if state.get("corpus").and_then(Value::as_str) == Some(self.inner.corpus.as_str()))
    }

    fn journal(&self) -> &Arc<dyn Journal> {
        self.inner.runtime.journal()
    }

    pub fn graph(&self) -> GraphSpec {
        self.inner.runtime.graph().spec()
    }

    pub async fn start(&self, question: &str, publish: bool) -> Result<String, ServiceError> {
        let question = question.trim();
        if question.is_empty() || question.chars().count() > 1000 {
            return Err(ServiceError::Invalid {
                message: "the question must have 1 to 1,000 characters".into(),
                at: "/question",
            });
        }
        let publish = match (&self.inner.publish_dir, publish) {
            (_, false) => None,
            (Some(dir), true) => Some(Target::File { dir: dir.display().to_string() }),
            (None, true) => {
                return Err(ServiceError::Invalid {
                    message: "this server has no publish folder (start it with --publish-dir)".into(),
                    at: "/publish",
                });
            }
        };
        let input = Research {
            question: question.into(),
            corpus: Some(self.inner.corpus.clone()),
            publish,
            ..Research::default()
        };
        let id = self.inner.runtime.start(None, &input).await?;
        self.spawn(id.clone());
        Ok(id)
    }

    pub async fn runs(&self, limit: usize) -> Result<Vec<RunInfo>, ServiceError> {
        Ok(self.journal().runs(limit).await?)
    }

    pub async fn info(&self, id: &str) -> Result<RunInfo, ServiceError> {
        Ok(self.journal().run(id).await?)
    }

    /// Events from number `from` on.
    pub async fn events_from(&self, id: &str, from: u64) -> Result<Vec<Event>, ServiceError> {
        // Production note: reads the whole journal and skips; a long run would read by sequence.
        Ok(self.journal().events(id).await?.into_iter().skip(from as usize).collect())
    }

    pub async fn checkpoints(&self, id: &str) -> Result<Vec<CheckpointInfo>, ServiceError> {
        Ok(self.inner.runtime.checkpoints(id).await?)
    }

    pub async fn view(&self, id: &str) -> Result<RunView, ServiceError> {
        let info = self.info(id).await?;
        let mut v = RunView {
            id: id.into(),
            status: info.status.as_str().into(),
            events: info.events,
            step: None,
            next: None,
            state: Value::Null,
            pending: None,
            error: None,
            driving: self.is_driving(id),
        };
        for e in self.journal().events(id).await? {
            match e {
                Event::Started { state, .. } | Event::Migrated { state, .. } => v.state = state,
                Event::Checkpoint { step, state, next, .. } => (v.step, v.next, v.state) = (Some(step), next, state),
                Event::Interrupted { request, .. } => v.pending = Some(request),
                Event::Resumed { .. } => v.pending = None,
                Event::Finished { state } => (v.next, v.state) = (None, state),
                Event::Failed { error, .. } => v.error = Some(error),
                _ => {}
            }
        }
        Ok(v)
    }

    /// Answers a parked run's approval and drives it on in the background.
    pub async fn answer(&self, id: &str, approval: Approval) -> Result<(), ServiceError> {
        let view = self.view(id).await?;
        if view.pending.is_none() || view.status != RunStatus::Parked.as_str() {
            return Err(ServiceError::Conflict(format!("run {id} is {}, not waiting for approval", view.status)));
        }
        let answer = serde_json::to_value(approval).map_err(|e| ServiceError::Internal(e.into()))?;
        // Journaled before the reply, so the run is `running` when the client hears back; the
        // compare-and-swap append makes a second, concurrent answer a conflict.
        self.inner.runtime.answer(id, answer).await?;
        self.spawn(id.into());
        Ok(())
    }

    /// Drives a run that stopped while `running` (its worker died).
    pub async fn resume(&self, id: &str) -> Result<(), ServiceError> {
        let info = self.info(id).await?;
        match info.status {
            RunStatus::Running => {
                self.spawn(id.into());
                Ok(())
            }
            RunStatus::Parked => Err(ServiceError::Conflict(format!("run {id} is waiting for approval; answer it"))),
            other => Err(ServiceError::Conflict(format!("run {id} is {}", other.as_str()))),
        }
    }

    /// A new run from run `id`'s checkpoint at `step`, driven in the background.
    pub async fn fork(&self, id: &str, step: u64) -> Result<String, ServiceError> {
        let new = self.inner.runtime.fork(id, step, None).await?;
        self.spawn(new.clone());
        Ok(new)
    }

    fn is_driving(&self, id: &str) -> bool {
        self.driving().contains_key(id)
    }

    fn driving(&self) -> std::sync::MutexGuard<'_, HashMap<String, bool>> {
        self.inner.driving.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drives `id` on a background task, one task per run. Asked while its task runs (an answer
    /// arrived as the run parked), the task drives once more before it ends, so nothing the
    /// journal holds is left undriven.
    fn spawn(&self, id: String) {
        {
            let mut driving = self.driving();
            if let Some(again) = driving.get_mut(&id) {
                *again = true;
                return;
            }
            driving.insert(id.clone(), false);
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                match me.inner.runtime.drive(&id).await {
                    Ok(Outcome::Finished(_)) => tracing::info!(run = %id, "run finished"),
                    Ok(Outcome::Parked { .. }) => tracing::info!(run = %id, "run waits for approval"),
                    Ok(Outcome::Failed { error, .. }) => tracing::warn!(run = %id, %error, "run failed"),
                    Err(e) => tracing::warn!(run = %id, error = %e, "driving the run stopped; it can be resumed"),
                }
                let mut driving = me.driving();
                if driving.get(&id).copied().unwrap_or(false) {
                    driving.insert(id.clone(), false);
                } else {
                    driving.remove(&id);
                    break;
                }
            }
        });
    }
}

/// The demo corpus (`demo/*.txt`, texts written for this project), compiled in so the showcase
/// and `serve` work from any folder: written to `dir` and returned.
pub fn write_demo_corpus(dir: &Path) -> std::io::Result<PathBuf> {
    const DEMO: &[(&str, &str)] = &[
        ("ada-lovelace.txt", include_str!("../demo/ada-lovelace.txt")),
        ("alan-turing.txt", include_str!("../demo/alan-turing.txt")),
        ("analytical-engine.txt", include_str!("../demo/analytical-engine.txt")),
        ("charles-babbage.txt", include_str!("../demo/charles-babbage.txt")),
        ("cobol.txt", include_str!("../demo/cobol.txt")),
        ("grace-hopper.txt", include_str!("../demo/grace-hopper.txt")),
        ("london.txt", include_str!("../demo/london.txt")),
        ("maida-vale.txt", include_str!("../demo/maida-vale.txt")),
        ("turing-machine.txt", include_str!("../demo/turing-machine.txt")),
    ];
    std::fs::create_dir_all(dir)?;
    for (name, text) in DEMO {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(dir.to_path_buf())
}
