//! `production-rag eval`: the golden-set gate, run through the whole service.
//!
//! The golden set is built from SQuAD v1.1 dev (the path is an argument; nothing is copied):
//! every paragraph of the chosen articles becomes a document (category = its article), and the
//! questions about them are asked through [`Rag::query`], cache off. A question is a hit when
//! the paragraph it was written from is among the passages given to the answerer. Also reported:
//! the same with the question's article as a category filter (and a check that no passage from
//! outside the filter ever comes back), refusals, and whether the answer contains a gold answer.

use crate::{Config, Filters, QueryEvent, QueryRequest, Rag, Upload};
use futures::StreamExt;
use genai_eval::stats::{Interval, interval};
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// SQuAD v1.1 JSON (e.g. ../shared/data/squad-dev-even/squad-dev-even.json).
    #[arg(long)]
    pub squad: PathBuf,
    /// Ask every n-th question (default 5: about 1,080 of the 5,397 in squad-dev-even).
    #[arg(long, default_value_t = 5)]
    pub every: usize,
    /// Fail (exit 1) when the unfiltered hit rate is below this.
    #[arg(long)]
    pub min_hit: Option<f64>,
}

/// The gate's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct GoldenReport {
    pub documents: usize,
    pub questions: usize,
    pub top_k: usize,
    pub hit: Interval,
    pub hit_filtered: Interval,
    /// Passages returned from outside a query's category filter (must be 0).
    pub filter_violations: usize,
    pub refused: Interval,
    /// The answer text contains a gold answer (normalised), over answered questions.
    pub contains_answer: Interval,
    pub ingest_s: f64,
    pub query_p50_ms: f64,
    pub query_p95_ms: f64,
}

/// Builds the golden set from `squad`, ingests it into a fresh service at `config.data_dir`,
/// and asks every `every`-th question.
pub async fn golden(config: Config, squad: &std::path::Path, every: usize) -> anyhow::Result<GoldenReport> {
    let data = genai_eval::squad::load(squad)?;
    let rag = Rag::open(config).await?;
    let mut uploads = Vec::new();
    let mut questions = Vec::new();
    for (a, article) in data.data.iter().enumerate() {
        let category = format!("article-{a:02}");
        for (p, para) in article.paragraphs.iter().enumerate() {
            let doc = genai_core::DocId::from_content(para.context.as_bytes()).to_string();
            uploads.push(Upload {
                name: format!("{category}/paragraph-{p:03}.txt"),
                bytes: para.context.clone().into_bytes(),
                category: Some(category.clone()),
                date: None,
            });
            for qa in &para.qas {
                let golds: Vec<String> = qa.answers.iter().map(|g| g.text.clone()).collect();
                questions.push((qa.question.clone(), doc.clone(), category.clone(), golds));
            }
        }
    }
    let started = std::time::Instant::now();
    let job = rag.ingest_now(uploads, |_| {}).await;
    let ingest_s = started.elapsed().as_secs_f64();
    let questions: Vec<_> = questions.into_iter().step_by(every.max(1)).collect();
    let bar = indicatif::ProgressBar::new(questions.len() as u64 * 2);
    let (mut hit, mut hit_f, mut refused, mut contains, mut times) = (vec![], vec![], vec![], vec![], vec![]);
    let mut violations = 0;
    for (question, doc, category, golds) in &questions {
        for filtered in [false, true] {
            let filters = if filtered {
                Filters { category: Some(vec![category.clone()]), ..Filters::default() }
            } else {
                Filters::default()
            };
            let req = QueryRequest { query: question.clone(), filters, no_cache: true, ..Default::default() };
            let t = std::time::Instant::now();
            let mut stream = rag.query(req).await?;
            let (mut answer, mut trace) = (None, None);
            while let Some(e) = stream.next().await {
                match e {
                    QueryEvent::Answer(a) => answer = Some(a),
                    QueryEvent::Summary(t) => trace = Some(t),
                    _ => {}
                }
            }
            let (Some(answer), Some(trace)) = (answer, trace) else { anyhow::bail!("a query ended without an answer") };
            let found = trace.passages.iter().any(|p| p["doc_id"].as_str() == Some(doc.as_str()));
            if filtered {
                hit_f.push(Some(f64::from(u8::from(found))));
                let docs = rag.documents();
                violations += trace
                    .passages
                    .iter()
                    .filter(|p| {
                        let id = p["doc_id"].as_str().unwrap_or_default();
                        docs.iter().find(|d| d.doc_id.as_str() == id).and_then(|d| d.category.as_deref())
                            != Some(category.as_str())
                    })
                    .count();
            } else {
                times.push(t.elapsed().as_secs_f64() * 1e3);
                hit.push(Some(f64::from(u8::from(found))));
                refused.push(Some(f64::from(u8::from(answer.refused))));
                let text = genai_eval::squad::normalize_answer(&answer.text);
                contains.push((!answer.refused).then(|| {
                    f64::from(u8::from(golds.iter().any(|g| text.contains(&genai_eval::squad::normalize_answer(g)))))
                }));
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        times.get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1))).copied().unwrap_or(0.0)
    };
    Ok(GoldenReport {
        documents: job.indexed,
        questions: questions.len(),
        top_k: rag.config().top_k,
        hit: interval(&hit),
        hit_filtered: interval(&hit_f),
        filter_violations: violations,
        refused: interval(&refused),
        contains_answer: interval(&contains),
        ingest_s,
        query_p50_ms: pct(0.5),
        query_p95_ms: pct(0.95),
    })
}

pub async fn run(mut config: Config, args: EvalArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    config.data_dir = dir.path().to_path_buf();
    config.cache = crate::CacheBackend::Off;
    let r = golden(config, &args.squad, args.every).await?;
    println!("golden set: {} paragraphs as documents, {} questions, top {}", r.documents, r.questions, r.top_k);
    println!("  retrieval hit rate            {}", r.hit);
    println!(
        "  ... with the article filter    {}  (passages outside the filter: {})",
        r.hit_filtered, r.filter_violations
    );
    println!("  refused                       {}", r.refused);
    println!("  answer contains a gold answer {}  (answered questions)", r.contains_answer);
    println!(
        "  ingest {:.1} s; query p50 {:.1} ms, p95 {:.1} ms (in-process, one at a time)",
        r.ingest_s, r.query_p50_ms, r.query_p95_ms
    );
    if let Some(min) = args.min_hit {
        anyhow::ensure!(r.filter_violations == 0, "{} passages came from outside their filter", r.filter_violations);
        anyhow::ensure!(r.hit.mean >= min, "hit rate {:.4} is below the gate {min}", r.hit.mean);
        println!("gate passed: hit rate >= {min}, no filter violations");
    }
    Ok(())
}
