//! `genai-eval`: evaluation commands. See `genai-eval --help`.

use clap::{Parser, Subcommand, ValueEnum};
use genai_eval::retrieval::{RetrievalEval, RetrievalReport, default_workdir};
use genai_retrieval::{Fusion, SearchMode};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "genai-eval", version, about = "Evaluate the retrieval core (and milestones) on external datasets.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Index a BEIR dataset and score dense, BM25 or hybrid retrieval (nDCG@10, recall, MRR, MAP, latency).
    Retrieval(RetrievalArgs),
}

#[derive(clap::Args)]
struct RetrievalArgs {
    /// BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).
    #[arg(long)]
    beir: PathBuf,
    #[arg(long, default_value = "test")]
    split: String,
    /// dense, bm25 (keyword) or hybrid.
    #[arg(long, default_value = "hybrid")]
    mode: String,
    #[arg(long, value_enum, default_value_t = EmbedderArg::Hashing)]
    embedder: EmbedderArg,
    /// Folder with all-MiniLM-L6-v2 (default: $EMBED_MODEL_DIR, then models/all-MiniLM-L6-v2).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Threads for MiniLM inference.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Keeps the index and the vector cache between runs.
    #[arg(long)]
    workdir: Option<PathBuf>,
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Results per leg fed to fusion (hybrid).
    #[arg(long, default_value_t = 100)]
    candidates: usize,
    #[arg(long, default_value_t = Fusion::default().k)]
    rrf_k: f32,
    #[arg(long, default_value_t = 1.0)]
    dense_weight: f32,
    #[arg(long, default_value_t = 1.0)]
    keyword_weight: f32,
    /// Write the report as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Exit with status 2 when nDCG@k is below this (a CI gate).
    #[arg(long)]
    min_ndcg: Option<f64>,
    /// Keep documents whose id equals the query id (BEIR drops them by default).
    #[arg(long)]
    keep_identical_ids: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum EmbedderArg {
    Hashing,
    Minilm,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    genai_telemetry::init(genai_telemetry::LogFormat::from_env());
    match Cli::parse().command {
        Command::Retrieval(args) => retrieval(args).await,
    }
}

async fn retrieval(args: RetrievalArgs) -> anyhow::Result<()> {
    let spec = match args.embedder {
        EmbedderArg::Hashing => genai_embed::EmbedderSpec::default(),
        EmbedderArg::Minilm => genai_embed::EmbedderSpec::Minilm { dir: args.model_dir, threads: Some(args.threads) },
    };
    let eval = RetrievalEval {
        dataset: args.beir,
        split: args.split,
        mode: args.mode.parse::<SearchMode>()?,
        embedder: genai_embed::build(&spec)?,
        workdir: args.workdir.unwrap_or_else(default_workdir),
        k: args.k,
        candidates: args.candidates,
        fusion: Fusion { k: args.rrf_k, dense_weight: args.dense_weight, keyword_weight: args.keyword_weight },
        ignore_identical_ids: !args.keep_identical_ids,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let report = eval.run().await?;
    println!("{}\n{}", RetrievalReport::table_header(report.k), report.table_row());
    println!(
        "\n{} documents, {} queries; embedding {:.1} s, indexing {:.1} s, optimize {:.1} s",
        report.documents, report.queries, report.embed_seconds, report.index_seconds, report.optimize_seconds
    );
    if let Some(path) = args.out {
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    }
    if let Some(min) = args.min_ndcg {
        if report.at_k.ndcg < min {
            eprintln!("FAIL: nDCG@{} = {:.4} is below the gate {min}", report.k, report.at_k.ndcg);
            std::process::exit(2);
        }
        eprintln!("PASS: nDCG@{} = {:.4} >= {min}", report.k, report.at_k.ndcg);
    }
    Ok(())
}
