//! `doc-qa eval`: SQuAD articles rendered to PDF, ingested, every question asked.
//!
//! Protocol: every `holdout_every`-th article (index 4, 9, 14, 19 of 24 by default) is *not*
//! ingested; its questions must be refused. The others are rendered to multi-page PDFs (title,
//! then paragraphs), ingested through the normal path (PDF loader, chunker, index), and their
//! questions answered with the configured retrieval and the extractive answerer. Answers are
//! computed once with refusals disabled, and every threshold is then applied to the recorded
//! evidence, so the sweep is exact and free.
//!
//! Measures: top-k retrieval hit rate (a retrieved passage contains the sentence of the gold
//! paragraph that holds the answer), answer containment (a gold answer is in what the user is
//! shown), SQuAD EM/F1 of the short answer (or the sentence when there is none), refusal
//! precision/recall, latency. A calibration split holds the articles the default
//! threshold and weights were chosen on (articles 0 and 1 mod 4); the others are reported separately.

mod report;

pub use report::{EvalReport, PerQuestion, RagSummary, Scores, score};

use crate::{Config, DocQa, FileReport, render::PdfWriter};
use genai_eval::metrics::percentile;
use genai_eval::rag::{self, JudgedAnswer, OverlapJudge};
use genai_eval::squad::{self, Article};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub squad: PathBuf,
    pub workdir: PathBuf,
    pub holdout_every: usize,
    /// Base configuration (embedder, mode, top_k, threshold...); `data_dir` is set under `workdir`.
    pub config: Config,
    pub progress: bool,
    /// Ask at most this many questions per article (0 = all), for quick runs.
    pub max_questions_per_article: usize,
    /// Write one JSON line per question (question, gold, answer, evidence) here, for error analysis.
    pub dump: Option<PathBuf>,
    /// How the PDFs become chunks (the project's own pipeline, or the langchain-rust baseline).
    pub pipeline: crate::Pipeline,
}

/// One question's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionResult {
    /// SQuAD's question id.
    pub id: String,
    pub article: usize,
    pub answerable: bool,
    pub hit: bool,
    pub evidence: f64,
    pub contains: bool,
    pub em: f64,
    pub f1: f64,
    pub latency_ms: f64,
    /// Tokens of the passages retrieved for the question: what a model answerer would be sent.
    pub tokens_sent: u32,
    /// RAG metrics of the answer given before any refusal (see `report::rag_summary`).
    pub rag: rag::RagScores,
}

/// Articles 0, 1, 4, 5, 8, 9, ... form the calibration split; 2, 3, 6, 7, ... the test split.
/// With any hold-out period, both splits then mix ingested and held-out articles.
fn calibration(article: usize) -> bool {
    article % 4 < 2
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The sentence of `context` containing byte offset of the answer's start (SQuAD gives chars).
fn gold_sentence(context: &str, answer_start_chars: usize) -> String {
    let at = context.char_indices().nth(answer_start_chars).map_or(context.len(), |(b, _)| b);
    genai_ingest::sentence_spans(context)
        .into_iter()
        .find(|r| r.start <= at && at < r.end.max(r.start + 1))
        .map_or_else(|| context.to_owned(), |r| context[r].to_owned())
}

impl EvalConfig {
    /// True for the articles that are not ingested (their questions must be refused).
    pub fn held_out(&self, article: usize) -> bool {
        let every = self.holdout_every.max(2);
        article % every == every - 1
    }

    /// The configuration the evaluation's library is opened with: one library per embedder and
    /// protocol (a library built for another hold-out would already contain the articles this
    /// run must not see), answers computed without refusals (thresholds are applied afterwards).
    pub fn library_config(&self) -> Config {
        let mut config = self.config.clone();
        config.data_dir = self.workdir.join(
            format!(
                "library-{:?}-{:?}-holdout{}-chunk{}-{}",
                config.embedder,
                self.pipeline,
                self.holdout_every.max(2),
                config.chunk_tokens,
                config.chunk_overlap
            )
            .to_lowercase(),
        );
        config.refusal_threshold = Some(f64::NEG_INFINITY);
        config.answerer = crate::AnswererChoice::Extractive;
        config
    }

    /// The ingested articles rendered to PDF (written once under `workdir/pdfs`), as uploads.
    pub fn pdfs(&self, data: &squad::Squad) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let pdf_dir = self.workdir.join("pdfs");
        std::fs::create_dir_all(&pdf_dir)?;
        let writer = PdfWriter::new();
        let mut files = Vec::new();
        for (i, a) in data.data.iter().enumerate().filter(|(i, _)| !self.held_out(*i)) {
            let path = pdf_dir.join(format!("{i:02}-{}.pdf", a.title.replace(['/', '\\'], "_")));
            if !path.exists() {
                let paragraphs: Vec<String> = a.paragraphs.iter().map(|p| p.context.clone()).collect();
                std::fs::write(&path, writer.render(&a.title.replace('_', " "), &paragraphs))?;
            }
            files.push((
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                std::fs::read(&path)?,
            ));
        }
        Ok(files)
    }

    /// Ingests `files` through the normal path; any file skipped is an error.
    async fn ingest(&self, qa: &DocQa, files: Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
        let bar = self.bar(files.len() as u64, "ingesting");
        let reports = qa.ingest_with(self.pipeline, files, |_| bar.inc(1)).await;
        bar.finish_and_clear();
        if let Some(FileReport::Skipped { file, reason, .. }) =
            reports.iter().find(|r| matches!(r, FileReport::Skipped { .. }))
        {
            anyhow::bail!("{file} was not ingested: {reason}");
        }
        Ok(())
    }

    /// The SQuAD file and the evaluation's library with every article but the held-out ones
    /// ingested (for other evaluations on the same corpus: cost-optimizer's RAG levers).
    pub async fn open_library(&self) -> anyhow::Result<(squad::Squad, DocQa)> {
        use anyhow::Context;
        let data = squad::load(&self.squad).with_context(|| format!("reading SQuAD file {}", self.squad.display()))?;
        let qa = DocQa::open(self.library_config()).await?;
        let files = self.pdfs(&data)?;
        self.ingest(&qa, files).await?;
        Ok((data, qa))
    }

    pub async fn run(&self) -> anyhow::Result<EvalReport> {
        use anyhow::Context;
        let data = squad::load(&self.squad).with_context(|| format!("reading SQuAD file {}", self.squad.display()))?;
        let held_out = |i: usize| self.held_out(i);
        let config = self.library_config();
        let semantic = !matches!(config.embedder, crate::EmbedderChoice::Hashing);
        let base = if semantic { crate::answer::SEMANTIC_WEIGHTS } else { crate::answer::LEXICAL_WEIGHTS };
        let threshold = self.config.refusal_threshold.unwrap_or(base.threshold);
        let qa = DocQa::open(config.clone()).await?;

        let started = Instant::now();
        let files = self.pdfs(&data)?;
        // Chunk statistics: tokens per chunk, and whether chunks end where sentences end.
        let chunking = Instant::now();
        let mut token_counts = Vec::new();
        let mut sentence_ends = 0usize;
        // Every chunk's text, to count how many chunks hold each gold sentence (context recall).
        let mut all_chunks = Vec::new();
        for (name, bytes) in &files {
            for c in
                qa.chunk_file(self.pipeline, name, bytes.clone()).await.map_err(|r| anyhow::anyhow!("{name}: {r}"))?
            {
                all_chunks.push(squash(&c.text));
                token_counts.push(c.token_count as f64);
                sentence_ends += usize::from(c.text.trim_end().ends_with(['.', '!', '?', '"', '\u{201D}', ')']));
            }
        }
        let chunk_seconds = chunking.elapsed().as_secs_f64();
        let chunk_tokens_mean = token_counts.iter().sum::<f64>() / token_counts.len().max(1) as f64;
        let chunks_ending_a_sentence = sentence_ends as f64 / token_counts.len().max(1) as f64;
        self.ingest(&qa, files).await?;
        let ingest_seconds = started.elapsed().as_secs_f64();
        let docs = qa.documents();

        let questions: Vec<(usize, &Article, &squad::Paragraph, &squad::Qa)> = data
            .data
            .iter()
            .enumerate()
            .flat_map(|(i, a)| {
                let cap = if self.max_questions_per_article == 0 { usize::MAX } else { self.max_questions_per_article };
                a.paragraphs.iter().flat_map(move |p| p.qas.iter().map(move |q| (i, a, p, q))).take(cap)
            })
            .collect();
        let bar = self.bar(questions.len() as u64, "asking");
        let mut results = Vec::with_capacity(questions.len());
        let mut dump = match &self.dump {
            Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
            None => None,
        };
        for (i, _article, paragraph, qa_item) in &questions {
            let golds: Vec<&str> = qa_item.answers.iter().map(|a| a.text.as_str()).collect();
            let start = Instant::now();
            let (response, hits) = qa.ask_with_passages(&qa_item.question).await?;
            let latency_ms = start.elapsed().as_secs_f64() * 1e3;
            let gold =
                squash(&gold_sentence(&paragraph.context, qa_item.answers.first().map_or(0, |a| a.answer_start)));
            let flags: Vec<bool> = hits.iter().map(|h| squash(&h.chunk.text).contains(&gold)).collect();
            let hit = flags.iter().any(|f| *f);
            let relevant =
                if held_out(*i) { 0 } else { all_chunks.iter().filter(|c| c.contains(&gold)).count().max(1) };
            let a = &response.answer;
            let shown = format!("{} {}", a.short.clone().unwrap_or_default(), a.text);
            // EM/F1 score the short answer, or else the best sentence (not the runners-up).
            let best = a.citations.first().map_or_else(String::new, |c| c.citation.quote.clone());
            let predicted = a.short.clone().unwrap_or(best);
            if let Some(w) = dump.as_mut() {
                use std::io::Write;
                let line = serde_json::json!({"article": i, "answerable": !held_out(*i), "question": qa_item.question, "golds": golds,
                    "gold_sentence": gold, "hit": hit, "answer": a.text, "short": a.short, "evidence": a.evidence,
                    "sources": hits.iter().map(|h| h.chunk.source.clone()).collect::<Vec<_>>(),
                    "candidates": qa.candidates(&qa_item.question, &hits).await?.iter().map(|c| {
                        let sentence = &hits[c.hit].chunk.text[c.range.clone()];
                        serde_json::json!({"hit": c.hit, "coverage": c.coverage, "chunk_coverage": c.chunk_coverage,
                            "bigrams": c.bigrams, "cosine": c.cosine, "prior": c.prior, "words": sentence.split_whitespace().count(),
                            "contains": squad::contains_answer(sentence, &golds) > 0.0})
                    }).collect::<Vec<_>>(),
                    "dense": hits.iter().map(|h| h.dense_score).collect::<Vec<_>>(),
                    "bm25": hits.iter().map(|h| h.keyword_score).collect::<Vec<_>>(),
                    "terms": crate::answer::evidence_terms(&qa_item.question),
                    "df": qa.term_stats(&qa_item.question).await?.map(|s| s.df)});
                writeln!(w, "{line}")?;
            }
            let (context_precision, context_recall, hit_flag) = rag::context_scores(&flags, relevant);
            let judged = JudgedAnswer {
                question: qa_item.question.clone(),
                claims: a
                    .citations
                    .iter()
                    .map(|c| {
                        let cites = hits.iter().position(|h| h.chunk.id == c.citation.chunk_id).into_iter().collect();
                        (c.citation.quote.clone(), cites)
                    })
                    .collect(),
                passages: hits.iter().map(|h| h.chunk.text.clone()).collect(),
            };
            let faithfulness = rag::faithfulness(&OverlapJudge::default(), &judged).await?;
            let embedder = qa.embedder();
            let answer_relevancy = if a.text.trim().is_empty() {
                None
            } else {
                let q = embedder.embed_query(&qa_item.question).await?;
                let v = embedder.embed(std::slice::from_ref(&a.text)).await?;
                v.first().and_then(|v| rag::relevancy(&q, v))
            };
            results.push(QuestionResult {
                id: qa_item.id.clone(),
                tokens_sent: hits.iter().map(|h| h.chunk.token_count).sum(),
                rag: rag::RagScores {
                    context_precision,
                    context_recall,
                    hit: hit_flag,
                    faithfulness,
                    answer_relevancy,
                },
                article: *i,
                answerable: !held_out(*i),
                hit,
                evidence: a.evidence.unwrap_or(0.0),
                contains: squad::contains_answer(&shown, &golds) > 0.0,
                em: squad::exact_match(&predicted, &golds),
                f1: squad::f1(&predicted, &golds),
                latency_ms,
            });
            bar.inc(1);
        }
        bar.finish_and_clear();
        let all: Vec<&QuestionResult> = results.iter().collect();
        let odd: Vec<&QuestionResult> = results.iter().filter(|r| calibration(r.article)).collect();
        let even: Vec<&QuestionResult> = results.iter().filter(|r| !calibration(r.article)).collect();
        let latencies: Vec<f64> = results.iter().map(|r| r.latency_ms).collect();
        let sweep = (0..=20).map(|i| 0.30 + 0.025 * i as f64).map(|t| score(&odd, t)).collect();
        Ok(EvalReport {
            articles_ingested: docs.len(),
            articles_held_out: data
                .data
                .iter()
                .enumerate()
                .filter(|(i, _)| held_out(*i))
                .map(|(_, a)| a.title.clone())
                .collect(),
            pdf_pages: docs.iter().map(|d| d.pages).sum(),
            chunks: docs.iter().map(|d| d.chunks).sum(),
            chunk_tokens_mean,
            chunks_ending_a_sentence,
            chunk_seconds,
            pipeline: format!("{:?}", self.pipeline).to_lowercase(),
            ingest_seconds,
            questions: results.len(),
            mode: format!("{:?}", qa.mode()).to_lowercase(),
            embedder: format!("{:?}", config.embedder).to_lowercase(),
            top_k: config.top_k,
            all: score(&all, threshold),
            calibration_split: score(&odd, threshold),
            test_split: score(&even, threshold),
            latency_ms_p50: percentile(&latencies, 50.0),
            latency_ms_p95: percentile(&latencies, 95.0),
            sweep,
            chunk_tokens: config.chunk_tokens,
            chunk_overlap: config.chunk_overlap,
            tokens_sent_mean: results.iter().map(|r| f64::from(r.tokens_sent)).sum::<f64>()
                / results.len().max(1) as f64,
            rag: report::rag_summary(&results, threshold),
            per_query: report::per_question(&results, threshold),
        })
    }

    fn bar(&self, len: u64, what: &'static str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("{msg:>9} [{bar:40}] {pos}/{len} ({eta})")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(what);
        bar
    }
}
