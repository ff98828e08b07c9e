//! The `production-rag` command line: `serve`, `ingest <dir>`, `query "..."`, `eval` (the
//! golden-set gate) and `load` (the load generator for the benchmark).

use crate::{Config, Rag, Upload};
use anyhow::Context;
use clap::{Parser, Subcommand};
use futures::StreamExt;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "production-rag",
    version,
    about = "A production RAG service: hybrid search with filters, reranking, exact and semantic caching, routing, streaming, traces.",
    long_about = "A production RAG service over your documents. Questions are answered with citations, or refused when the \
        documents do not say; every answer carries a trace of its stages (cache, retrieve, rerank, route, generate, check) \
        with timings and cost.\n\n\
        Offline by default: BM25 retrieval reranked by a learned model, an extractive answerer, an in-process cache. \
        Set OPENAI_BASE_URL (and OPENAI_API_KEY) for a model answer, PRODUCTION_RAG_CACHE=redis with REDIS_URL for a \
        shared cache, PRODUCTION_RAG_EMBEDDER=minilm with EMBED_MODEL_DIR for hybrid search.\n\n\
        Configuration: defaults < production-rag.toml (or --config) < PRODUCTION_RAG_* variables < flags."
)]
pub struct Cli {
    /// A TOML configuration file (default: production-rag.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Where the index, the registry and the evaluation log live (default data/production-rag).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the HTTP API, its OpenAPI description and the page.
    Serve {
        #[arg(long, env = "PRODUCTION_RAG_ADDR", default_value = "127.0.0.1:8084")]
        addr: String,
    },
    /// Index every file under a folder (PDF, Markdown, HTML, text), with a progress bar.
    Ingest {
        dir: PathBuf,
        /// Category recorded on every file (filterable).
        #[arg(long)]
        category: Option<String>,
        /// Date recorded on every file, YYYY-MM or YYYY-MM-DD (filterable by month).
        #[arg(long)]
        date: Option<String>,
    },
    /// Ask one question; prints the answer as it streams, then its citations and trace.
    Query {
        query: String,
        /// Filters as JSON, e.g. '{"category": ["policy"], "date": {"from": "2024-01"}}'.
        #[arg(long)]
        filters: Option<String>,
        /// Print the whole response as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// The golden-set gate: retrieval hit rate on SQuAD questions over their articles'
    /// paragraphs (see the crate README).
    Eval(crate::eval_cmd::EvalArgs),
    /// Build the load-test corpus from public datasets (by path), ingest it with a progress
    /// bar and report the rate; optionally write the questions for `scripts/load-rag.sh`.
    LoadCorpus(crate::bench::LoadCorpusArgs),
}

/// Files under `dir`, sorted, skipping hidden ones.
fn files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(d) = cli.data_dir {
        config.data_dir = d;
    }
    match cli.command {
        Command::Serve { addr } => {
            if genai_telemetry::otel::init_from_env("production-rag")? {
                tracing::info!("exporting traces over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)");
            }
            let rag = Rag::open(config).await?;
            let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
            tracing::info!("production-rag listening on http://{}/", listener.local_addr()?);
            crate::serve(listener, rag, genai_http::shutdown_signal()).await?;
            // The last batch of spans is sent before the process exits.
            tokio::task::spawn_blocking(genai_telemetry::otel::shutdown).await?;
        }
        Command::Ingest { dir, category, date } => {
            let rag = Rag::open(config).await?;
            let paths = files(&dir)?;
            let mut uploads = Vec::with_capacity(paths.len());
            for p in &paths {
                let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                let name = p.strip_prefix(&dir).unwrap_or(p).display().to_string();
                uploads.push(Upload { name, bytes, category: category.clone(), date: date.clone() });
            }
            let bar = indicatif::ProgressBar::new(uploads.len() as u64).with_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files  {elapsed} ({eta} left)  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let job = rag
                .ingest_now(uploads, |r| {
                    bar.set_message(r_file(r));
                    bar.inc(1);
                })
                .await;
            bar.finish_and_clear();
            for f in job.files.iter().filter(|f| matches!(f, crate::FileReport::Skipped { .. })) {
                println!("{}", serde_json::to_string(f)?);
            }
            println!(
                "{} files: {} indexed, {} skipped, {} already indexed ({:.1} s)",
                job.total,
                job.indexed,
                job.skipped,
                job.total - job.indexed - job.skipped,
                job.elapsed_ms as f64 / 1e3
            );
        }
        Command::Query { query, filters, json } => {
            let rag = Rag::open(config).await?;
            let filters = match filters {
                Some(f) => serde_json::from_str(&f).context("--filters is not a valid filter object")?,
                None => Default::default(),
            };
            let req = crate::QueryRequest { query, filters, ..Default::default() };
            let mut stream = rag.query(req).await?;
            let mut out = serde_json::Map::new();
            while let Some(e) = stream.next().await {
                match e {
                    crate::QueryEvent::Delta { text } if !json => {
                        print!("{text}");
                        std::io::Write::flush(&mut std::io::stdout())?;
                    }
                    crate::QueryEvent::Reset { reason } if !json => println!("\n[discarded: {reason}]"),
                    crate::QueryEvent::Answer(a) if json => {
                        out.insert("answer".into(), serde_json::to_value(a)?);
                    }
                    crate::QueryEvent::Answer(a) => {
                        println!("\n\nanswer ({}): {}", a.engine, a.text);
                        for c in &a.citations {
                            println!(
                                "  [{}] {} p.{}: {}",
                                c["number"],
                                c["source"].as_str().unwrap_or(""),
                                c["pages"],
                                c["quote"].as_str().unwrap_or("").chars().take(120).collect::<String>()
                            );
                        }
                        for f in &a.flagged {
                            println!("  note: {f}");
                        }
                    }
                    crate::QueryEvent::Summary(t) if json => {
                        out.insert("trace".into(), serde_json::to_value(t)?);
                    }
                    crate::QueryEvent::Summary(t) => {
                        println!("\ncache {}  total {:.1} ms", t.cache, t.total_ms);
                        for s in &t.stages {
                            println!("  {:<15} {:>8.2} ms  {}", s.name, s.ms, s.detail);
                        }
                    }
                    _ => {}
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
        }
        Command::Eval(args) => crate::eval_cmd::run(config, args).await?,
        Command::LoadCorpus(args) => crate::bench::run(config, args).await?,
    }
    Ok(())
}

fn r_file(r: &crate::FileReport) -> String {
    match r {
        crate::FileReport::Indexed { file, .. }
        | crate::FileReport::AlreadyIndexed { file, .. }
        | crate::FileReport::Skipped { file, .. } => file.clone(),
    }
}
