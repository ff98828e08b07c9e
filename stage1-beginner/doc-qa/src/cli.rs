//! The `doc-qa` command line. `main.rs` only parses and calls [`run`].

use crate::config::{Config, EmbedderChoice, ModeChoice};
use crate::eval::EvalConfig;
use crate::{DocQa, FileReport};
use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "doc-qa",
    version,
    about = "Ask questions about a folder of documents; answers cite file and page, or say the documents don't answer.",
    long_about = "Ask questions about a folder of documents (PDF, Markdown, HTML, text).\n\n\
        Answers cite file, page and passage; when the documents do not answer, doc-qa says so. Offline by default \
        (an extractive answerer); set OPENAI_BASE_URL and OPENAI_API_KEY to have a model write the answers.\n\n\
        Configuration: defaults < doc-qa.toml (or --config) < DOC_QA_* environment variables < flags."
)]
pub struct Cli {
    /// Config file (TOML). Default: ./doc-qa.toml if present.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Where the index and document registry live [env: DOC_QA_DATA_DIR] (default data/doc-qa).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Embedder [env: DOC_QA_EMBEDDER] (default hashing). An index keeps the embedder it was built with.
    #[arg(long, global = true, value_enum)]
    embedder: Option<EmbedderChoice>,
    /// Search mode [env: DOC_QA_MODE] (default auto: hybrid with a semantic embedder, BM25 otherwise).
    #[arg(long, global = true, value_enum)]
    mode: Option<ModeChoice>,
    /// Passages per question [env: DOC_QA_TOP_K] (default 5).
    #[arg(long, global = true)]
    top_k: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Index files and folders (recursively); prints what happened to each file.
    Ingest {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Answer a question from the indexed documents.
    Ask {
        question: String,
        /// Print the full JSON response.
        #[arg(long)]
        json: bool,
    },
    /// List the indexed documents.
    Documents,
    /// Serve the web page and JSON API.
    Serve {
        #[arg(long, env = "DOC_QA_ADDR", default_value = "127.0.0.1:8081")]
        addr: String,
    },
    /// Evaluate on SQuAD: render articles to PDF, ingest, ask every question, report.
    /// Uses the MiniLM embedder unless --embedder or DOC_QA_EMBEDDER says otherwise.
    Eval {
        /// A SQuAD v1.1 JSON file.
        #[arg(long)]
        squad: PathBuf,
        /// Working folder for PDFs and the index (reused between runs).
        #[arg(long)]
        workdir: PathBuf,
        /// Every Nth article is not ingested; its questions must be refused (2: half of them,
        /// so answerable and unanswerable questions are about equally many).
        #[arg(long, default_value_t = 2)]
        holdout_every: usize,
        /// Also print the refusal-threshold sweep on the calibration split.
        #[arg(long)]
        sweep: bool,
        /// Ask at most this many questions per article (0 = all).
        #[arg(long, default_value_t = 0)]
        max_per_article: usize,
        /// Write the report as JSON here (with --chunk-sizes: a folder, one report per size).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write one JSON line per question here (question, gold, answer, evidence).
        #[arg(long)]
        dump: Option<PathBuf>,
        /// Ingestion pipeline: native, or langchain (built with `--features langchain`).
        #[arg(long, value_enum, default_value_t = crate::Pipeline::Native)]
        pipeline: crate::Pipeline,
        /// Run once per chunk size (tokens, comma-separated; overlap 10%) and print the sweep
        /// table: retrieval hit, containment, tokens sent per question, p95.
        #[arg(long, value_delimiter = ',')]
        chunk_sizes: Vec<usize>,
    },
}

impl Cli {
    fn config(&self) -> anyhow::Result<Config> {
        let mut c = Config::load(self.config.as_deref())?;
        if let Some(d) = &self.data_dir {
            c.data_dir = d.clone();
        }
        if let Some(e) = self.embedder {
            c.embedder = e;
        }
        if let Some(m) = self.mode {
            c.mode = m;
        }
        if let Some(k) = self.top_k {
            anyhow::ensure!((1..=50).contains(&k), "--top-k must be between 1 and 50");
            c.top_k = k;
        }
        Ok(c)
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = cli.config()?;
    // The evaluation measures the quality configuration (MiniLM) unless told otherwise.
    if matches!(cli.command, Command::Eval { .. })
        && cli.embedder.is_none()
        && std::env::var("DOC_QA_EMBEDDER").is_err()
    {
        config.embedder = EmbedderChoice::Minilm;
    }
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    match cli.command {
        Command::Ingest { paths } => {
            let qa = DocQa::open(config).await?;
            let files = genai_ingest::collect_files(&paths)?;
            let bar = if progress { ProgressBar::new(files.len() as u64) } else { ProgressBar::hidden() };
            bar.set_style(
                ProgressStyle::with_template("[{bar:40}] {pos}/{len} {msg}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            let mut loaded = Vec::new();
            let mut unreadable = Vec::new();
            for p in files {
                match std::fs::read(&p) {
                    Ok(bytes) => loaded.push((p.display().to_string(), bytes)),
                    Err(e) => unreadable.push(format!("{}: skipped: cannot read ({e})", p.display())),
                }
            }
            let reports = qa
                .ingest(loaded, |r| {
                    bar.set_message(r.file().to_owned());
                    bar.inc(1);
                })
                .await;
            bar.finish_and_clear();
            for r in &reports {
                println!("{}", describe(r));
            }
            for line in &unreadable {
                println!("{line}");
            }
            let indexed = reports.iter().filter(|r| matches!(r, FileReport::Indexed { .. })).count();
            println!(
                "\n{indexed} indexed, {} already indexed, {} skipped; {} documents in the library",
                reports.iter().filter(|r| matches!(r, FileReport::AlreadyIndexed { .. })).count(),
                reports.iter().filter(|r| matches!(r, FileReport::Skipped { .. })).count() + unreadable.len(),
                qa.documents().len()
            );
        }
        Command::Ask { question, json } => {
            let qa = DocQa::open(config).await?;
            let r = qa.ask(&question).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                if let Some(s) = &r.answer.short {
                    println!("Answer: {s}\n");
                }
                println!("{}\n", r.answer.text);
                for c in &r.answer.citations {
                    println!("[{}] {}, {} — \"{}\"", c.number, c.citation.source, c.citation.pages, c.citation.quote);
                }
                for f in &r.answer.flagged {
                    println!("note: {f}");
                }
                println!(
                    "\n({}, {:?} search; retrieval {:.0} ms, answer {:.0} ms)",
                    r.answer.engine, r.mode, r.retrieval_ms, r.answer_ms
                );
            }
        }
        Command::Documents => {
            let qa = DocQa::open(config).await?;
            for d in qa.documents() {
                println!("{}  {} ({}, {} pages, {} chunks)", d.doc_id.short(), d.source, d.kind, d.pages, d.chunks);
            }
        }
        Command::Serve { addr } => {
            let qa = DocQa::open(config).await?;
            let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
            tracing::info!("doc-qa listening on http://{}/", listener.local_addr()?);
            crate::serve(listener, qa, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        }
        Command::Eval { squad, workdir, holdout_every, sweep, max_per_article, out, dump, pipeline, chunk_sizes } => {
            if !chunk_sizes.is_empty() {
                let mut rows = Vec::new();
                for size in chunk_sizes {
                    anyhow::ensure!(size >= 32, "chunk sizes must be at least 32 tokens");
                    let mut config = config.clone();
                    (config.chunk_tokens, config.chunk_overlap) = (size, size / 10);
                    let eval = EvalConfig {
                        squad: squad.clone(),
                        workdir: workdir.clone(),
                        holdout_every,
                        config,
                        progress,
                        max_questions_per_article: max_per_article,
                        dump: None,
                        pipeline,
                    };
                    let report = eval.run().await?;
                    eprintln!("chunk size {size}: done");
                    if let Some(dir) = &out {
                        std::fs::create_dir_all(dir)?;
                        std::fs::write(dir.join(format!("chunk-{size}.json")), serde_json::to_vec_pretty(&report)?)?;
                    }
                    rows.push(report.chunk_row());
                }
                println!("{}\n{}", crate::eval::EvalReport::CHUNK_HEADER, rows.join("\n"));
                return Ok(());
            }
            let eval = EvalConfig {
                squad,
                workdir,
                holdout_every,
                config,
                progress,
                max_questions_per_article: max_per_article,
                dump,
                pipeline,
            };
            let report = eval.run().await?;
            println!("{}", report.to_markdown());
            if sweep {
                println!("refusal threshold sweep (calibration split):\n\n{}", report.sweep_markdown());
            }
            if let Some(path) = out {
                std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
            }
        }
    }
    Ok(())
}

fn describe(r: &FileReport) -> String {
    match r {
        FileReport::Indexed { file, pages, chunks, near_duplicates_dropped, .. } => {
            format!(
                "{file}: indexed ({pages} page(s), {chunks} chunk(s){})",
                if *near_duplicates_dropped > 0 {
                    format!(", {near_duplicates_dropped} near-duplicate chunk(s) dropped")
                } else {
                    String::new()
                }
            )
        }
        FileReport::AlreadyIndexed { file, indexed_as, .. } => format!("{file}: already indexed (as {indexed_as})"),
        FileReport::Skipped { file, reason, .. } => format!("{file}: skipped: {reason}"),
    }
}
