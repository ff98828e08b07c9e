//! `agent-workflow bench-journal`: what durability costs. A loop workflow of `steps` steps (one
//! recorded call each, a small state) runs to a human approval on the chosen journal; every
//! append is timed by a wrapper around the journal, and then the parked run is resumed from a
//! fresh runtime, which reads and folds its whole journal before the last step: the resume time
//! of a `steps`-step run. A benchmark command, never a timed test.

use async_trait::async_trait;
use genai_agent::{
    Ctx, END, Event, Graph, Journal, JournalError, Node, Outcome, PostgresJournal, RunInfo, RunLimits, Runtime,
    SqliteJournal, StepError,
};
use genai_eval::metrics::percentile;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct JournalBench {
    /// Steps before the approval.
    pub steps: u64,
    pub runs: usize,
    /// `None`: SQLite in `workdir`.
    pub postgres: Option<String>,
    pub workdir: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct JournalBenchReport {
    pub backend: String,
    pub steps: u64,
    pub runs: usize,
    pub appends: usize,
    pub append_ms_p50: f64,
    pub append_ms_p95: f64,
    pub append_ms_p99: f64,
    /// Wall time per step of the runs (node, appends and fold), mean.
    pub step_ms_mean: f64,
    /// A fresh runtime resuming a parked run of `steps` steps, to the end.
    pub resume_ms_p50: f64,
    pub resume_ms_p95: f64,
    pub events_per_run: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Counter {
    n: u64,
    notes: Vec<String>,
}

struct Tick;

#[async_trait]
impl Node<Counter> for Tick {
    async fn run(&self, s: &mut Counter, ctx: &Ctx) -> Result<(), StepError> {
        let n = s.n;
        // One recorded call per step, like a tool call, with a result worth storing.
        let note: String =
            ctx.call("work", || async move { Ok(format!("step {n} looked at passage {}", n * 7)) }).await?;
        s.notes.push(note);
        s.n += 1;
        Ok(())
    }
}

struct Approve;

#[async_trait]
impl Node<Counter> for Approve {
    async fn run(&self, s: &mut Counter, ctx: &Ctx) -> Result<(), StepError> {
        let ok: bool = ctx.interrupt(&json!({ "approve": s.n })).await?;
        s.notes.push(format!("approved: {ok}"));
        Ok(())
    }
}

/// Times every append of the journal it wraps.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn Journal>,
    samples: Mutex<Vec<f64>>,
}

#[async_trait]
impl Journal for Timed {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn create(&self, id: &str, workflow: &str, first: &[Event]) -> Result<(), JournalError> {
        self.inner.create(id, workflow, first).await
    }
    async fn append(&self, id: &str, seq: u64, event: &Event) -> Result<(), JournalError> {
        let t = Instant::now();
        let r = self.inner.append(id, seq, event).await;
        self.samples.lock().expect("samples").push(t.elapsed().as_secs_f64() * 1e3);
        r
    }
    async fn events(&self, id: &str) -> Result<Vec<Event>, JournalError> {
        self.inner.events(id).await
    }
    async fn run(&self, id: &str) -> Result<RunInfo, JournalError> {
        self.inner.run(id).await
    }
    async fn runs(&self, limit: usize) -> Result<Vec<RunInfo>, JournalError> {
        self.inner.runs(limit).await
    }
}

fn graph(steps: u64) -> anyhow::Result<Arc<Graph<Counter>>> {
    Ok(Arc::new(
        Graph::builder("bench", 1, "tick")
            .node("tick", Tick)
            .node("approve", Approve)
            .branch(
                "tick",
                &["tick", "approve"],
                move |s: &Counter| {
                    if s.n < steps { "tick".into() } else { "approve".into() }
                },
            )
            .edge("approve", END)
            .build()?,
    ))
}

impl JournalBench {
    pub async fn run(&self) -> anyhow::Result<JournalBenchReport> {
        let inner: Arc<dyn Journal> = match &self.postgres {
            Some(url) => Arc::new(PostgresJournal::connect(url).await?),
            None => {
                std::fs::create_dir_all(&self.workdir)?;
                let path = self.workdir.join(format!("bench-{}.db", genai_agent::new_id()));
                Arc::new(SqliteJournal::open(&path).await?)
            }
        };
        let timed = Arc::new(Timed { inner: inner.clone(), samples: Mutex::new(Vec::new()) });
        let graph = graph(self.steps)?;
        let limits = RunLimits { max_steps: self.steps + 10, ..RunLimits::default() };
        let (mut step_ms, mut resume_ms, mut events) = (Vec::new(), Vec::new(), 0);
        for _ in 0..self.runs {
            let rt = Runtime::new(graph.clone(), timed.clone(), limits.clone());
            let t = Instant::now();
            let id = rt.start(None, &Counter::default()).await?;
            let parked = rt.drive(&id).await?;
            anyhow::ensure!(matches!(parked, Outcome::Parked { .. }), "the bench run did not park: {parked:?}");
            step_ms.push(t.elapsed().as_secs_f64() * 1e3 / self.steps as f64);
            // A fresh runtime, as after a restart: it has nothing but the journal.
            let fresh = Runtime::new(graph.clone(), inner.clone(), limits.clone());
            let t = Instant::now();
            let done = fresh.resume(&id, json!(true)).await?;
            resume_ms.push(t.elapsed().as_secs_f64() * 1e3);
            match done {
                Outcome::Finished(s) => anyhow::ensure!(s.n == self.steps, "the run ended at {} steps", s.n),
                other => anyhow::bail!("the resumed bench run did not finish: {other:?}"),
            }
            events = inner.events(&id).await?.len();
        }
        let appends = timed.samples.lock().expect("samples").clone();
        Ok(JournalBenchReport {
            backend: inner.backend().into(),
            steps: self.steps,
            runs: self.runs,
            appends: appends.len(),
            append_ms_p50: percentile(&appends, 50.0),
            append_ms_p95: percentile(&appends, 95.0),
            append_ms_p99: percentile(&appends, 99.0),
            step_ms_mean: step_ms.iter().sum::<f64>() / step_ms.len().max(1) as f64,
            resume_ms_p50: percentile(&resume_ms, 50.0),
            resume_ms_p95: percentile(&resume_ms, 95.0),
            events_per_run: events,
        })
    }
}

impl JournalBenchReport {
    pub fn markdown(&self) -> String {
        format!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.2} | {:.1} | {:.1} | {} |",
            self.backend,
            self.appends,
            self.append_ms_p50,
            self.append_ms_p95,
            self.append_ms_p99,
            self.step_ms_mean,
            self.resume_ms_p50,
            self.resume_ms_p95,
            self.events_per_run
        )
    }

    pub const HEADER: &'static str = "| journal | appends | append p50 ms | append p95 ms | append p99 ms | ms per step | resume p50 ms | resume p95 ms | events per run |\n|---|---|---|---|---|---|---|---|---|";
}
