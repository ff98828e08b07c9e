//! `production-rag load-corpus`: builds the load-test corpus from public datasets given by path
//! (nothing is copied into the repository), ingests it with a progress bar, reports the ingest
//! rate, and writes the questions the load generator replays.
//!
//! Documents: BEIR SciFact abstracts, SQuAD dev paragraphs, HotpotQA context paragraphs (one per
//! title) and PAWS-Wiki sentences (the first of each pair): short Wikipedia sentences that bring
//! the corpus past 10,000 documents. Questions: SciFact queries, SQuAD and HotpotQA questions.

use crate::{Config, Rag, Upload};
use anyhow::Context;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct LoadCorpusArgs {
    /// BEIR SciFact folder (corpus.jsonl, queries.jsonl, qrels/).
    #[arg(long)]
    pub scifact: Option<PathBuf>,
    /// SQuAD v1.1 JSON.
    #[arg(long)]
    pub squad: Option<PathBuf>,
    /// HotpotQA JSON files (official format); repeat the flag for several.
    #[arg(long)]
    pub hotpot: Vec<PathBuf>,
    /// PAWS-Wiki dev.tsv.
    #[arg(long)]
    pub paws: Option<PathBuf>,
    /// Write the questions, one JSON string per line, here (for `scripts/load-rag.sh`).
    #[arg(long)]
    pub questions_out: Option<PathBuf>,
}

fn doc(name: String, text: String, category: &str) -> Upload {
    Upload { name, bytes: text.into_bytes(), category: Some(category.to_owned()), date: None }
}

/// The documents and questions of the load corpus.
pub fn build(args: &LoadCorpusArgs) -> anyhow::Result<(Vec<Upload>, Vec<String>)> {
    let (mut docs, mut questions) = (Vec::new(), Vec::new());
    if let Some(dir) = &args.scifact {
        let d = genai_eval::beir::load(dir, "test").with_context(|| format!("reading {}", dir.display()))?;
        docs.extend(d.corpus.iter().map(|c| doc(format!("scifact/{}.txt", c.id), c.passage(), "scifact")));
        questions.extend(d.queries.iter().map(|q| q.text.clone()));
    }
    if let Some(path) = &args.squad {
        let s = genai_eval::squad::load(path).with_context(|| format!("reading {}", path.display()))?;
        for (a, article) in s.data.iter().enumerate() {
            for (p, para) in article.paragraphs.iter().enumerate() {
                docs.push(doc(format!("squad/{a:02}/{p:03}.txt"), para.context.clone(), "squad"));
                questions.extend(para.qas.iter().map(|q| q.question.clone()));
            }
        }
    }
    let mut titles = BTreeSet::new();
    for path in &args.hotpot {
        let records = genai_eval::hotpot::read(path).with_context(|| format!("reading {}", path.display()))?;
        for r in records {
            questions.push(r.question.clone());
            for (title, sentences) in &r.context {
                if titles.insert(title.clone()) {
                    let name = format!("hotpot/{}.txt", title.replace('/', "_"));
                    docs.push(doc(name, genai_eval::hotpot::passage(title, sentences), "hotpot"));
                }
            }
        }
    }
    if let Some(path) = &args.paws {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            if let [id, s1, ..] = cols.as_slice() {
                docs.push(doc(format!("paws/{id}.txt"), (*s1).to_owned(), "paws"));
            }
        }
    }
    Ok((docs, questions))
}

pub async fn run(config: Config, args: LoadCorpusArgs) -> anyhow::Result<()> {
    let (uploads, questions) = build(&args)?;
    anyhow::ensure!(!uploads.is_empty(), "no documents: give --scifact, --squad, --hotpot or --paws");
    if let Some(out) = &args.questions_out {
        let mut f = std::io::BufWriter::new(std::fs::File::create(out)?);
        for q in &questions {
            writeln!(f, "{}", serde_json::to_string(q)?)?;
        }
        f.flush()?;
        println!("{} questions written to {}", questions.len(), out.display());
    }
    let rag = Rag::open(config).await?;
    let bytes: usize = uploads.iter().map(|u| u.bytes.len()).sum();
    let bar = indicatif::ProgressBar::new(uploads.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} documents  {per_sec}  {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let job = rag.ingest_now(uploads, |_| bar.inc(1)).await;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let chunks: usize = job
        .files
        .iter()
        .map(|f| match f {
            crate::FileReport::Indexed { chunks, .. } => *chunks,
            _ => 0,
        })
        .sum();
    println!(
        "{} documents ({:.1} MB): {} indexed as {chunks} chunks, {} already indexed, {} skipped, in {secs:.1} s ({:.0} documents/s)",
        job.total,
        bytes as f64 / 1e6,
        job.indexed,
        job.total - job.indexed - job.skipped,
        job.skipped,
        job.total as f64 / secs
    );
    Ok(())
}
