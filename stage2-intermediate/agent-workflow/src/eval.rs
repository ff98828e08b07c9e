//! `agent-workflow eval hotpot`: single-shot retrieval against the agent workflow on HotpotQA's
//! multi-hop questions (distractor dev, pooled paragraphs), paired question by question.
//!
//! Both systems search the same BM25 index of every question's paragraphs pooled. Single shot:
//! the question's top passages, answered by the same extractive writer. Workflow: the whole
//! research graph on the durable runtime (every run journaled in SQLite). Reported: recall@2 and
//! recall@5 of *both* gold paragraphs (a multi-hop question needs both) and of each gold
//! paragraph (the published convention), answer EM and F1 (SQuAD normalisation), each with a
//! 95% bootstrap interval, and the paired difference with its p-value.

use crate::corpus::{Corpus, Passage};
use crate::research_graph;
use crate::state::Research;
use anyhow::Context;
use genai_agent::{Outcome, RunLimits, Runtime, SqliteJournal};
use genai_eval::hotpot::{self, Record};
use genai_eval::squad;
use genai_eval::stats::{self, Interval, Paired};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct HotpotEval {
    pub file: PathBuf,
    pub workdir: PathBuf,
    pub limit: Option<usize>,
    /// Report questions before this position separately (the rules were developed on them).
    pub dev: usize,
    pub strategy: crate::agents::researcher::Strategy,
    pub progress: bool,
}

/// One system's scores on one question.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Scores {
    pub both_at_2: f64,
    pub both_at_5: f64,
    pub each_at_2: f64,
    pub each_at_5: f64,
    pub em: f64,
    pub f1: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemReport {
    pub both_at_2: Interval,
    pub both_at_5: Interval,
    pub each_at_2: Interval,
    pub each_at_5: Interval,
    pub em: Interval,
    pub f1: Interval,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub both_at_2: Paired,
    pub both_at_5: Paired,
    pub each_at_5: Paired,
    pub f1: Paired,
}

#[derive(Debug, Clone, Serialize)]
pub struct Slice {
    pub name: String,
    pub questions: usize,
    pub single_shot: SystemReport,
    pub workflow: SystemReport,
    pub workflow_minus_single: Comparison,
}

#[derive(Debug, Clone, Serialize)]
pub struct HotpotReport {
    pub dataset: String,
    pub passages: usize,
    pub slices: Vec<Slice>,
    /// Per run of the workflow: journal events and p95 wall time.
    pub events_per_run_mean: f64,
    pub workflow_ms_p95: f64,
    pub single_ms_p95: f64,
    pub per_question: Vec<(String, Scores, Scores)>,
}

impl HotpotEval {
    pub async fn run(&self) -> anyhow::Result<HotpotReport> {
        let mut records = hotpot::read(&self.file).with_context(|| format!("reading {}", self.file.display()))?;
        if let Some(n) = self.limit {
            records.truncate(n);
        }
        anyhow::ensure!(!records.is_empty(), "no questions in {}", self.file.display());
        let mut docs = Vec::new();
        for r in &records {
            for (title, sentences) in &r.context {
                docs.push((title.clone(), sentences.concat().trim().to_string()));
            }
        }
        let stem = self.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        // Keyed by the passages: a `--limit 5` run's index is never topped up by a full run.
        let corpus = Arc::new(Corpus::build_cached(docs, &self.workdir, &format!("index-{stem}")).await?);
        let journal_path = self.workdir.join(format!("journal-{stem}-{}.db", genai_agent::new_id()));
        let journal = Arc::new(SqliteJournal::open(&journal_path).await?);
        let graph = Arc::new(research_graph(corpus.clone(), None, self.strategy)?);
        let runtime = Runtime::new(graph, journal.clone(), RunLimits::default());
        let bar = if self.progress { ProgressBar::new(records.len() as u64) } else { ProgressBar::hidden() };
        bar.set_style(ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} (eta {eta})")?.progress_chars("=> "));
        bar.set_message("questions");
        let (mut per_question, mut events, mut wf_ms, mut ss_ms) = (Vec::new(), 0usize, Vec::new(), Vec::new());
        for r in &records {
            let t = Instant::now();
            let single = single_shot(&corpus, r).await?;
            ss_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let input = Research { question: r.question.clone(), ..Research::default() };
            let id = runtime.start(None, &input).await?;
            let state = match runtime.drive(&id).await? {
                Outcome::Finished(s) => s,
                other => anyhow::bail!("question {}: the workflow ended with {other:?}", r.id),
            };
            wf_ms.push(t.elapsed().as_secs_f64() * 1e3);
            events += runtime.history(&id).await?.len();
            let answer = state.draft.as_ref().map(|d| d.answer.clone()).unwrap_or_default();
            per_question.push((r.id.clone(), single, score(r, &state.evidence, &answer)));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let n = per_question.len();
        let mut slices = vec![slice("all", &per_question)];
        if self.dev > 0 && self.dev < n {
            slices.push(slice(&format!("questions 1-{} (rules developed here)", self.dev), &per_question[..self.dev]));
            slices.push(slice(&format!("questions {}-{n} (not looked at)", self.dev + 1), &per_question[self.dev..]));
        }
        Ok(HotpotReport {
            dataset: stem,
            passages: corpus.len(),
            slices,
            events_per_run_mean: events as f64 / n as f64,
            workflow_ms_p95: genai_eval::metrics::percentile(&wf_ms, 95.0),
            single_ms_p95: genai_eval::metrics::percentile(&ss_ms, 95.0),
            per_question,
        })
    }
}

/// The baseline: the question's own top passages, answered by the same extractive writer.
async fn single_shot(corpus: &Corpus, r: &Record) -> anyhow::Result<Scores> {
    let passages = corpus.search(&r.question, 10).await?;
    let state = Research { question: r.question.clone(), evidence: passages.clone(), ..Research::default() };
    let hits: Vec<_> = passages.iter().take(4).map(crate::agents::writer::hit).collect();
    let answer = genai_answer::Answerer::answer(
        &genai_answer::Extractive::new(genai_answer::LEXICAL_WEIGHTS),
        &state.question,
        &hits,
        None,
    )
    .await;
    let short = answer.short.unwrap_or(answer.text);
    Ok(score(r, &passages, &short))
}

fn score(r: &Record, ranked: &[Passage], answer: &str) -> Scores {
    let gold = r.gold_titles();
    let found = |k: usize| gold.iter().filter(|g| ranked.iter().take(k).any(|p| &p.title == *g)).count() as f64;
    let all = |k: usize| f64::from(u8::from(found(k) == gold.len() as f64));
    let each = |k: usize| found(k) / gold.len().max(1) as f64;
    Scores {
        both_at_2: all(2),
        both_at_5: all(5),
        each_at_2: each(2),
        each_at_5: each(5),
        em: squad::exact_match(answer, &[&r.answer]),
        f1: squad::f1(answer, &[&r.answer]),
    }
}

fn report(xs: &[Scores]) -> SystemReport {
    let col = |f: fn(&Scores) -> f64| stats::interval(&xs.iter().map(|s| Some(f(s))).collect::<Vec<_>>());
    SystemReport {
        both_at_2: col(|s| s.both_at_2),
        both_at_5: col(|s| s.both_at_5),
        each_at_2: col(|s| s.each_at_2),
        each_at_5: col(|s| s.each_at_5),
        em: col(|s| s.em),
        f1: col(|s| s.f1),
    }
}

fn slice(name: &str, rows: &[(String, Scores, Scores)]) -> Slice {
    let a: Vec<Scores> = rows.iter().map(|r| r.1).collect();
    let b: Vec<Scores> = rows.iter().map(|r| r.2).collect();
    let pair = |f: fn(&Scores) -> f64| {
        stats::paired(
            &a.iter().map(|s| Some(f(s))).collect::<Vec<_>>(),
            &b.iter().map(|s| Some(f(s))).collect::<Vec<_>>(),
        )
    };
    Slice {
        name: name.into(),
        questions: rows.len(),
        single_shot: report(&a),
        workflow: report(&b),
        workflow_minus_single: Comparison {
            both_at_2: pair(|s| s.both_at_2),
            both_at_5: pair(|s| s.both_at_5),
            each_at_5: pair(|s| s.each_at_5),
            f1: pair(|s| s.f1),
        },
    }
}

impl HotpotReport {
    /// The report as Markdown tables.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "HotpotQA {} ({} pooled passages); workflow p95 {:.0} ms per question (single shot {:.1} ms), {:.1} journal events per run\n",
            self.dataset, self.passages, self.workflow_ms_p95, self.single_ms_p95, self.events_per_run_mean
        );
        for s in &self.slices {
            out.push_str(&format!(
                "\n### {} ({} questions)\n\n| system | both gold @2 | both gold @5 | each gold @2 | each gold @5 | EM | F1 |\n|---|---|---|---|---|---|---|\n",
                s.name, s.questions
            ));
            for (name, r) in [("single-shot BM25", &s.single_shot), ("agent workflow", &s.workflow)] {
                out.push_str(&format!(
                    "| {name} | {} | {} | {} | {} | {} | {} |\n",
                    r.both_at_2, r.both_at_5, r.each_at_2, r.each_at_5, r.em, r.f1
                ));
            }
            let c = &s.workflow_minus_single;
            let d = |p: &Paired| format!("{:+.4} [{:+.4}, {:+.4}], p = {:.4}", p.difference, p.low, p.high, p.p_value);
            out.push_str(&format!(
                "\nworkflow − single shot: both@2 {}; both@5 {}; each@5 {}; F1 {}\n",
                d(&c.both_at_2),
                d(&c.both_at_5),
                d(&c.each_at_5),
                d(&c.f1)
            ));
        }
        out
    }
}
