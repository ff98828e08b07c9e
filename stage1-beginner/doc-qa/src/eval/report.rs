//! The evaluation's report: scores at a refusal threshold, RAG metrics with intervals, the
//! per-question scores `genai-eval compare` reads, and the Markdown tables.

use super::QuestionResult;
use genai_eval::stats::Interval;
use serde::Serialize;
use std::collections::BTreeMap;

/// Metrics at one refusal threshold over a set of questions.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Scores {
    pub threshold: f64,
    pub answerable: usize,
    pub unanswerable: usize,
    pub hit_rate: f64,
    /// Containment over answerable questions, a refusal counting as a miss.
    pub containment: f64,
    pub em: f64,
    pub f1: f64,
    pub refusal_precision: f64,
    pub refusal_recall: f64,
    /// Answerable questions refused.
    pub false_refusals: usize,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub articles_ingested: usize,
    pub articles_held_out: Vec<String>,
    pub pdf_pages: usize,
    pub chunks: usize,
    /// Mean tokens per chunk and the share of chunks ending at a sentence end (. ! ? or a quote).
    pub chunk_tokens_mean: f64,
    pub chunks_ending_a_sentence: f64,
    /// Seconds to load and chunk every PDF (no embedding, no indexing): the pipeline's own cost.
    pub chunk_seconds: f64,
    /// Seconds of the ingest call (embedding and indexing; near zero when the library already
    /// holds the files from an earlier run).
    pub ingest_seconds: f64,
    pub pipeline: String,
    pub questions: usize,
    pub mode: String,
    pub embedder: String,
    pub top_k: usize,
    pub all: Scores,
    pub calibration_split: Scores,
    pub test_split: Scores,
    pub latency_ms_p50: f64,
    pub latency_ms_p95: f64,
    pub sweep: Vec<Scores>,
    pub chunk_tokens: usize,
    pub chunk_overlap: usize,
    /// Mean tokens of the retrieved passages per question (the cost side of chunk size).
    pub tokens_sent_mean: f64,
    /// RAG metrics over all questions, with 95% intervals.
    pub rag: RagSummary,
    /// Every question's scores at the report's threshold, keyed by SQuAD id (what `genai-eval compare` reads).
    pub per_query: BTreeMap<String, PerQuestion>,
}

/// RAG metrics with 95% bootstrap intervals. Context metrics apply to answerable questions;
/// faithfulness and relevancy to answers not refused.
#[derive(Debug, Clone, Serialize)]
pub struct RagSummary {
    pub context_precision: Interval,
    pub context_recall: Interval,
    pub hit_rate: Interval,
    pub faithfulness: Interval,
    pub answer_relevancy: Interval,
    /// Containment over answerable questions (a refusal counts as a miss).
    pub containment: Interval,
}

/// One question at the report's refusal threshold; `None`: not applicable.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PerQuestion {
    pub context_precision: Option<f64>,
    pub context_recall: Option<f64>,
    pub hit: Option<f64>,
    pub faithfulness: Option<f64>,
    pub answer_relevancy: Option<f64>,
    pub containment: Option<f64>,
    pub em: Option<f64>,
    pub f1: Option<f64>,
    /// 1 when the answer was refused.
    pub refused: f64,
    pub tokens_sent: f64,
}

pub(super) fn per_question(results: &[QuestionResult], threshold: f64) -> BTreeMap<String, PerQuestion> {
    results
        .iter()
        .map(|r| {
            let refused = r.evidence < threshold;
            let answered = |v: Option<f64>| if refused { None } else { v };
            let answerable = |v: f64| r.answerable.then_some(if refused { 0.0 } else { v });
            (
                r.id.clone(),
                PerQuestion {
                    context_precision: r.rag.context_precision,
                    context_recall: r.rag.context_recall,
                    hit: r.rag.hit,
                    faithfulness: answered(r.rag.faithfulness),
                    answer_relevancy: answered(r.rag.answer_relevancy),
                    containment: answerable(f64::from(u8::from(r.contains))),
                    em: answerable(r.em),
                    f1: answerable(r.f1),
                    refused: f64::from(u8::from(refused)),
                    tokens_sent: f64::from(r.tokens_sent),
                },
            )
        })
        .collect()
}

pub(super) fn rag_summary(results: &[QuestionResult], threshold: f64) -> RagSummary {
    let per = per_question(results, threshold);
    let col =
        |f: fn(&PerQuestion) -> Option<f64>| genai_eval::stats::interval(&per.values().map(f).collect::<Vec<_>>());
    RagSummary {
        context_precision: col(|p| p.context_precision),
        context_recall: col(|p| p.context_recall),
        hit_rate: col(|p| p.hit),
        faithfulness: col(|p| p.faithfulness),
        answer_relevancy: col(|p| p.answer_relevancy),
        containment: col(|p| p.containment),
    }
}

/// Scores `results` as if the refusal threshold were `threshold`.
pub fn score(results: &[&QuestionResult], threshold: f64) -> Scores {
    let answerable: Vec<_> = results.iter().filter(|r| r.answerable).collect();
    let unanswerable = results.len() - answerable.len();
    let refused = |r: &QuestionResult| r.evidence < threshold;
    let n = answerable.len().max(1) as f64;
    let refused_total = results.iter().filter(|r| refused(r)).count();
    let refused_right = results.iter().filter(|r| !r.answerable && refused(r)).count();
    Scores {
        threshold,
        answerable: answerable.len(),
        unanswerable,
        hit_rate: answerable.iter().filter(|r| r.hit).count() as f64 / n,
        containment: answerable.iter().filter(|r| r.contains && !refused(r)).count() as f64 / n,
        em: answerable.iter().filter(|r| !refused(r)).map(|r| r.em).sum::<f64>() / n,
        f1: answerable.iter().filter(|r| !refused(r)).map(|r| r.f1).sum::<f64>() / n,
        refusal_precision: if refused_total == 0 { 1.0 } else { refused_right as f64 / refused_total as f64 },
        refusal_recall: if unanswerable == 0 { 1.0 } else { refused_right as f64 / unanswerable as f64 },
        false_refusals: answerable.iter().filter(|r| refused(r)).count(),
    }
}

impl EvalReport {
    /// The report as Markdown tables.
    pub fn to_markdown(&self) -> String {
        let row = |name: &str, s: &Scores| {
            format!(
                "| {name} | {} | {} | {:.1}% | {:.1}% | {:.1} | {:.1} | {:.1}% | {:.1}% | {} |\n",
                s.answerable,
                s.unanswerable,
                100.0 * s.hit_rate,
                100.0 * s.containment,
                100.0 * s.em,
                100.0 * s.f1,
                100.0 * s.refusal_precision,
                100.0 * s.refusal_recall,
                s.false_refusals
            )
        };
        let mut out = format!(
            "{} articles ingested by the {} pipeline ({} PDF pages, {} chunks of {:.0} tokens on average, {:.0}% ending a sentence; loading and chunking {:.2} s, ingest {:.1} s); held out: {}\nretrieval: {} with {} embedder, top {}; refusal threshold {:.3}\n\n",
            self.articles_ingested,
            self.pipeline,
            self.pdf_pages,
            self.chunks,
            self.chunk_tokens_mean,
            100.0 * self.chunks_ending_a_sentence,
            self.chunk_seconds,
            self.ingest_seconds,
            self.articles_held_out.join(", "),
            self.mode,
            self.embedder,
            self.top_k,
            self.all.threshold
        );
        out.push_str("| questions | answerable | unanswerable | top-k hit | containment | EM | F1 | refusal precision | refusal recall | false refusals |\n|---|---|---|---|---|---|---|---|---|---|\n");
        out.push_str(&row("all", &self.all));
        out.push_str(&row("calibration split (articles 0, 1 mod 4)", &self.calibration_split));
        out.push_str(&row("test split (articles 2, 3 mod 4)", &self.test_split));
        out.push_str(&format!(
            "\nlatency per question (retrieval + answer): p50 {:.1} ms, p95 {:.1} ms; passages sent {:.0} tokens per question\n",
            self.latency_ms_p50, self.latency_ms_p95, self.tokens_sent_mean
        ));
        let r = &self.rag;
        out.push_str(&format!(
            "\n| RAG metric (95% CI) | value | questions | n/a |\n|---|---|---|---|\n| context precision | {} | {} | {} |\n| context recall | {} | {} | {} |\n| faithfulness (overlap judge) | {} | {} | {} |\n| answer relevancy (embedding cosine) | {} | {} | {} |\n",
            r.context_precision, r.context_precision.n, r.context_precision.not_applicable,
            r.context_recall, r.context_recall.n, r.context_recall.not_applicable,
            r.faithfulness, r.faithfulness.n, r.faithfulness.not_applicable,
            r.answer_relevancy, r.answer_relevancy.n, r.answer_relevancy.not_applicable,
        ));
        out
    }

    /// One row of the chunk-size sweep table.
    pub fn chunk_row(&self) -> String {
        format!(
            "| {} / {} | {} | {:.1}% | {:.1}% | {:.0} | {:.3} | {:.1} |",
            self.chunk_tokens,
            self.chunk_overlap,
            self.chunks,
            100.0 * self.all.hit_rate,
            100.0 * self.all.containment,
            self.tokens_sent_mean,
            self.rag.context_precision.mean,
            self.latency_ms_p95
        )
    }

    pub const CHUNK_HEADER: &str = "| chunk tokens / overlap | chunks | top-k hit | containment | tokens sent per question | context precision | p95 ms |\n|---|---|---|---|---|---|---|";

    /// The threshold sweep on the calibration split.
    pub fn sweep_markdown(&self) -> String {
        let mut out = String::from(
            "| threshold | containment | refusal precision | refusal recall | false refusals |\n|---|---|---|---|---|\n",
        );
        for s in &self.sweep {
            out.push_str(&format!(
                "| {:.3} | {:.1}% | {:.1}% | {:.1}% | {} |\n",
                s.threshold,
                100.0 * s.containment,
                100.0 * s.refusal_precision,
                100.0 * s.refusal_recall,
                s.false_refusals
            ));
        }
        out
    }
}
