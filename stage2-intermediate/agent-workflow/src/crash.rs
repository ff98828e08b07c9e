//! `agent-workflow crash-test`: durability under real faults. Each run is driven by a child
//! process of this very binary — the server (`--server`: started and approved over HTTP) or one
//! CLI process per phase (`run`, then `approve`, or `resume` after a kill) — and that process is
//! SIGKILLed once the run's journal holds a randomly drawn number of events, so kills land on every kind of
//! step: mid-plan, mid-search, mid-review, waiting for approval, mid-publish. The harness then
//! resumes it until it finishes and checks, against one uninterrupted reference run: the same
//! final state, exactly one published report with the same text, and how many publish intents
//! the journal holds (more than one means a re-send after a kill, which the receiver's
//! idempotency deduplicated).

use crate::state::Research;
use anyhow::Context;
use genai_agent::{Event, Journal, RunStatus, SqliteJournal};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CrashTest {
    pub exe: PathBuf,
    pub corpus: PathBuf,
    pub question: String,
    pub runs: usize,
    pub workdir: PathBuf,
    pub seed: u64,
    /// Kill `agent-workflow serve` instead of the CLI: runs are started and approved over HTTP,
    /// and the restarted server recovers what it was driving.
    pub server: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CrashReport {
    pub runs: usize,
    /// Events in the uninterrupted run.
    pub reference_events: u64,
    pub kills: usize,
    /// Distinct journal lengths at which a kill landed.
    pub distinct_kill_points: usize,
    pub same_final_state: usize,
    pub exactly_one_report: usize,
    /// Runs whose journal shows the publish effect sent more than once (deduplicated).
    pub resent_effects: usize,
    pub failures: Vec<String>,
}

impl CrashTest {
    pub async fn run(&self) -> anyhow::Result<CrashReport> {
        std::fs::create_dir_all(&self.workdir)?;
        let journal_path = self.workdir.join(format!("crash-{}.db", genai_agent::new_id()));
        let sink = self.workdir.join(format!("published-{}", genai_agent::new_id()));
        let journal = SqliteJournal::open(&journal_path).await?;
        let mut server = Server::default();
        let reference = self.one(&journal, &journal_path, &sink, "reference", None, &mut server).await?.0;
        let reference = reference.as_str();
        let reference_events = journal.run(reference).await?.events;
        let want_state = final_state(&journal, reference).await?;
        let want_report = std::fs::read_to_string(sink.join(format!("report-{reference}.md")))
            .context("the reference run published no report")?;
        anyhow::ensure!(reference_events > 2, "the reference run is too short to crash");
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed);
        let mut report = CrashReport { runs: self.runs, reference_events, ..CrashReport::default() };
        let mut points = std::collections::BTreeSet::new();
        let bar = indicatif::ProgressBar::new(self.runs as u64);
        for i in 0..self.runs {
            let kill_at = rng.random_range(1..reference_events);
            let (id, killed) =
                self.one(&journal, &journal_path, &sink, &format!("crash-{i}"), Some(kill_at), &mut server).await?;
            if let Some(at) = killed {
                report.kills += 1;
                points.insert(at);
            }
            let state = final_state(&journal, &id).await?;
            if normalise(&state, &id) == normalise(&want_state, reference) {
                report.same_final_state += 1;
            } else {
                report.failures.push(format!("{id}: the final state differs from the reference"));
            }
            let files: Vec<_> = std::fs::read_dir(&sink)?
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy() == format!("report-{id}.md"))
                .collect();
            let text = std::fs::read_to_string(sink.join(format!("report-{id}.md"))).unwrap_or_default();
            if files.len() == 1 && text == want_report {
                report.exactly_one_report += 1;
            } else {
                report.failures.push(format!("{id}: {} report files, text same: {}", files.len(), text == want_report));
            }
            let intents = journal
                .events(&id)
                .await?
                .iter()
                .filter(|e| matches!(e, Event::EffectIntent { name, .. } if name == "publish"))
                .count();
            report.resent_effects += usize::from(intents > 1);
            bar.inc(1);
        }
        bar.finish_and_clear();
        server.stop().await;
        report.distinct_kill_points = points.len();
        Ok(report)
    }

    /// One run to its end, killed once at `kill_at` events: by the CLI (its id is `id`) or through
    /// the server (the id it gives).
    async fn one(
        &self,
        journal: &SqliteJournal,
        path: &Path,
        sink: &Path,
        id: &str,
        kill_at: Option<u64>,
        server: &mut Server,
    ) -> anyhow::Result<(String, Option<u64>)> {
        if self.server {
            self.through_server(journal, path, sink, kill_at, server).await
        } else {
            Ok((id.to_string(), self.drive_to_end(journal, path, sink, id, kill_at).await?))
        }
    }

    /// Starts a run over HTTP, approves it when it parks, and SIGKILLs the server once the journal
    /// holds `kill_at` events; the next server recovers the run.
    async fn through_server(
        &self,
        journal: &SqliteJournal,
        path: &Path,
        sink: &Path,
        mut kill_at: Option<u64>,
        server: &mut Server,
    ) -> anyhow::Result<(String, Option<u64>)> {
        let http = reqwest::Client::new();
        let base = server.ensure(self, path, sink).await?;
        let started = http
            .post(format!("{base}/api/runs"))
            .json(&serde_json::json!({"question": self.question, "publish": true}))
            .send()
            .await?
            .error_for_status()?
            .json::<serde_json::Value>()
            .await?;
        let id = started["id"].as_str().context("no run id")?.to_string();
        let (mut landed, mut approved) = (None, false);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            let info = journal.run(&id).await?;
            if let Some(k) = kill_at.filter(|k| info.events >= *k) {
                server.kill().await;
                landed = Some(journal.run(&id).await?.events.max(k));
                kill_at = None;
            }
            match info.status {
                RunStatus::Finished => return Ok((id, landed)),
                RunStatus::Failed => anyhow::bail!("run {id} failed"),
                RunStatus::Parked if !approved => {
                    let base = server.ensure(self, path, sink).await?;
                    let r = http
                        .post(format!("{base}/api/runs/{id}/approval"))
                        .json(&serde_json::json!({"decision": "approve"}))
                        .send()
                        .await?;
                    anyhow::ensure!(r.status() == 202, "approving {id}: {}", r.status());
                    approved = true;
                }
                _ => {
                    // A killed server is started again: it drives the runs left `running`.
                    server.ensure(self, path, sink).await?;
                }
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        anyhow::bail!("run {id} did not finish within a minute")
    }

    /// Starts or continues run `id` in child processes until it finishes; kills the first child
    /// once the journal holds `kill_at` events. Returns the journal length the kill landed at.
    async fn drive_to_end(
        &self,
        journal: &SqliteJournal,
        path: &Path,
        sink: &Path,
        id: &str,
        mut kill_at: Option<u64>,
    ) -> anyhow::Result<Option<u64>> {
        let mut landed = None;
        for _ in 0..8 {
            let status = journal.run(id).await.ok().map(|r| r.status);
            let mut cmd = tokio::process::Command::new(&self.exe);
            cmd.arg("--journal").arg(path).env_remove("DATABASE_URL").stdout(Stdio::null()).stderr(Stdio::null());
            match status {
                None => cmd
                    .args(["run", &self.question, "--id", id, "--corpus"])
                    .arg(&self.corpus)
                    .arg("--publish-dir")
                    .arg(sink),
                Some(RunStatus::Parked) => cmd.args(["approve", id]),
                Some(RunStatus::Finished) => return Ok(landed),
                Some(RunStatus::Running) => cmd.args(["resume", id]),
                Some(other) => anyhow::bail!("run {id} ended {}", other.as_str()),
            };
            let mut child = cmd.spawn().with_context(|| format!("starting {}", self.exe.display()))?;
            match kill_at.take() {
                Some(k) => loop {
                    if let Some(exit) = child.try_wait()? {
                        anyhow::ensure!(exit.success(), "run {id}: the child failed ({exit})");
                        // It finished this phase before reaching `k`: kill in the next one.
                        let have = journal.run(id).await.map(|r| r.events).unwrap_or(0);
                        kill_at = (have < k).then_some(k);
                        break;
                    }
                    let have = journal.run(id).await.map(|r| r.events).unwrap_or(0);
                    if have >= k {
                        child.kill().await?; // SIGKILL
                        landed = Some(journal.run(id).await.map(|r| r.events).unwrap_or(0));
                        break;
                    }
                    tokio::time::sleep(Duration::from_micros(200)).await;
                },
                None => {
                    let exit = child.wait().await?;
                    anyhow::ensure!(exit.success(), "run {id}: the child failed ({exit})");
                }
            }
        }
        anyhow::bail!("run {id} did not finish in 8 processes")
    }
}

/// The `agent-workflow serve` child, when one runs.
#[derive(Default)]
struct Server {
    child: Option<(tokio::process::Child, String)>,
}

impl Server {
    /// The running server's base URL, starting one (and waiting until it answers) if needed.
    async fn ensure(&mut self, t: &CrashTest, journal: &Path, sink: &Path) -> anyhow::Result<String> {
        if let Some((_, base)) = &self.child {
            return Ok(base.clone());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = tokio::process::Command::new(&t.exe)
            .arg("--journal")
            .arg(journal)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--corpus"])
            .arg(&t.corpus)
            .arg("--publish-dir")
            .arg(sink)
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", t.exe.display()))?;
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..600 {
            if reqwest::get(format!("{base}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
                self.child = Some((child, base.clone()));
                return Ok(base);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::bail!("the server did not start on port {port}")
    }

    /// SIGKILL.
    async fn kill(&mut self) {
        if let Some((mut child, _)) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    async fn stop(&mut self) {
        self.kill().await;
    }
}

async fn final_state(journal: &SqliteJournal, id: &str) -> anyhow::Result<Research> {
    let events = journal.events(id).await?;
    let Some(Event::Finished { state }) = events.last() else { anyhow::bail!("run {id} has not finished") };
    Ok(serde_json::from_value(state.clone())?)
}

/// The state with the run's own id taken out of the published path.
fn normalise(state: &Research, id: &str) -> String {
    serde_json::to_string(state).unwrap_or_default().replace(&format!("report-{id}.md"), "report-RUN.md")
}

impl CrashReport {
    pub fn markdown(&self) -> String {
        format!(
            "| runs | kills | distinct kill points (of {} events) | same final state | exactly one report | publish re-sent (deduplicated) |\n|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} |\n{}",
            self.reference_events,
            self.runs,
            self.kills,
            self.distinct_kill_points,
            self.same_final_state,
            self.exactly_one_report,
            self.resent_effects,
            self.failures.iter().map(|f| format!("\nfailure: {f}")).collect::<String>()
        )
    }
}
