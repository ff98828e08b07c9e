//! `agent-workflow crash-test`: durability under real faults. Each run is started as a child
//! process of this very binary (`run`, then `approve`, or `resume` after a kill), and SIGKILLed
//! once its journal holds a randomly drawn number of events, so kills land on every kind of
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
        let reference = "reference";
        self.drive_to_end(&journal, &journal_path, &sink, reference, None).await?;
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
            let id = format!("crash-{i}");
            let kill_at = rng.random_range(1..reference_events);
            let killed = self.drive_to_end(&journal, &journal_path, &sink, &id, Some(kill_at)).await?;
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
        report.distinct_kill_points = points.len();
        Ok(report)
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
