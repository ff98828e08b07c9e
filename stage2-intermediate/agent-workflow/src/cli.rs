//! The command line. The journal is a SQLite file (`--journal`, default `agent-runs.db`) or
//! PostgreSQL when `DATABASE_URL` is set; a run remembers its corpus folder, so `resume` and
//! `approve` need only the run id.

use crate::agents::publisher::Approval;
use crate::agents::researcher::Strategy;
use crate::bench::{JournalBench, JournalBenchReport};
use crate::crash::CrashTest;
use crate::eval::HotpotEval;
use crate::state::{Research, Target};
use anyhow::Context;
use clap::{Parser, Subcommand};
use genai_agent::{Event, Journal, Outcome, PostgresJournal, SqliteJournal};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "agent-workflow",
    about = "A research workflow of specialised agents on a durable runtime: a planner, a multi-hop researcher, an analyst with tools, a writer and a reviewer; publishing waits for a human's approval. Every step is journaled, so a killed run resumes where it stopped."
)]
pub struct Cli {
    /// The SQLite journal file (ignored when DATABASE_URL is set).
    #[arg(long, env = "AGENT_JOURNAL", default_value = "agent-runs.db", global = true)]
    journal: PathBuf,
    /// A PostgreSQL journal shared by several workers (postgres://user@host/db).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Research a question over a folder of .txt/.md files (first line = title).
    Run {
        question: String,
        #[arg(long)]
        corpus: PathBuf,
        /// Publish the report as a file in this folder, after approval.
        #[arg(long, conflicts_with = "webhook")]
        publish_dir: Option<PathBuf>,
        /// Publish the report by POST to this URL, after approval.
        #[arg(long)]
        webhook: Option<String>,
        /// The run's id (default: a new one). Starting an id that exists is an error.
        #[arg(long)]
        id: Option<String>,
    },
    /// List runs, most recent first.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// A run's journal: every event, or its checkpoints only.
    Show {
        id: String,
        #[arg(long)]
        checkpoints: bool,
    },
    /// Continue a run after a crash or a restart.
    Resume { id: String },
    /// Answer a run waiting for approval: approve, reject, or approve an edited report.
    Approve {
        id: String,
        #[arg(long, conflicts_with = "edit")]
        reject: Option<String>,
        /// A file holding the report to publish instead of the draft.
        #[arg(long)]
        edit: Option<PathBuf>,
    },
    /// Time travel: start a new run from a run's checkpoint at `step`.
    Fork {
        id: String,
        #[arg(long)]
        step: u64,
    },
    /// Evaluate on HotpotQA: single-shot retrieval against the workflow, paired.
    Eval {
        /// A HotpotQA JSON file (official distractor format).
        #[arg(long)]
        hotpot: PathBuf,
        #[arg(long)]
        limit: Option<usize>,
        /// The first N questions are reported separately (the rules were developed on them).
        #[arg(long, default_value_t = 100)]
        dev: usize,
        #[arg(long, default_value_os_t = std::env::temp_dir().join("agent-workflow-eval"))]
        workdir: PathBuf,
        /// Write the full report (with per-question scores) here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Serve the HTTP API and the `/agents` page (OpenAPI at /openapi.json).
    Serve {
        #[arg(long, env = "AGENT_WORKFLOW_ADDR", default_value = "127.0.0.1:8086")]
        addr: String,
        /// The documents to research (default: the demo corpus, written to a temporary folder).
        #[arg(long, env = "AGENT_WORKFLOW_CORPUS")]
        corpus: Option<PathBuf>,
        /// Where approved reports are published (without it, runs cannot ask to publish).
        #[arg(long, env = "AGENT_WORKFLOW_PUBLISH_DIR")]
        publish_dir: Option<PathBuf>,
    },
    /// Durability under faults: SIGKILL runs of this binary at random steps, resume each, and
    /// check the final state and the published report against an uninterrupted run.
    CrashTest {
        question: String,
        #[arg(long)]
        corpus: PathBuf,
        #[arg(long, default_value_t = 100)]
        runs: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        #[arg(long, default_value_os_t = std::env::temp_dir().join("agent-workflow-crash"))]
        workdir: PathBuf,
        /// Kill `agent-workflow serve` (runs started and approved over HTTP) instead of the CLI.
        #[arg(long)]
        server: bool,
    },
    /// Benchmark the journal: append latency per step and the resume time of a long run.
    BenchJournal {
        /// Steps per run before its approval.
        #[arg(long, default_value_t = 100)]
        steps: u64,
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Benchmark the PostgreSQL journal at DATABASE_URL as well as SQLite.
        #[arg(long)]
        postgres: bool,
        #[arg(long, default_value_os_t = std::env::temp_dir().join("agent-workflow-bench"))]
        workdir: PathBuf,
    },
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        if let Command::CrashTest { question, corpus, runs, seed, workdir, server } = &self.command {
            let test = CrashTest {
                exe: std::env::current_exe()?,
                corpus: std::fs::canonicalize(corpus)
                    .with_context(|| format!("no corpus folder {}", corpus.display()))?,
                question: question.clone(),
                runs: *runs,
                workdir: workdir.clone(),
                seed: *seed,
                server: *server,
            };
            let report = test.run().await?;
            println!("{}", report.markdown());
            anyhow::ensure!(report.failures.is_empty(), "{} runs did not recover exactly", report.failures.len());
            return Ok(());
        }
        if let Command::Eval { hotpot, limit, dev, workdir, json } = &self.command {
            let eval = HotpotEval {
                file: hotpot.clone(),
                workdir: workdir.clone(),
                limit: *limit,
                dev: *dev,
                strategy: Strategy::default(),
                progress: true,
            };
            let r = eval.run().await?;
            println!("{}", r.markdown());
            if let Some(path) = json {
                std::fs::write(path, serde_json::to_string_pretty(&r)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            return Ok(());
        }
        if let Command::BenchJournal { steps, runs, postgres, workdir } = &self.command {
            let url = match (postgres, &self.database_url) {
                (false, _) => None,
                (true, Some(url)) => Some(url.clone()),
                (true, None) => anyhow::bail!("--postgres needs DATABASE_URL"),
            };
            println!("{} steps per run, {runs} runs\n\n{}", steps, JournalBenchReport::HEADER);
            let backends = std::iter::once(None).chain(url.map(Some));
            for postgres in backends {
                let bench = JournalBench { steps: *steps, runs: *runs, postgres, workdir: workdir.clone() };
                println!("{}", bench.run().await?.markdown());
            }
            return Ok(());
        }
        let journal: Arc<dyn Journal> = match &self.database_url {
            Some(url) => Arc::new(PostgresJournal::connect(url).await.context("connecting to DATABASE_URL")?),
            None => Arc::new(
                SqliteJournal::open(&self.journal)
                    .await
                    .with_context(|| format!("opening {}", self.journal.display()))?,
            ),
        };
        match self.command {
            Command::Run { question, corpus, publish_dir, webhook, id } => {
                let corpus =
                    std::fs::canonicalize(&corpus).with_context(|| format!("no corpus folder {}", corpus.display()))?;
                let publish = match (publish_dir, webhook) {
                    (Some(dir), _) => Some(Target::File { dir: dir.display().to_string() }),
                    (None, Some(url)) => Some(Target::Webhook { url }),
                    (None, None) => None,
                };
                let input =
                    Research { question, corpus: Some(corpus.display().to_string()), publish, ..Research::default() };
                let rt = crate::service::runtime(journal, &corpus).await?;
                let id = rt.start(id, &input).await?;
                println!("run {id}");
                report(&id, rt.drive(&id).await?);
            }
            Command::Runs { limit } => {
                println!("{:<18} {:<10} {:>7}  updated", "run", "status", "events");
                for r in journal.runs(limit).await? {
                    println!("{:<18} {:<10} {:>7}  {}", r.id, r.status.as_str(), r.events, r.updated_ms);
                }
            }
            Command::Show { id, checkpoints } => {
                for e in journal.events(&id).await? {
                    if !checkpoints || matches!(e, Event::Checkpoint { .. }) {
                        println!("{}", serde_json::to_string(&e)?);
                    }
                }
            }
            Command::Resume { id } => {
                let rt = crate::service::runtime(journal.clone(), &corpus_of(&journal, &id).await?).await?;
                report(&id, rt.drive(&id).await?);
            }
            Command::Approve { id, reject, edit } => {
                let answer = match (reject, edit) {
                    (Some(reason), _) => Approval::Reject { reason: Some(reason) },
                    (None, Some(path)) => Approval::Edit {
                        report: std::fs::read_to_string(&path)
                            .with_context(|| format!("reading {}", path.display()))?,
                    },
                    (None, None) => Approval::Approve,
                };
                let rt = crate::service::runtime(journal.clone(), &corpus_of(&journal, &id).await?).await?;
                report(&id, rt.resume(&id, serde_json::to_value(answer)?).await?);
            }
            Command::Fork { id, step } => {
                let rt = crate::service::runtime(journal.clone(), &corpus_of(&journal, &id).await?).await?;
                let new = rt.fork(&id, step, None).await?;
                println!("run {new} (forked from {id} at step {step})");
                report(&new, rt.drive(&new).await?);
            }
            Command::Serve { addr, corpus, publish_dir } => {
                let corpus = match corpus {
                    Some(c) => c,
                    None => crate::service::write_demo_corpus(&std::env::temp_dir().join("agent-workflow-demo"))?,
                };
                let service = crate::service::Service::open(journal, &corpus, publish_dir).await?;
                let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
                tracing::info!(addr = %listener.local_addr()?, "agent workflow listening; open http://{}/", listener.local_addr()?);
                crate::api::serve(listener, service, genai_http::shutdown_signal()).await?;
            }
            Command::BenchJournal { .. } | Command::CrashTest { .. } | Command::Eval { .. } => {
                unreachable!("handled before the journal is opened")
            }
        }
        Ok(())
    }
}

async fn corpus_of(journal: &Arc<dyn Journal>, id: &str) -> anyhow::Result<PathBuf> {
    let Some(Event::Started { state, .. }) = journal.events(id).await?.into_iter().next() else {
        anyhow::bail!("run {id} has no start event");
    };
    let research: Research = serde_json::from_value(state).context("the run's state")?;
    research.corpus.map(PathBuf::from).context("the run names no corpus folder")
}

fn report(id: &str, outcome: Outcome<Research>) {
    match outcome {
        Outcome::Finished(s) => {
            let draft = s.draft.as_ref();
            println!("{}", draft.map_or("(no answer)", |d| d.report.as_str()));
            for c in draft.map(|d| d.citations.as_slice()).unwrap_or_default() {
                println!("  [{}] {}", c.number, c.title);
            }
            if let Some(p) = s.published {
                println!("published: {p}");
            }
            for d in s.decisions {
                println!("decision: {d}");
            }
        }
        Outcome::Parked { request, .. } => {
            println!("waiting for approval:\n{}", serde_json::to_string_pretty(&request).unwrap_or_default());
            println!("answer with: agent-workflow approve {id} [--reject <reason> | --edit <file>]");
        }
        Outcome::Failed { error, .. } => println!("run {id} failed: {error}"),
    }
}
