//! `chatbot eval locomo`: the chatbot's memory measured on LoCoMo's long conversations.
//!
//! Each conversation goes into a fresh chatbot (its own data folder) as one imported session:
//! every turn a user message written `[8 May 2023] Caroline: text`, a shared photo as its
//! caption. Then every question is asked in that session as an unrecorded turn
//! ([`Record::No`]): the real window, summary and recall assemble the context (the first
//! question moves everything that does not fit into the summary and the recall index), the
//! configured responder answers, and the question leaves no trace for the next one. The first
//! paragraph of the reply is scored with LoCoMo's official metric ([`genai_eval::locomo`]).

use crate::offline::dates;
use crate::{Chatbot, Config, Record};
use genai_eval::locomo::{self, Category, Conversation};
use genai_eval::stats::{Interval, interval};
use genai_llm::Message;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// One question's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Answered {
    pub conversation: String,
    pub category: Category,
    pub question: String,
    pub answer: Option<String>,
    pub reply: String,
    pub score: f64,
    pub context_tokens: u64,
    pub latency_ms: f64,
}

/// A category's mean score (× 100) with its 95% interval, beside the paper's gpt-3.5-turbo 16K.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub label: String,
    pub f1: Interval,
    pub gpt35_16k: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LocomoReport {
    pub engine: String,
    pub context_tokens: u64,
    pub conversations: usize,
    pub questions: usize,
    /// Per category, then categories 1–4 together, then all.
    pub rows: Vec<Row>,
    pub tokens_per_question: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub answered: Vec<Answered>,
}

/// The turns of `c` as the messages of one imported session.
pub fn history(c: &Conversation) -> Vec<Message> {
    let mut out = Vec::new();
    for s in &c.sessions {
        let day = dates::parse_day(&s.date_time).map_or_else(|| s.date_time.clone(), dates::day);
        for t in &s.turns {
            let photo = t.blip_caption.as_deref().map_or(String::new(), |c| format!(" [shared a photo: {c}]"));
            out.push(Message::user(format!("[{day}] {}: {}{photo}", t.speaker, t.text.trim())));
        }
    }
    out
}

/// What is scored: the reply's first paragraph (the offline responder puts its answer there and
/// its evidence after; a model's reply is scored the same way).
pub fn scored_part(reply: &str) -> &str {
    reply.trim().split("\n\n").next().unwrap_or_default()
}

/// Replays `conversations` through chatbots built from `config` (and `model`, when set) and
/// scores every question (at most `per_conversation` of each, in file order).
pub async fn locomo(
    config: &Config,
    model: Option<genai_llm::Resilient>,
    conversations: &[Conversation],
    per_conversation: Option<usize>,
) -> anyhow::Result<LocomoReport> {
    let total: usize =
        conversations.iter().map(|c| per_conversation.map_or(c.questions.len(), |n| n.min(c.questions.len()))).sum();
    let bar = indicatif::ProgressBar::new(total as u64).with_style(
        indicatif::ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} questions ({eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut answered = Vec::with_capacity(total);
    let mut engine = String::new();
    let mut context_tokens = 0;
    for c in conversations {
        bar.set_message(c.sample_id.clone());
        let dir = tempfile::tempdir()?;
        let mut cfg = config.clone();
        cfg.data_dir = dir.path().to_owned();
        let bot = Chatbot::open_with(cfg, model.clone()).await?;
        context_tokens = bot.config().memory.context_tokens;
        let id = bot.import_session(&history(c)).await?;
        for q in c.questions.iter().take(per_conversation.unwrap_or(usize::MAX)) {
            let started = Instant::now();
            let (reply, info) = bot.send_and_wait_with(&id, &q.question, Record::No).await?;
            let latency_ms = started.elapsed().as_secs_f64() * 1e3;
            engine = info.engine.clone();
            answered.push(Answered {
                conversation: c.sample_id.clone(),
                category: q.category,
                question: q.question.clone(),
                answer: q.answer.clone(),
                score: locomo::score(q, scored_part(&reply)),
                reply,
                context_tokens: info.context_tokens,
                latency_ms,
            });
            bar.inc(1);
        }
        bot.close().await;
    }
    bar.finish_and_clear();
    Ok(report(engine, context_tokens, conversations.len(), answered))
}

fn report(engine: String, context_tokens: u64, conversations: usize, answered: Vec<Answered>) -> LocomoReport {
    let scores = |keep: &dyn Fn(Category) -> bool| -> Vec<Option<f64>> {
        answered.iter().filter(|a| keep(a.category)).map(|a| Some(a.score * 100.0)).collect()
    };
    let mut rows: Vec<Row> = Category::ALL
        .iter()
        .map(|&cat| Row {
            label: cat.label().to_owned(),
            f1: interval(&scores(&|c| c == cat)),
            gpt35_16k: Some(cat.gpt35_16k()),
        })
        .collect();
    rows.push(Row {
        label: "categories 1-4".into(),
        f1: interval(&scores(&|c| c != Category::Adversarial)),
        gpt35_16k: None,
    });
    rows.push(Row { label: "all".into(), f1: interval(&scores(&|_| true)), gpt35_16k: Some(35.9) });
    let latencies: Vec<f64> = answered.iter().map(|a| a.latency_ms).collect();
    let n = answered.len().max(1) as f64;
    LocomoReport {
        engine,
        context_tokens,
        conversations,
        questions: answered.len(),
        rows,
        tokens_per_question: answered.iter().map(|a| a.context_tokens as f64).sum::<f64>() / n,
        latency_p50_ms: genai_eval::metrics::percentile(&latencies, 50.0),
        latency_p95_ms: genai_eval::metrics::percentile(&latencies, 95.0),
        answered,
    }
}

impl LocomoReport {
    /// The report as a Markdown table and a summary line.
    pub fn table(&self) -> String {
        let mut out = format!(
            "LoCoMo: {} conversations, {} questions, engine {}, context {} tokens\n\n\
             | category | n | F1 × 100 [95% CI] | gpt-3.5-turbo 16K (paper) |\n|---|---|---|---|\n",
            self.conversations, self.questions, self.engine, self.context_tokens
        );
        for r in &self.rows {
            let paper = r.gpt35_16k.map_or("—".to_owned(), |p| format!("{p:.1}"));
            out.push_str(&format!(
                "| {} | {} | {:.1} [{:.1}, {:.1}] | {paper} |\n",
                r.label, r.f1.n, r.f1.mean, r.f1.low, r.f1.high
            ));
        }
        out.push_str(&format!(
            "\nTokens sent per question: {:.0} on average. Turn latency: p50 {:.1} ms, p95 {:.1} ms.\n",
            self.tokens_per_question, self.latency_p50_ms, self.latency_p95_ms
        ));
        out
    }
}

/// Reads `path` and runs [`locomo`].
pub async fn locomo_file(
    config: &Config,
    model: Option<genai_llm::Resilient>,
    path: &Path,
    conversations: Option<usize>,
    per_conversation: Option<usize>,
) -> anyhow::Result<LocomoReport> {
    let mut data = locomo::load(path)?;
    if let Some(n) = conversations {
        data.truncate(n);
    }
    locomo(config, model, &data, per_conversation).await
}
