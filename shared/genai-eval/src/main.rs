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
    /// Copy an embedded index into a Qdrant server collection, then check counts and a sample of
    /// searches on both. Re-running resumes (writes are upserts by id).
    Migrate(MigrateArgs),
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// Folder of the embedded index to copy (it holds index.json).
    #[arg(long)]
    from: PathBuf,
    /// Qdrant gRPC URL(s), comma-separated for several nodes of one cluster.
    #[arg(long, env = "QDRANT_URL")]
    to: String,
    /// Target collection (created with the source's embedder and BM25 average length).
    #[arg(long, default_value = "chunks")]
    collection: String,
    /// API key for the server.
    #[arg(long, env = "QDRANT_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Shards and replication factor of a new collection (cluster only; server defaults otherwise).
    #[arg(long)]
    shards: Option<u32>,
    #[arg(long)]
    replication_factor: Option<u32>,
    /// Tiered tenancy (shared shard key plus dedicated shards for promoted tenants; cluster mode).
    #[arg(long)]
    tiered: bool,
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
        Command::Migrate(args) => migrate(args).await,
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

async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Index, ServerConfig, ServerIndex, ServerLayout, Tenancy};
    let source = EmbeddedIndex::open_existing(&args.from, EmbeddedConfig::default())
        .with_context(|| format!("opening the embedded index in {}", args.from.display()))?;
    let info = source.info().clone();
    let mut bm25 = genai_retrieval::Bm25Params::default();
    if let Some(avg) = source.bm25_avg_len()? {
        bm25.avg_len = avg;
    }
    let config = ServerConfig {
        urls: genai_retrieval::split_urls(&args.to),
        collection: args.collection.clone(),
        api_key: args.api_key.filter(|k| !k.is_empty()),
        bm25,
        layout: ServerLayout {
            shards: args.shards,
            replication_factor: args.replication_factor,
            tenancy: if args.tiered { Tenancy::Tiered } else { Tenancy::Payload },
            ..ServerLayout::default()
        },
        ..ServerConfig::default()
    };
    let target = ServerIndex::open(config, &info.model_id, info.dim)
        .await
        .with_context(|| format!("opening collection {} on {}", args.collection, args.to))?;
    let total = source.count(None).await?;
    let bar = indicatif::ProgressBar::new(total);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("copying [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")?
            .progress_chars("=> "),
    );
    let report = genai_retrieval::migrate(&source, &target, |n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    println!("{}", serde_json::to_string_pretty(&report)?);
    anyhow::ensure!(
        report.is_consistent(),
        "the copy does not match the source (counts {} → {}, self-hit {:.3})",
        report.source_count,
        report.target_count,
        report.dense_self_hit
    );
    eprintln!("migrated {} chunks in {:.1} s; counts match", report.copied, report.seconds);
    Ok(())
}
